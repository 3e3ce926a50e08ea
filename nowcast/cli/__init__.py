"""The ``nowcast`` command line: the only package that imports typer and rich.

Each command lives in its own module and calls one library function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from nowcast import __version__
from nowcast.cli import _console
from nowcast.cli._help import Command, Group, help_text
from nowcast.errors import ConfigError

app = typer.Typer(
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


@app.callback()
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


def _register() -> None:
    from nowcast.cli import calibrate, evaluate, forecast, info, ingest, train

    commands: dict[str, tuple[Callable[..., Any], str | None]] = {
        "ingest": (ingest.ingest_command, ingest.EPILOG),
        "info": (info.info_command, None),
        "train": (train.command, train.EPILOG),
        "forecast": (forecast.command, forecast.EPILOG),
        "evaluate": (evaluate.command, evaluate.EPILOG),
        "calibrate": (calibrate.command, calibrate.EPILOG),
    }
    for name, (function, epilog) in commands.items():
        app.command(name, cls=Command, help=help_text(function), epilog=epilog)(function)


_register()


def main() -> None:
    """Console-script entry point: SIGTERM handled like Ctrl-C, then the app."""
    _console.install_signal_handlers()
    try:
        code = app(standalone_mode=False)
    except Exception as error:
        if not _is_usage_error(error):
            raise
        exc: Any = error  # a ClickException of typer's click or of click itself
        # One line, as for every other error: click's boxed usage message is 4-6 lines.
        message = exc.format_message().strip()
        if message:  # empty when the help was shown instead (no arguments at all)
            _console.fail(f"{message} (see '{_command_path(exc)} --help')")
        raise SystemExit(exc.exit_code) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _is_usage_error(exc: Exception) -> bool:
    """A bad option or argument: click's ClickException (typer may ship its own copy of click)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return "ClickException" in names and hasattr(exc, "format_message")


def _command_path(exc: Any) -> str:
    """``nowcast train`` for an error in ``train``'s options, ``nowcast`` otherwise."""
    context = getattr(exc, "ctx", None)
    return str(getattr(context, "command_path", "") or "nowcast")
