"""``nowcast forecast``: the latest radar frames -> a CF NetCDF forecast on the same grid."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nowcast.cli import _console
from nowcast.cli._options import (
    Device,
    Frame,
    ModelSpec,
    Overwrite,
    ScaleKm,
    comma_numbers,
)
from nowcast.errors import ConfigError
from nowcast.io.grid import parse_utc

if TYPE_CHECKING:
    from nowcast.forecasting.request import ForecastOutcome

EPILOG = """Examples:

  nowcast forecast sample_data/synthetic.nc --model default --plot --animate

  nowcast forecast sample_data/synthetic.nc --at 2024-06-01T15:00 --steps 6 -o fc.nc

  nowcast forecast 'radar/*.h5' --model runs/latest --output fc.nc --plot   (your raw files)

  nowcast forecast radar.nc --steps 12 --members 20 --probabilities 0.1,1,5 -o ens.nc
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
    device: Device = "auto",
    fmt: Annotated[
        str, typer.Option("--format", help="Raw input format (auto = detect).")
    ] = "auto",
    pack: Annotated[
        bool, typer.Option(help="Store int16 with scale 0.01 (about half the size).")
    ] = False,
    plot: Annotated[
        bool,
        typer.Option(
            help="Also write <output>.png: the last observation and four lead times on a map."
        ),
    ] = False,
    animate: Annotated[
        bool,
        typer.Option(
            help="Also write <output>.gif: the input frames, then every lead time, on a map."
        ),
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
    overwrite: Overwrite = False,
    members: Annotated[
        int,
        typer.Option(
            help="Also write this many equally likely ensemble members (e.g. 20) beside "
            "the deterministic output: rainfall_rate(realization, time, y, x). "
            "0 = deterministic only.",
        ),
    ] = 0,
    probabilities: Annotated[
        str | None,
        typer.Option(
            help="Also write the probability of the rate >= each of these thresholds "
            "per lead, comma-separated (e.g. 0.1,1,5 mm/h), from the members; needs --members.",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed of the members' noise (the same seed, the same members).")
    ] = 0,
) -> None:
    """Forecast the next STEPS frames from the latest observations.

    The forecast is written as CF-1.11 NetCDF on the input's own grid and projection.
    The deterministic output is the network's forecast probability-matched to the
    last observation carried along the motion: the observed wet area and intensities,
    placed where the network forecasts the most rain. --members adds equally likely
    members, --probabilities exceedance probabilities.
    """
    if probabilities is not None and members == 0:
        raise _console.fail(
            "--probabilities needs --members M, e.g. --members 20 (see 'nowcast forecast --help')",
            2,
        )
    from nowcast.forecasting.request import ForecastRequest, ensemble_options, forecast_request

    request = ForecastRequest(
        inputs=inputs,
        steps=steps,
        model=model,
        output=output,
        at=None if at is None else parse_utc(at, "--at"),
        device=device,
        fmt=fmt,
        pack=pack,
        plot=plot,
        animate=animate,
        strict=strict,
        tile=tile,
        scale_km=scale_km,
        frame=frame,
        overwrite=overwrite,
        history=_console.command_line(),
        members=members,
        probabilities=tuple(comma_numbers(probabilities, "--probabilities"))
        if probabilities is not None
        else (),
        seed=seed,
    )
    try:
        ensemble_options(request)
    except ConfigError as exc:
        raise _console.fail(str(exc), 2) from None
    with _console.progress(transient=True) as bar:
        outcome = forecast_request(
            request,
            on_warning=lambda text: _console.err.print(f"[yellow]warning:[/] {text}"),
            on_progress=_console.stages(bar),
        )
    for figure in (outcome.plot, outcome.animation):
        if figure is not None:
            _console.err.print(f"wrote {figure}", markup=False, highlight=False)
    used = outcome.model
    for line in (_describe(outcome), f"model {used.path.resolve()} sha256 {used.sha256}"):
        _console.out.print(line, markup=False, highlight=False, soft_wrap=True)  # copyable


def _describe(outcome: ForecastOutcome) -> str:
    """The one result line: file, steps, reference time, grid, peak, time and model."""
    summary, loaded = outcome.summary, outcome.model
    ny, nx = summary.shape
    n = summary.block_pixels
    blocks = f", on {n} x {n}-pixel blocks" if n > 1 else ""
    if loaded.frame == "lagrangian":
        blocks += ", in the moving frame"
    if summary.members:
        blocks += f", {summary.members} members"
    return (
        f"wrote {summary.path}: {summary.steps} steps from {summary.reference_time}Z, "
        f"grid {ny} x {nx}, max {summary.max_value:.2f} {loaded.units or 'mm h-1'}, "
        f"{summary.seconds:.1f} s (model {loaded.name}{blocks})"
    )
