"""``nowcast forecast`` as a library call: observations + model -> CF forecast file."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nowcast import __version__
from nowcast.data.observations import Observations
from nowcast.errors import InputError
from nowcast.forecasting.blend import Components, combine
from nowcast.forecasting.detail import moved_detail
from nowcast.forecasting.inputs import select_inputs
from nowcast.forecasting.memory import available_bytes, check_forecast_size
from nowcast.forecasting.model_choice import LoadedModel
from nowcast.forecasting.predict import predict
from nowcast.forecasting.scale import block_mean, interpolate_back, working_factor
from nowcast.io.plausible import DEFAULT_MAX_RATE, value_limit
from nowcast.io.writers import ForecastWriter
from nowcast.motion import displacements, estimate_motion, from_lagrangian

#: Pixels neighbouring tiles share, at most a quarter of the tile (``--tile`` may be 64).
TILE_OVERLAP = 64
#: The slow stages of a forecast, as ``on_progress`` names them.
MOTION, NETWORK, WRITING = "fitting motion", "running the network", "writing"
ProgressCallback = Callable[[str, int, int], Any]
"""``on_progress(stage, done, total)``: ``done`` of ``total`` units of ``stage`` are finished."""


def stage_callback(
    on_progress: ProgressCallback | None, stage: str
) -> Callable[[int, int], Any] | None:
    """``on_progress`` for one stage, as the ``(done, total)`` callbacks of its steps take it."""
    return None if on_progress is None else functools.partial(on_progress, stage)


@dataclass
class ForecastSummary:
    """What the command reports when it is done."""

    path: Path
    steps: int
    shape: tuple[int, int]
    reference_time: np.datetime64
    max_value: float
    seconds: float
    block_pixels: int = 1


def check_cadence(obs: Observations, loaded: LoadedModel, strict: bool) -> str | None:
    """Compare the data's cadence with the model's; return a warning or raise with ``strict``."""
    if obs.timestep_s == loaded.timestep_s:
        return None
    message = (
        f"input cadence {obs.timestep_s} s differs from the model's {loaded.timestep_s} s; "
        "the forecast steps follow the input cadence"
    )
    if strict:
        raise InputError(message + " (--strict)")
    return message


def check_variable(obs: Observations, loaded: LoadedModel) -> None:
    """Refuse a checkpoint trained on another variable."""
    if obs.variable != loaded.variable:
        raise InputError(
            f"{loaded.path} was trained on {loaded.variable} but {obs.source} holds {obs.variable}"
        )


def forecast_components(
    loaded: LoadedModel,
    raw: np.ndarray,
    steps: int,
    *,
    device: torch.device,
    tile: int = 768,
    on_progress: ProgressCallback | None = None,
    factor: int = 1,
) -> Components:
    """The parts of a forecast from observed frames ``raw`` ``(in_len, ny, nx)`` (physical units).

    No coverage (NaN) enters the network as "no rain". With ``factor`` > 1 the
    network forecasts means of ``factor x factor`` blocks, interpolated back
    onto the input's grid (:mod:`nowcast.forecasting.scale`); a model in the
    moving frame then also gets the advected sub-block detail
    (:mod:`nowcast.forecasting.detail`). One motion fit serves the network,
    the advected last frame and the detail. ``on_progress`` hears of each
    step of the motion fit (:data:`MOTION`) and each tile (:data:`NETWORK`).
    """
    work = block_mean(raw, factor)
    x = np.nan_to_num(np.asarray(loaded.transform.forward(work), dtype=np.float32), nan=0.0)
    velocity = None
    if loaded.frame == "lagrangian":
        velocity = estimate_motion(
            torch.from_numpy(x[None]).to(device),
            on_iteration=stage_callback(on_progress, MOTION),
        )[0]
    y = predict(
        loaded.model,
        x,
        steps,
        patch=loaded.patch_size,
        device=device,
        tile=tile,
        overlap=min(TILE_OVERLAP, tile // 4),
        on_tile=stage_callback(on_progress, NETWORK),
        velocity=velocity,
    )
    last = torch.from_numpy(x[-1:]).expand(steps, -1, -1)
    if velocity is not None:  # the model's own zero change: the last frame carried along
        disp = displacements(velocity[None].cpu(), steps)
        last = from_lagrangian(last[None, :, None], disp)[0, :, 0]

    def physical(z: np.ndarray) -> np.ndarray:
        fields = np.maximum(np.asarray(loaded.transform.inverse(z), dtype=np.float32), 0.0)
        return interpolate_back(fields, factor, raw.shape[1:])

    detail, rho = np.zeros((steps, *raw.shape[1:]), dtype=np.float32), 0.0
    if factor > 1 and velocity is not None and raw.shape[0] >= 2:
        detail, rho = moved_detail(raw, velocity[None].cpu(), factor, steps)
    return Components(physical(last.numpy()), physical(y), detail, rho)


def model_forecast(
    loaded: LoadedModel,
    raw: np.ndarray,
    steps: int,
    *,
    device: torch.device,
    tile: int = 768,
    on_progress: ProgressCallback | None = None,
    factor: int = 1,
    max_rate: float = DEFAULT_MAX_RATE,
) -> np.ndarray:
    """Forecast from observed frames ``raw`` ``(in_len, ny, nx)`` in physical units.

    The parts of :func:`forecast_components` are combined with the model's
    calibrated blend weights when its checkpoint has them, else as network
    plus damped detail (:mod:`nowcast.forecasting.blend`), then bounded by
    :func:`plausible_forecast` (``max_rate`` in mm h-1, the data's largest
    plausible rate).

    Returns:
        ``(steps, ny, nx)`` float32 in the variable's units.
    """
    parts = forecast_components(
        loaded, raw, steps, device=device, tile=tile, on_progress=on_progress, factor=factor
    )
    limit = value_limit(loaded.variable, max_rate)
    return plausible_forecast(combine(parts, loaded.blend), raw[-1], limit)


def plausible_forecast(fields: np.ndarray, last: np.ndarray, limit: float) -> np.ndarray:
    """``fields`` ``(steps, ny, nx)`` made physically plausible, in place.

    Where the last observed frame ``last`` has coverage (a finite value) the
    forecast is finite and in ``[0, limit]``: a non-finite value (a broken
    network) is replaced by that last observation (persistence), and values
    beyond ``limit`` are clipped to it. Elsewhere the forecast is NaN.
    """
    covered = np.isfinite(last)
    broken = ~np.isfinite(fields) & covered
    if broken.any():
        fields[broken] = np.broadcast_to(last, fields.shape)[broken]
    np.clip(fields, 0.0, limit, out=fields)
    fields[:, ~covered] = np.nan
    return fields


def forecast_fields(
    obs: Observations,
    loaded: LoadedModel,
    steps: int,
    *,
    at: np.datetime64 | None = None,
    device: torch.device,
    tile: int = 768,
    on_progress: ProgressCallback | None = None,
    factor: int = 1,
) -> tuple[np.datetime64, np.ndarray]:
    """Forecast ``steps`` frames after the last frame at or before ``at``.

    Returns:
        ``(reference_time, fields)`` as :func:`model_forecast` gives them.
    """
    index = select_inputs(obs, loaded.in_len, obs.timestep_s, at)
    fields = model_forecast(
        loaded,
        obs.read(index),
        steps,
        device=device,
        tile=tile,
        on_progress=on_progress,
        factor=factor,
        max_rate=obs.max_rate,
    )
    return obs.times[index[-1]], fields


def write_forecast(
    obs: Observations,
    loaded: LoadedModel,
    reference_time: np.datetime64,
    fields: np.ndarray,
    output: Path,
    *,
    overwrite: bool = False,
    pack: bool = False,
    history: str = "",
    factor: int = 1,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Write ``fields`` as the CF forecast file of docs/forecast.md section 4 (atomically).

    ``on_progress`` hears of each lead time written (:data:`WRITING`).
    """
    steps = fields.shape[0]
    step = np.timedelta64(obs.timestep_s, "s")
    valid = reference_time + step * np.arange(1, steps + 1)
    provenance = {
        "nowcast_checkpoint": str(loaded.path),
        "nowcast_checkpoint_sha256": loaded.sha256,
        "nowcast_input_frames": np.int32(loaded.in_len),
        "nowcast_timestep_seconds": np.int32(obs.timestep_s),
        "nowcast_block_pixels": np.int32(factor),
        "nowcast_model_frame": loaded.frame,
        "nowcast_calibrated": np.int32(loaded.blend is not None),
    }
    with ForecastWriter(
        output,
        obs.grid,
        loaded.variable,
        reference_time,
        valid,
        overwrite=overwrite,
        pack=pack,
        source=f"nowcast {__version__}; model {loaded.checkpoint['model']['name']} "
        f"({loaded.path.name})",
        history=history,
        comment=f"Deterministic nowcast from the last {loaded.in_len} frames of {obs.source}",
        provenance=provenance,
    ) as writer:
        for i in range(steps):
            writer.write_step(i, fields[i])
            if on_progress:
                on_progress(WRITING, i + 1, steps)


