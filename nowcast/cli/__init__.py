"""The ``nowcast`` command line: the only package that imports typer and rich.

Each command lives in its own module and calls one library function.
"""

from __future__ import annotations

from typing import Annotated

import typer

from nowcast import __version__
from nowcast.cli import _console

app = typer.Typer(
    name="nowcast",
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


def _register() -> None:
    from nowcast.cli import calibrate, evaluate, forecast, info, ingest, train

    app.command("ingest", epilog=ingest.EPILOG)(ingest.ingest_command)
    app.command("info")(info.info_command)
    app.command("train", epilog=train.EPILOG)(train.command)
    app.command("forecast", epilog=forecast.EPILOG)(forecast.command)
    app.command("evaluate", epilog=evaluate.EPILOG)(evaluate.command)
    app.command("calibrate", epilog=calibrate.EPILOG)(calibrate.command)


_register()


def main() -> None:
    """Console-script entry point."""
    app()
