"""Output for a pipe or a file (``| tee run.log``, cron, CI): whole lines, no live bars.

On a terminal, rich wraps at the window width and redraws progress bars in
place. Written to a file, the same output would wrap at 80 columns, pad
``log`` lines with spaces to that width and leave the bars' last frame
behind. :class:`PlainConsole` and :class:`LineProgress` keep every message on
one line instead, so a log can be read and grepped line by line.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import Progress, TaskID

#: Columns a table may take on a pipe: as wide as it needs, never wrapped at 80.
PIPE_WIDTH = 1000
#: A progress line each time another quarter of a task is done.
LINE_FRACTION = 0.25


class PlainConsole(Console):
    """A rich console that writes whole lines when its output is not a terminal.

    On a terminal it is rich's own console. Otherwise text is never wrapped
    (``soft_wrap``), tables take the width they need, and :meth:`log` writes
    ``[HH:MM:SS] message`` without padding it to the console width.
    """

    def __init__(self, *, stderr: bool = False) -> None:
        super().__init__(stderr=stderr, log_path=False)
        if not self.is_terminal:
            self.soft_wrap = True
            self.width = PIPE_WIDTH

    def log(self, *objects: Any, **kwargs: Any) -> None:
        """Rich's timed log line on a terminal; elsewhere the same, unpadded, on one line."""
        if self.is_terminal:
            super().log(*objects, **kwargs)
            return
        self.print(time.strftime("[%H:%M:%S]"), *objects, soft_wrap=True)


class LineProgress(Progress):
    """A progress display that prints lines instead of redrawing a bar.

    A line when a task starts a new stage (its description changes), then one
    per :data:`LINE_FRACTION` of its total and one when it completes:
    ``running the network 1/4 (25%), 3.2 s``.
    """

    def __init__(self, console: Console) -> None:
        super().__init__(console=console, disable=True)
        self._printed: dict[TaskID, tuple[str, int]] = {}

    def update(
        self,
        task_id: TaskID,
        *,
        total: float | None = None,
        completed: float | None = None,
        advance: float | None = None,
        description: str | None = None,
        visible: bool | None = None,
        refresh: bool = False,
        **fields: Any,
    ) -> None:
        """Update the task as rich does, and print a line if it reached a new mark."""
        super().update(
            task_id,
            total=total,
            completed=completed,
            advance=advance,
            description=description,
            visible=visible,
            refresh=refresh,
            **fields,
        )
        self._report(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        """Advance the task as rich does, and print a line if it reached a new mark."""
        super().advance(task_id, advance)
        self._report(task_id)

    def _report(self, task_id: TaskID) -> None:
        task = self._tasks[task_id]
        total = task.total or 0.0
        mark = int(task.completed / total / LINE_FRACTION) if total else -1
        if self._printed.get(task_id) == (task.description, mark):
            return
        self._printed[task_id] = (task.description, mark)
        count = (
            f" {task.completed:g}/{total:g} ({100 * task.completed / total:.0f}%)" if total else ""
        )
        self.console.print(
            f"{task.description}{count}, {task.elapsed or 0.0:.1f} s",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