def run_forecast(
    obs: Observations,
    loaded: LoadedModel,
    steps: int,
    output: Path,
    *,
    at: np.datetime64 | None = None,
    device: torch.device,
    overwrite: bool = False,
    pack: bool = False,
    history: str = "",
    tile: int = 768,
    on_progress: ProgressCallback | None = None,
    scale_km: float | None = None,
    inputs: Sequence[Path] = (),
) -> ForecastSummary:
    """Forecast and write; return what the command reports.

    ``scale_km`` is the working grid (:mod:`nowcast.forecasting.scale`); ``None``
    takes the model's own, 0 the data's grid. ``on_progress`` hears of the
    motion fit, each tile and each lead time written. ``inputs`` are the files
    the observations were read from: ``output`` is checked before any work,
    and may not be one of them.
    """
    check_variable(obs, loaded)
    check_forecast_size(obs.grid.shape, steps, available_bytes())
    from nowcast.io.writers.atomic import check_output

    check_output(output, overwrite, inputs)
    factor = working_factor(obs.grid, scale_km, loaded.scale_km)
    start = time.perf_counter()
    reference, fields = forecast_fields(
        obs, loaded, steps, at=at, device=device, tile=tile, on_progress=on_progress, factor=factor
    )
    write_forecast(
        obs,
        loaded,
        reference,
        fields,
        output,
        overwrite=overwrite,
        pack=pack,
        history=history,
        factor=factor,
        on_progress=on_progress,
    )
    peak = float(np.nanmax(fields)) if np.isfinite(fields).any() else float("nan")
    seconds = time.perf_counter() - start
    return ForecastSummary(output, steps, obs.grid.shape, reference, peak, seconds, factor)
