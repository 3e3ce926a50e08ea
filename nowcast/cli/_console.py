"""Consoles, progress bars and the error policy shared by every command.

Results go to stdout, progress bars and messages to stderr; on a pipe or a file
both write whole lines, and progress becomes lines on stdout
(:mod:`nowcast.cli._plain`), so that stderr holds only messages and errors.
Expected failures (:class:`~nowcast.errors.NowcastError`) become one line on
stderr and exit code 1; ``--debug`` (or ``NOWCAST_DEBUG=1``) shows the
traceback instead.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nowcast.cli._plain import LineProgress, PlainConsole
from nowcast.errors import NowcastError, Terminated

out = PlainConsole()
err = PlainConsole(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

_state = {"debug": os.environ.get("NOWCAST_DEBUG", "") not in ("", "0")}


def set_debug(enabled: bool) -> None:
    """Show tracebacks for expected errors too."""
    _state["debug"] = _state["debug"] or enabled


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn NowcastError into one line + exit 1, Ctrl-C into exit 130 and SIGTERM into 143."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NowcastError as exc:
            if _state["debug"]:
                raise
            raise fail(str(exc)) from None
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as errors.Terminated
            raise _stopped(exc) from None

    return wrapper  # type: ignore[return-value]


def _stopped(exc: KeyboardInterrupt) -> typer.Exit:
    """``error: interrupted`` (exit 130) or ``error: terminated`` (143), plus the command's detail.

    128 + the signal number, as a shell reports a process the signal ended.
    """
    word, code = ("terminated", 143) if isinstance(exc, Terminated) else ("interrupted", 130)
    detail = str(exc)
    return fail(f"{word}; {detail}" if detail else word, code)


def install_signal_handlers() -> None:
    """Make SIGTERM unwind like Ctrl-C, and a write beyond ``ulimit -f`` an error.

    By default SIGTERM ends the process on the spot and leaves temporary
    files behind; raised as :class:`~nowcast.errors.Terminated` it runs every
    clean-up on its way out. SIGXFSZ (a file outgrowing ``ulimit -f``) would
    kill the process the same way; ignored, the write fails with EFBIG
    instead, which the writers report as one line.
    """
    signal.signal(signal.SIGTERM, _terminate)
    sys.unraisablehook = functools.partial(_unraisable, sys.unraisablehook)
    if hasattr(signal, "SIGXFSZ"):  # not on Windows
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _terminate(signum: int, frame: FrameType | None) -> None:
    """The SIGTERM handler: unwind once; a second SIGTERM does not cut the clean-up short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


def _unraisable(previous: Callable[[Any], Any], unraisable: Any) -> None:
    """Send a SIGTERM again that landed in a finalizer, where Python drops exceptions.

    A signal's handler runs wherever the main thread is, also in an object's
    ``__del__`` or a weakref callback; Python prints an exception raised
    there and goes on, and the command would then run to its end (SIGTERM
    being ignored from the first one on). So the signal is sent again a
    moment later, to be raised outside the finalizer. Other exceptions go to
    ``previous``.
    """
    if not isinstance(unraisable.exc_value, Terminated):
        previous(unraisable)
        return
    signal.signal(signal.SIGTERM, _terminate)
    again = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM))
    again.daemon = True
    again.start()


def progress(*extra: ProgressColumn, transient: bool = False) -> Progress:
    """A rich progress bar on stderr with count, elapsed and remaining time (+ ``extra``).

    When stderr is not a terminal, a :class:`~nowcast.cli._plain.LineProgress`
    instead: the same calls print plain lines, never a bar, on stdout, so that a
    command run from cron or a script logs what it did on stdout while its stderr
    holds only what went wrong (an error is then one line, whatever ran before it).
    """
    if not err.is_terminal:
        return LineProgress(out)
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=transient,
    )


def stages(bar: Progress) -> Callable[[str, int, int], None]:
    """An ``on_progress(stage, done, total)`` callback: each stage a task of its own on ``bar``.

    A new stage replaces the previous one, so the bar (or the line) names what
    runs now, with its own count and elapsed time; ``total`` 0 means a stage
    without countable steps.
    """
    current: dict[str, TaskID] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in current:
            for task in current.values():
                bar.remove_task(task)
            current.clear()
            current[stage] = bar.add_task(stage, total=total or None)
        bar.update(current[stage], completed=done)

    return report


def command_line(args: list[str] | None = None) -> str:
    """The command as typed, for ``history`` attributes."""
    import shlex
    import sys
    from datetime import datetime, timezone

    words = args if args is not None else ["nowcast", *sys.argv[1:]]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp}: {shlex.join(words)}"
