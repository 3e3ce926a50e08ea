"""``nowcast info``: the ingest summary for an existing canonical file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nowcast.cli import _console
from nowcast.cli._summary import summary_table
from nowcast.io.ingest.summary import summarize


@_console.handle_errors
def info_command(
    path: Annotated[
        Path, typer.Argument(help="A canonical NetCDF file written by `nowcast ingest`.")
    ],
) -> None:
    """Print frames, span, step, gaps, grid, projection and rain statistics of a canonical file.

    Example: nowcast info sample_data/synthetic.nc
    """
    _console.out.print(summary_table(summarize(path)))
