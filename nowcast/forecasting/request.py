"""``nowcast forecast`` as one library call: what the user asked for -> a forecast file.

:func:`forecast_request` loads the observations and the model, picks the
device and the output name, checks the cadence, runs
:func:`~nowcast.forecasting.to_file.run_forecast` and, if asked, plots and animates
the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nowcast.data.observations import Observations, load_observations
from nowcast.errors import ConfigError
from nowcast.forecasting.inputs import select_inputs
from nowcast.forecasting.model_choice import LoadedModel, load_model, resolve_model
from nowcast.forecasting.run import ProgressCallback, check_cadence, stage_callback
from nowcast.forecasting.to_file import EnsembleOptions, ForecastSummary, run_forecast
from nowcast.io.ingest.sources import expand_sources
from nowcast.io.writers.atomic import check_output
from nowcast.models.device import select_device


@dataclass(frozen=True)
class ForecastRequest:
    """What the user asked for (``None`` = the documented default).

    Attributes:
        inputs: A canonical file, or raw radar files, folders or globs.
        steps: Lead times to forecast.
        model: Checkpoint, run folder or ``default`` (see
            :func:`~nowcast.forecasting.model_choice.resolve_model`).
        output: Forecast file; ``None`` = ``forecast_<reference time>.nc`` here.
        at: Start from the last frame at or before this UTC time; ``None`` = the last frame.
        device: ``auto``, ``cpu`` or ``cuda``.
        fmt: Raw input format (``auto`` = detect).
        pack: Store int16 with scale 0.01.
        plot: Also write a PNG of the last observation and the forecast.
        animate: Also write a GIF of the observed input frames, then the forecast.
        strict: Fail, instead of warning, when the data cadence differs from the model's.
        tile: Tile side in pixels (bounds memory on large grids).
        scale_km: Working grid in km; ``None`` = the model's own, 0 = the data's grid.
        frame: ``eulerian`` or ``lagrangian``; ``None`` = the model's own.
        overwrite: Replace ``output`` if it exists.
        history: The file's ``history`` attribute (the command line).
        members: Ensemble members to write beside the deterministic output (0: none).
        probabilities: Thresholds (the variable's units) of the exceedance
            probabilities to write; needs ``members``.
        seed: Seed of the members' noise.
    """

    inputs: list[str]
    steps: int = 12
    model: str | None = None
    output: Path | None = None
    at: np.datetime64 | None = None
    device: str = "auto"
    fmt: str = "auto"
    pack: bool = False
    plot: bool = False
    animate: bool = False
    strict: bool = False
    tile: int = 768
    scale_km: float | None = None
    frame: str | None = None
    overwrite: bool = False
    history: str = ""
    members: int = 0
    probabilities: tuple[float, ...] = ()
    seed: int = 0


@dataclass
class ForecastOutcome:
    """What the command reports: the written file's summary, the model, the figures."""

    summary: ForecastSummary
    model: LoadedModel
    plot: Path | None = None
    animation: Path | None = None


def forecast_request(
    request: ForecastRequest,
    *,
    on_warning: Callable[[str], Any] | None = None,
    on_progress: ProgressCallback | None = None,
    model: LoadedModel | None = None,
) -> ForecastOutcome:
    """Forecast as ``request`` asks and write the file (and the figures).

    Args:
        request: The options.
        model: A model loaded already (the Python API's), moved to ``request.device``;
            ``None`` loads ``request.model`` in ``request.frame``.
        on_warning: Called with a cadence warning (when not ``request.strict``).
        on_progress: Called as ``on_progress(stage, done, total)`` as each stage
            starts (``done`` 0; ``total`` 0 for a stage without countable steps)
            and advances: reading, loading the model, the stages of
            :func:`~nowcast.forecasting.run.run_forecast`, plotting and animating.

    Raises:
        ConfigError: for an impossible ensemble (:func:`ensemble_options`).
        InputError, CheckpointError, ConfigError, OutputExistsError, OutputError:
            for unusable inputs, model, device or output (an output that is
            one of the inputs included).
    """
    ensemble = ensemble_options(request)
    inputs = expand_sources(request.inputs)
    if request.output is not None:  # before any work; a default name needs the data first
        check_output(request.output, request.overwrite, inputs)
    report = on_progress or (lambda stage, done, total: None)
    report("reading observations", 0, 0)
    obs = load_observations(request.inputs, request.fmt.lower())
    report("loading the model", 0, 0)
    device = select_device(request.device)
    if model is not None:
        model.model.to(device)
    loaded = model or load_model(resolve_model(request.model), device, request.frame)
    warning = check_cadence(obs, loaded, request.strict)
    if warning and on_warning:
        on_warning(warning)
    summary = run_forecast(
        obs,
        loaded,
        request.steps,
        request.output or _default_output(obs, loaded, request.at),
        at=request.at,
        device=device,
        overwrite=request.overwrite,
        pack=request.pack,
        history=request.history,
        tile=request.tile,
        scale_km=request.scale_km,
        on_progress=on_progress,
        inputs=inputs,
        ensemble=ensemble,
    )
    outcome = ForecastOutcome(summary, loaded)
    if request.plot:
        from nowcast.forecasting.plot import plot_forecast

        report("plotting", 0, 0)
        outcome.plot = plot_forecast(summary.path, obs, loaded.label)
    if request.animate:
        from nowcast.forecasting.animate import animate_forecast

        outcome.animation = animate_forecast(
            summary.path, obs, loaded.label, loaded.in_len, stage_callback(report, "animating")
        )
    return outcome


def ensemble_options(request: ForecastRequest) -> EnsembleOptions:
    """The ensemble part of ``request``, checked before any work.

    Raises:
        ConfigError: for members < 0 or of 1, probabilities without members, or
            thresholds that are not finite numbers > 0.
    """
    if request.members < 0 or request.members == 1:
        raise ConfigError(
            "--members must be 0 (deterministic only) or at least 2 (one member has no "
            f"spread), got {request.members}"
        )
    if request.probabilities and request.members == 0:
        raise ConfigError("--probabilities needs --members M (e.g. --members 20)")
    if not all(math.isfinite(t) and t > 0 for t in request.probabilities):
        given = ", ".join(f"{t:g}" for t in request.probabilities)
        raise ConfigError(f"--probabilities must be numbers > 0, got {given}")
    thresholds = tuple(sorted(set(request.probabilities)))
    return EnsembleOptions(request.members, thresholds, request.seed)


def _default_output(obs: Observations, loaded: LoadedModel, at: np.datetime64 | None) -> Path:
    """``forecast_<YYYYMMDDTHHMM>Z.nc`` (the reference time, UTC) in the working folder."""
    ref = obs.times[select_inputs(obs, loaded.in_len, obs.timestep_s, at)[-1]]
    return Path(f"forecast_{str(ref).replace('-', '').replace(':', '')[:13]}Z.nc")
