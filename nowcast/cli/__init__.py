"""The ``nowcast`` command line: the only package that imports typer and rich.

Each command lives in its own module and calls one library function.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, NoReturn

import typer

from nowcast import __version__
from nowcast.cli import _console
from nowcast.cli._help import Command, Group, help_text
from nowcast.errors import ConfigError

_app = typer.Typer(
    name="nowcast",
    cls=Group,
    help="Precipitation nowcasting with a ConvLSTM encoder-forecaster: "
    "ingest radar data, train, forecast and evaluate.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        _console.out.print(f"nowcast {__version__}")
        raise typer.Exit()


@_app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show full tracebacks for errors (also NOWCAST_DEBUG=1)."),
    ] = False,
) -> None:
    """Precipitation nowcasting: ingest -> train -> forecast -> evaluate."""
    _console.set_debug(debug)
    from nowcast.cli._threads import apply_threads

    try:
        apply_threads()
    except ConfigError as exc:
        raise _console.fail(str(exc)) from None


#: Command name -> (module of nowcast.cli, function, epilog attribute or None).
COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "ingest": ("ingest", "ingest_command", "EPILOG"),
    "info": ("info", "info_command", None),
    "train": ("train", "command", "EPILOG"),
    "forecast": ("forecast", "command", "EPILOG"),
    "evaluate": ("evaluate", "command", "EPILOG"),
    "calibrate": ("calibrate", "command", "EPILOG"),
}
_registered: set[str] = set()


def _register(names: Iterable[str] = COMMANDS) -> typer.Typer:
    """Add ``names`` to the app (importing only their modules) and return it.

    ``nowcast forecast ...`` needs only the forecast command: the other
    commands' modules (ingest pipeline, evaluation tables...) are not
    imported, which keeps start-up short.
    """
    for name in names:
        if name in _registered:
            continue
        module_name, function_name, epilog_name = COMMANDS[name]
        module = importlib.import_module(f"nowcast.cli.{module_name}")
        function = getattr(module, function_name)
        epilog = getattr(module, epilog_name) if epilog_name else None
        _app.command(name, cls=Command, help=help_text(function), epilog=epilog)(function)
        _registered.add(name)
    return _app


def _requested(argv: Sequence[str]) -> list[str]:
    """The command named on the command line, or every command (help, no or unknown command)."""
    words = [word for word in argv if not word.startswith("-")]
    return [words[0]] if words and words[0] in COMMANDS else list(COMMANDS)


def __getattr__(name: str) -> Any:
    """``nowcast.cli.app`` for callers other than :func:`main` (tests, docs): every command."""
    if name == "app":
        return _register()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point: SIGTERM handled like Ctrl-C, then the app."""
    _console.install_signal_handlers()
    try:
        code = _register(_requested(sys.argv[1:]))(standalone_mode=False)
    except Exception as error:
        if not _is_usage_error(error):
            raise
        exc: Any = error  # a ClickException of typer's click or of click itself
        # One line, as for every other error: click's boxed usage message is 4-6 lines.
        message = exc.format_message().strip()
        if message:  # empty when the help was shown instead (no arguments at all)
            _console.fail(f"{message} (see '{_command_path(exc)} --help')")
        raise SystemExit(exc.exit_code) from None
    _leave(code if isinstance(code, int) else 0)


def _leave(code: int) -> NoReturn:
    """End the process with ``code`` without tearing the interpreter down, when that is safe.

    Finalizing a process that imported torch frees its thousands of module
    objects one by one: 0.15-0.2 s on a 2-core CPU, a tenth of a forecast of
    a 765 x 700 grid, spent after the work is done. Every file a command
    writes is closed (and renamed into place) before it returns; the exit
    handlers still run (logging, h5py, coverage...) and the output is
    flushed. With another thread still alive (it might still be writing)
    the interpreter ends normally.
    """
    if threading.active_count() > 1:
        raise SystemExit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more to say
            pass
    os._exit(code)


def _is_usage_error(exc: Exception) -> bool:
    """A bad option or argument: click's ClickException (typer may ship its own copy of click)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return "ClickException" in names and hasattr(exc, "format_message")


def _command_path(exc: Any) -> str:
    """``nowcast train`` for an error in ``train``'s options, ``nowcast`` otherwise."""
    context = getattr(exc, "ctx", None)
    return str(getattr(context, "command_path", "") or "nowcast")
