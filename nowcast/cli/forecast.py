"""``nowcast forecast``: the latest radar frames -> a CF NetCDF forecast on the same grid."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nowcast.cli import _console
from nowcast.cli._options import Frame, ModelSpec, ScaleKm
from nowcast.io.grid import parse_utc

EPILOG = """Examples:

  nowcast forecast radar.nc --steps 12

  nowcast forecast 'latest/*.h5' --steps 12 --model runs/latest --output fc.nc --plot

  nowcast forecast radar.nc --at 2021-07-04T18:00 --model default --pack
"""


@_console.handle_errors
def command(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="A canonical file from `nowcast ingest`, or raw radar files/dirs/globs."
        ),
    ],
    steps: Annotated[
        int, typer.Option("--steps", "-n", help="Lead times to forecast.", min=1)
    ] = 12,
    model: ModelSpec = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Forecast file (default: forecast_<time>.nc).", dir_okay=False
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            help="Start from the last frame at or before this UTC time (default: the last frame)."
        ),
    ] = None,
    device: Annotated[
        str, typer.Option(help="auto, cpu or cuda.", envvar="NOWCAST_DEVICE")
    ] = "auto",
    fmt: Annotated[
        str, typer.Option("--format", help="Raw input format (auto = detect).")
    ] = "auto",
    pack: Annotated[
        bool, typer.Option(help="Store int16 with scale 0.01 (about half the size).")
    ] = False,
    plot: Annotated[
        bool, typer.Option(help="Also write a PNG of the last observation and the forecast.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            help="Fail, instead of warning, when the data cadence differs from the model's."
        ),
    ] = False,
    tile: Annotated[
        int, typer.Option(help="Tile side in pixels for large grids (bounds memory).", min=64)
    ] = 768,
    scale_km: ScaleKm = None,
    frame: Frame = None,
    overwrite: Annotated[bool, typer.Option(help="Replace OUTPUT if it exists.")] = False,
) -> None:
    """Forecast the next STEPS frames from the latest observations.

    The forecast is written as CF-1.11 NetCDF on the input's own grid and projection.
    """
    from nowcast.forecasting.inputs import load_observations
    from nowcast.forecasting.model_choice import load_model, resolve_model
    from nowcast.forecasting.run import check_cadence, run_forecast
    from nowcast.training.runtime import select_device

    start = None if at is None else parse_utc(at, "--at")
    obs = load_observations(inputs, fmt.lower())
    torch_device = select_device(device)
    loaded = load_model(resolve_model(model), torch_device, frame)
    warning = check_cadence(obs, loaded, strict)
    if warning:
        _console.err.print(f"[yellow]warning:[/] {warning}")
    if output is None:
        from nowcast.forecasting.inputs import select_inputs

        ref = obs.times[select_inputs(obs, loaded.in_len, obs.timestep_s, start)[-1]]
        output = Path(f"forecast_{str(ref).replace('-', '').replace(':', '')[:13]}Z.nc")
    with _console.progress(transient=True) as bar:
        task = bar.add_task("forecasting", total=None)
        summary = run_forecast(
            obs,
            loaded,
            steps,
            output,
            at=start,
            device=torch_device,
            overwrite=overwrite,
            pack=pack,
            history=_console.command_line(),
            tile=tile,
            scale_km=scale_km,
            on_tile=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if plot:
        from nowcast.forecasting.plot import plot_forecast

        png = plot_forecast(summary.path, obs)
        _console.err.print(f"plot: {png}")
    ny, nx = summary.shape
    n = summary.block_pixels
    blocks = f", on {n} x {n}-pixel blocks" if n > 1 else ""
    if loaded.frame == "lagrangian":
        blocks += ", in the moving frame"
    _console.out.print(
        f"wrote {summary.path}: {summary.steps} steps from {summary.reference_time}Z, "
        f"grid {ny} x {nx}, max {summary.max_value:.2f} {loaded.units or 'mm h-1'}, "
        f"{summary.seconds:.1f} s (model {loaded.path.name}{blocks})"
    )


command.__doc__ = (command.__doc__ or "") + "\n\n" + EPILOG
