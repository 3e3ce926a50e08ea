"""``nowcast calibrate``: fit how much of the network's change a model's forecasts keep."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nowcast.cli import _console
from nowcast.cli._options import ModelSpec, ScaleKm

EPILOG = """Examples:

  nowcast calibrate bom.nc rmi.nc --model runs/loro -o loro-calibrated.pt

  nowcast calibrate archive.nc --model default -o default-on-my-radar.pt --max-starts 40
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
    device: Annotated[
        str, typer.Option(help="auto, cpu or cuda.", envvar="NOWCAST_DEVICE")
    ] = "auto",
    overwrite: Annotated[bool, typer.Option(help="Replace OUTPUT if it exists.")] = False,
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
    from nowcast.forecasting.calibrate import calibrate, write_calibrated
    from nowcast.forecasting.inputs import load_observations
    from nowcast.forecasting.model_choice import load_model, resolve_model
    from nowcast.io.writers.atomic import check_output
    from nowcast.training.runtime import select_device

    check_output(output, overwrite)
    sources = [load_observations([str(path)]) for path in data]
    torch_device = select_device(device)
    loaded = load_model(resolve_model(model), torch_device)
    with _console.progress(transient=True) as bar:
        task = bar.add_task("calibrating", total=None)
        result = calibrate(
            loaded,
            sources,
            device=torch_device,
            max_starts=max_starts,
            scale_km=scale_km,
            on_start=lambda done, total: bar.update(task, completed=done, total=total),
        )
    write_calibrated(loaded.path, output, result, [str(path) for path in data])
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
    _console.err.print(table)
    _console.out.print(
        f"wrote {output}: blend weights for {gain.size} leads fitted on "
        f"{sum(result.starts)} start times of {len(data)} file(s)"
    )


command.__doc__ = (command.__doc__ or "") + "\n\n" + EPILOG
