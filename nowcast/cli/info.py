"""``nowcast info``: the ingest summary for an existing canonical file (or the bundled sample)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nowcast.cli import _console
from nowcast.cli._summary import summary_table
from nowcast.io.ingest.summary import summarize
from nowcast.synthetic.sample import sample_path


@_console.handle_errors
def info_command(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="A canonical NetCDF file from `nowcast ingest` (default: the bundled sample)."
        ),
    ] = None,
) -> None:
    """Print frames, span, step, gaps, grid, projection and rain statistics of a canonical file.

    Without PATH: the bundled sample, a synthetic radar sequence shipped with the
    package, and where it is (forecast from it, or score on it).

    Example: nowcast info radar.nc
    """
    if path is None:
        path = sample_path()
        _console.err.print(f"the bundled sample: {path}", highlight=False, markup=False)
    _console.out.print(summary_table(summarize(path)))
