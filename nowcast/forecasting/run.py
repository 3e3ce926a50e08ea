"""A model's forecast from observed frames: motion, network, blend, sharpening, members."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from nowcast.data.observations import Observations
from nowcast.errors import InputError
from nowcast.forecasting.blend import Components, combine
from nowcast.forecasting.detail import coverage_window, data_grid_velocity, detail_along
from nowcast.forecasting.ensemble import MovedObservations, moved_observations, sharpen
from nowcast.forecasting.ensemble import members as ensemble_members
from nowcast.forecasting.model_choice import LoadedModel
from nowcast.forecasting.predict import predict
from nowcast.forecasting.scale import block_mean, interpolate_back
from nowcast.io.plausible import DEFAULT_MAX_RATE, value_limit
from nowcast.motion import displacements, estimate_motion, from_lagrangian

#: Pixels neighbouring tiles share, at most a quarter of the tile (``--tile`` may be 64).
TILE_OVERLAP = 64
#: The slow stages of a forecast, as ``on_progress`` names them.
MOTION, NETWORK, MEMBERS, WRITING = (
    "fitting motion",
    "running the network",
    "making members",
    "writing",
)
ProgressCallback = Callable[[str, int, int], Any]
"""``on_progress(stage, done, total)``: ``done`` of ``total`` units of ``stage`` are finished."""


def stage_callback(
    on_progress: ProgressCallback | None, stage: str
) -> Callable[[int, int], Any] | None:
    """``on_progress`` for one stage, as the ``(done, total)`` callbacks of its steps take it."""
    return None if on_progress is None else functools.partial(on_progress, stage)


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
    with_advected: bool = True,
) -> Components:
    """The parts of a forecast from observed frames ``raw`` ``(in_len, ny, nx)`` (physical units).

    No coverage (NaN) enters the network as "no rain". With ``factor`` > 1 the
    network forecasts means of ``factor x factor`` blocks, interpolated back
    onto the input's grid (:mod:`nowcast.forecasting.scale`); a model in the
    moving frame then also gets the advected sub-block detail
    (:mod:`nowcast.forecasting.detail`). One motion fit serves the network,
    the advected last frame and the detail. ``on_progress`` hears of each
    step of the motion fit (:data:`MOTION`) and each tile (:data:`NETWORK`).
    ``with_advected=False`` leaves out the advected last frame (``None``),
    which only a calibrated blend uses: on a 2200 x 1900 grid it is 200 MB
    and 12 interpolations onto the data's grid.
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
    if velocity is not None and with_advected:  # the model's own zero change, carried along
        disp = displacements(velocity[None].cpu(), steps)
        last = from_lagrangian(last[None, :, None], disp)[0, :, 0]

    def physical(z: np.ndarray) -> np.ndarray:
        fields = np.maximum(np.asarray(loaded.transform.inverse(z), dtype=np.float32), 0.0)
        return interpolate_back(fields, factor, raw.shape[1:])

    detail, rho = np.zeros((steps, *raw.shape[1:]), dtype=np.float32), 0.0
    fine = first = window = None
    if velocity is not None:
        window = coverage_window(np.isfinite(raw[-1]))  # only there is anything carried along
        pixels = data_grid_velocity(velocity[None].cpu(), factor, raw.shape[1:])
        fine = displacements(pixels, steps, window)
        if window is not None:  # the first step over the whole grid, as rho and members use it
            first = displacements(pixels, 1)[0]
        del pixels
        if factor > 1 and raw.shape[0] >= 2:
            detail, rho = detail_along(raw, fine, factor, window, first)
    moved = moved_observations(raw, fine, steps, window, first)
    del fine, first  # (steps, 2, h, w): gone before the fields on the data's grid are made
    advected = physical(last.numpy()) if with_advected else None
    return Components(advected, physical(y), detail, rho, moved)


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
    sharp: bool = True,
) -> np.ndarray:
    """The deterministic forecast from observed frames ``raw`` ``(in_len, ny, nx)``.

    The network's forecast (:func:`network_forecast`), probability-matched
    to the moving observations (:func:`~nowcast.forecasting.ensemble.sharpen`)
    unless ``sharp`` is False.

    Returns:
        ``(steps, ny, nx)`` float32 in the variable's units, NaN outside the coverage.
    """
    fields, moved = network_forecast(
        loaded,
        raw,
        steps,
        device=device,
        tile=tile,
        on_progress=on_progress,
        factor=factor,
        max_rate=max_rate,
    )
    return sharpen(fields, moved, out=fields) if sharp else fields


def model_ensemble(
    loaded: LoadedModel,
    raw: np.ndarray,
    steps: int,
    members: int,
    *,
    device: torch.device,
    tile: int = 768,
    on_progress: ProgressCallback | None = None,
    factor: int = 1,
    max_rate: float = DEFAULT_MAX_RATE,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The deterministic forecast and ``members`` ensemble members from ``raw``.

    One network forecast serves both (:mod:`nowcast.forecasting.ensemble`).

    Returns:
        ``(deterministic, members)``: ``(steps, ny, nx)`` and
        ``(members, steps, ny, nx)`` float32, NaN outside the coverage.
    """
    fields, moved = network_forecast(
        loaded,
        raw,
        steps,
        device=device,
        tile=tile,
        on_progress=on_progress,
        factor=factor,
        max_rate=max_rate,
    )
    ensemble = ensemble_members(fields, moved, members, seed, stage_callback(on_progress, MEMBERS))
    return sharpen(fields, moved, out=fields), ensemble


def network_forecast(
    loaded: LoadedModel,
    raw: np.ndarray,
    steps: int,
    *,
    device: torch.device,
    tile: int = 768,
    on_progress: ProgressCallback | None = None,
    factor: int = 1,
    max_rate: float = DEFAULT_MAX_RATE,
) -> tuple[np.ndarray, MovedObservations]:
    """The network's own (smooth) forecast from ``raw`` and the observations moved with it.

    The parts of :func:`forecast_components` are combined with the model's
    calibrated blend weights when its checkpoint has them, else as network
    plus damped detail (:mod:`nowcast.forecasting.blend`), then bounded by
    :func:`plausible_forecast` (``max_rate`` in mm h-1, the data's largest
    plausible rate).

    Returns:
        ``(fields, moved)``: ``(steps, ny, nx)`` float32 in the variable's
        units, and the last observed frames carried along the same motion.
    """
    parts = forecast_components(
        loaded,
        raw,
        steps,
        device=device,
        tile=tile,
        on_progress=on_progress,
        factor=factor,
        with_advected=loaded.blend is not None,
    )
    limit = value_limit(loaded.variable, max_rate)
    # in place of the network's fields: one grid of `steps` fields less at the peak
    fields = plausible_forecast(combine(parts, loaded.blend, out=parts.network), raw[-1], limit)
    return fields, parts.moved


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
