"""``nowcast forecast`` as a library call: observations + model -> CF forecast file.

Deterministic by default; with ``members`` the file also holds equally likely
members and, with ``thresholds``, exceedance probabilities
(docs/forecast.md, ensemble forecasts).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nowcast import __version__
from nowcast.data.observations import Observations
from nowcast.forecasting.ensemble import DETERMINISTIC_METHOD, ENSEMBLE_METHOD
from nowcast.forecasting.inputs import select_inputs
from nowcast.forecasting.memory import available_bytes, check_forecast_size
from nowcast.forecasting.model_choice import LoadedModel
from nowcast.forecasting.run import (
    WRITING,
    ProgressCallback,
    check_variable,
    model_ensemble,
    model_forecast,
)
from nowcast.forecasting.scale import working_factor
from nowcast.io.writers import ForecastWriter


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
    members: int = 0


@dataclass
class EnsembleOptions:
    """What an ensemble forecast adds to a deterministic one.

    Attributes:
        members: Equally likely members (0: deterministic only).
        thresholds: Rates (the variable's units) whose exceedance probability is written.
        seed: Seed of the members' noise: the same inputs and seed give the same members.
    """

    members: int = 0
    thresholds: tuple[float, ...] = ()
    seed: int = 0


@dataclass
class Forecast:
    """A forecast in memory: deterministic fields and, for an ensemble, the members.

    Attributes:
        reference_time: Time of the last observed frame used.
        fields: ``(steps, ny, nx)`` the deterministic output.
        members: ``(members, steps, ny, nx)``, or None.
    """

    reference_time: np.datetime64
    fields: np.ndarray
    members: np.ndarray | None = None


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
    ensemble: EnsembleOptions | None = None,
) -> Forecast:
    """Forecast ``steps`` frames after the last frame at or before ``at``.

    Without ``ensemble`` (or with 0 members) the deterministic output only, as
    :func:`~nowcast.forecasting.run.model_forecast` gives it.
    """
    index = select_inputs(obs, loaded.in_len, obs.timestep_s, at)
    raw = obs.read(index)
    reference = obs.times[index[-1]]
    if ensemble is None or ensemble.members == 0:
        fields = model_forecast(
            loaded,
            raw,
            steps,
            device=device,
            tile=tile,
            on_progress=on_progress,
            factor=factor,
            max_rate=obs.max_rate,
        )
        return Forecast(reference, fields)
    fields, members = model_ensemble(
        loaded,
        raw,
        steps,
        ensemble.members,
        device=device,
        tile=tile,
        on_progress=on_progress,
        factor=factor,
        max_rate=obs.max_rate,
        seed=ensemble.seed,
    )
    return Forecast(reference, fields, members)


def write_forecast(
    obs: Observations,
    loaded: LoadedModel,
    forecast: Forecast,
    output: Path,
    *,
    overwrite: bool = False,
    pack: bool = False,
    history: str = "",
    factor: int = 1,
    thresholds: Sequence[float] = (),
    on_progress: ProgressCallback | None = None,
) -> None:
    """Write ``forecast`` as the CF forecast file of docs/forecast.md section 5 (atomically).

    ``on_progress`` hears of each lead time written (:data:`WRITING`).
    """
    steps = forecast.fields.shape[0]
    step = np.timedelta64(obs.timestep_s, "s")
    valid = forecast.reference_time + step * np.arange(1, steps + 1)
    count = 0 if forecast.members is None else forecast.members.shape[0]
    provenance = {
        "nowcast_checkpoint": str(loaded.path),
        "nowcast_checkpoint_sha256": loaded.sha256,
        "nowcast_input_frames": np.int32(loaded.in_len),
        "nowcast_timestep_seconds": np.int32(obs.timestep_s),
        "nowcast_block_pixels": np.int32(factor),
        "nowcast_model_frame": loaded.frame,
        "nowcast_calibrated": np.int32(loaded.blend is not None),
    }
    kind = f"{count}-member ensemble" if count else "Deterministic"
    with ForecastWriter(
        output,
        obs.grid,
        loaded.variable,
        forecast.reference_time,
        valid,
        overwrite=overwrite,
        pack=pack,
        source=f"nowcast {__version__}; model {loaded.checkpoint['model']['name']} "
        f"({loaded.path.name})",
        history=history,
        comment=f"{kind} nowcast from the last {loaded.in_len} frames of {obs.source}; "
        f"deterministic output: {DETERMINISTIC_METHOD}",
        provenance=provenance,
        members=count,
        thresholds=thresholds,
        ensemble_method=ENSEMBLE_METHOD if count else "",
        deterministic_long_name=DETERMINISTIC_METHOD if count else "",
    ) as writer:
        for i in range(steps):
            members = None if forecast.members is None else forecast.members[:, i]
            writer.write_step(i, forecast.fields[i], members=members)
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
    ensemble: EnsembleOptions | None = None,
) -> ForecastSummary:
    """Forecast and write; return what the command reports.

    ``scale_km`` is the working grid (:mod:`nowcast.forecasting.scale`); ``None``
    takes the model's own, 0 the data's grid. ``on_progress`` hears of the
    motion fit, each tile, the members and each lead time written. ``inputs``
    are the files the observations were read from: ``output`` is checked
    before any work, and may not be one of them.
    """
    check_variable(obs, loaded)
    options = ensemble or EnsembleOptions()
    check_forecast_size(obs.grid.shape, steps * (1 + options.members), available_bytes())
    from nowcast.io.writers.atomic import check_output

    check_output(output, overwrite, inputs)
    factor = working_factor(obs.grid, scale_km, loaded.scale_km)
    start = time.perf_counter()
    forecast = forecast_fields(
        obs,
        loaded,
        steps,
        at=at,
        device=device,
        tile=tile,
        on_progress=on_progress,
        factor=factor,
        ensemble=options,
    )
    write_forecast(
        obs,
        loaded,
        forecast,
        output,
        overwrite=overwrite,
        pack=pack,
        history=history,
        factor=factor,
        thresholds=options.thresholds,
        on_progress=on_progress,
    )
    fields = forecast.fields if forecast.members is None else forecast.members
    peak = float(np.nanmax(fields)) if np.isfinite(fields).any() else float("nan")
    seconds = time.perf_counter() - start
    return ForecastSummary(
        output,
        steps,
        obs.grid.shape,
        forecast.reference_time,
        peak,
        seconds,
        factor,
        options.members,
    )
