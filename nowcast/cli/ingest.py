"""``nowcast ingest``: raw radar / Moving MNIST files -> one canonical NetCDF file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nowcast.cli import _console
from nowcast.cli._options import Overwrite
from nowcast.cli._summary import summary_table
from nowcast.errors import ConfigError
from nowcast.io.ingest.pipeline import ingest
from nowcast.io.plausible import DEFAULT_MAX_RATE, check_max_rate
from nowcast.io.readers.registry import READERS, ReaderOptions

EPILOG = """Examples:

  nowcast ingest sample_data/odim --output synthetic.nc      (the bundled ODIM_H5 sample)

  nowcast ingest 'radar/*.h5' --format odim -o radar.nc --overwrite      (your own files)

  nowcast ingest t10k-images-idx3-ubyte.gz --format mnist-idx --sequences 2000 -o mnist.nc
"""


def _max_rate(value: float) -> float:
    """``--max-rate`` checked as a usage error (exit 2): finite and > 0."""
    try:
        return check_max_rate(value)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None


@_console.handle_errors
def ingest_command(
    sources: Annotated[
        list[str],
        typer.Argument(help="Input files, directories (searched recursively) or quoted globs."),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Canonical NetCDF file to write.", dir_okay=False)
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help=f"Input format: auto (detect by content) or one of {', '.join(READERS)}.",
        ),
    ] = "auto",
    overwrite: Overwrite = False,
    skip_bad: Annotated[
        bool, typer.Option(help="Skip unreadable files (listed in the report) instead of failing.")
    ] = False,
    zr_a: Annotated[
        float, typer.Option(help="Z-R relation Z = a R^b: a (reflectivity input).")
    ] = 200.0,
    zr_b: Annotated[
        float, typer.Option(help="Z-R relation Z = a R^b: b (reflectivity input).")
    ] = 1.6,
    sequences: Annotated[
        int, typer.Option(help="Moving MNIST sequences to generate from IDX digits.", min=1)
    ] = 1000,
    frames: Annotated[
        int, typer.Option(help="Frames per generated Moving MNIST sequence.", min=2)
    ] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the Moving MNIST generator.")] = 0,
    timestep: Annotated[
        int, typer.Option(help="Synthetic time step given to Moving MNIST frames, seconds.", min=1)
    ] = 300,
    max_rate: Annotated[
        float,
        typer.Option(
            help="Largest plausible rain rate, mm/h: larger or infinite values become no data "
            "(counted); a frame made mostly of them is refused.",
            callback=_max_rate,
        ),
    ] = DEFAULT_MAX_RATE,
) -> None:
    """Read radar composites or Moving MNIST into one canonical CF NetCDF dataset.

    Formats: ODIM_H5, KNMI HDF5, CF NetCDF, Moving MNIST (.npy or IDX digits).
    The output holds rainfall_rate(time, y, x) in mm/h (intensity for MNIST).
    """
    options = ReaderOptions(
        zr_a=zr_a,
        zr_b=zr_b,
        sequences=sequences,
        frames=frames,
        seed=seed,
        timestep_s=timestep,
        max_rate=max_rate,
    )
    with _console.progress() as bar:
        task = bar.add_task("reading", total=None)
        summary = ingest(
            sources,
            output,
            fmt=fmt.lower(),
            options=options,
            overwrite=overwrite,
            skip_bad=skip_bad,
            history=_console.command_line(),
            on_start=lambda n: bar.update(task, total=n),
            on_file=lambda path: bar.advance(task),
        )
    _console.out.print(summary_table(summary))
    _console.err.print(f"wrote {summary.path} ({summary.stats.frames} frames)")
