"""Consoles, progress bars and the error policy shared by every command.

Results go to stdout, progress and messages to stderr. Expected failures
(:class:`~nowcast.errors.NowcastError`) become one line on stderr and exit
code 1; ``--debug`` (or ``NOWCAST_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nowcast.errors import NowcastError

out = Console()
err = Console(stderr=True, log_path=False)
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
    """Turn NowcastError into one line + exit 1, Ctrl-C into exit 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NowcastError as exc:
            if _state["debug"]:
                raise
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper  # type: ignore[return-value]


def progress(*extra: ProgressColumn, transient: bool = False) -> Progress:
    """A rich progress bar on stderr with count, elapsed and remaining time (+ ``extra``)."""
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


def command_line(args: list[str] | None = None) -> str:
    """The command as typed, for ``history`` attributes."""
    import shlex
    import sys
    from datetime import datetime, timezone

    words = args if args is not None else ["nowcast", *sys.argv[1:]]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp}: {shlex.join(words)}"
