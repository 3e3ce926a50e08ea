"""``nowcast calibrate``: fit how much of the network's change a model's forecasts keep."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from nowcast.cli import _console
from nowcast.cli._options import Device, ModelSpec, Overwrite, ScaleKm

if TYPE_CHECKING:
    from nowcast.forecasting.calibrate import Calibration

EPILOG = """Examples:

  nowcast calibrate sample_data/synthetic.nc --model default -o calibrated.pt

  nowcast calibrate my-radar.nc --model default -o my-radar.pt --max-starts 40   (your archive)
"""


@_console.handle_errors
def command(
    data: Annotated[
        list[Path],
        typer.Argument(
            help="Canonical files (`nowcast ingest`) to fit on; each counts equally.",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="The calibrated checkpoint to write.", dir_okay=False),
    ],
    model: ModelSpec = None,
    max_starts: Annotated[
        int,
        typer.Option(help="Start times per file, evenly spread (0 = all).", min=0),
    ] = 12,
    scale_km: ScaleKm = None,
    device: Device = "auto",
    overwrite: Overwrite = False,
) -> None:
    """Fit a model's per-lead blend weights on observed sequences and write a calibrated copy.

    A residual model forecasts the last frame carried along the motion plus the
    network's change to it (and, on a working grid, the advected sub-block
    detail). Calibration finds, per lead time, how much of the change and of
    the detail minimises the MSE on DATA, and stores the weights in a copy of
    the checkpoint that `nowcast forecast` and `nowcast evaluate` then use.
    The network itself is not changed. Calibrate on radars other than the one
    you evaluate on, or on an earlier period of it.
    """
    from nowcast.forecasting.calibrate import calibrate_files

    with _console.progress(transient=True) as bar:
        task = bar.add_task("calibrating", total=None)
        result = calibrate_files(
            data,
            output,
            model=model,
            device=device,
            max_starts=max_starts,
            scale_km=scale_km,
            overwrite=overwrite,
            on_start=lambda done, total: bar.update(task, completed=done, total=total),
        )
    _console.err.print(weights_table(result))
    _console.out.print(
        f"wrote {output}: blend weights for {len(result.weights.gain)} leads fitted on "
        f"{sum(result.starts)} start times of {len(data)} file(s)"
    )


def weights_table(result: Calibration) -> Table:
    """Lead x (gain, detail weight, MSE of the network alone, MSE calibrated)."""
    table = Table(title="Blend weights per lead (MSE on the calibration data)")
    for column in ("lead", "gain", "detail", "MSE network", "MSE calibrated"):
        table.add_column(column, justify="right")
    gain, detail = result.weights.at(len(result.weights.gain))
    for k in range(gain.size):
        table.add_row(
            str(k + 1),
            f"{gain[k]:.2f}",
            f"{detail[k]:.2f}",
            f"{result.mse_network[k]:.3f}",
            f"{result.mse_calibrated[k]:.3f}",
        )
    return table
