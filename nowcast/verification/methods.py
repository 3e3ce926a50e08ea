"""The methods ``nowcast evaluate`` can compare, built from user choices.

Each builder returns a :class:`~nowcast.verification.run.Method`: trained
checkpoints, persistence, pySTEPS optical-flow extrapolation, or a forecast
file written by any tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from nowcast.data.observations import Observations
from nowcast.errors import ConfigError, InputError
from nowcast.forecasting.model_choice import LoadedModel
from nowcast.forecasting.run import model_ensemble, model_forecast
from nowcast.io.plausible import DEFAULT_MAX_RATE
from nowcast.io.units import is_mm_per_hour
from nowcast.io.writers.forecast import ForecastFile, read_forecast
from nowcast.verification.alignment import aligned_forecast
from nowcast.verification.baselines import (
    INSTALL_HINT,
    extrapolation_available,
    extrapolation_forecast,
    persistence_forecast,
)
from nowcast.verification.run import EnsemblePredictor, Method
from nowcast.verification.steps_baseline import (
    STEPS_FRAMES,
    StepsFitError,
    steps_forecast,
    steps_provenance,
)

#: Observed frames the optical-flow baseline estimates motion from.
EXTRAPOLATION_FRAMES = 3
#: The values of ``--baselines`` (``steps``: pySTEPS' STEPS ensemble, needs ``--members``).
BASELINES = ("persistence", "extrapolation", "steps")
#: The note's start when a pySTEPS baseline is skipped for want of pysteps.
_SKIPPED = {
    "extrapolation": "optical-flow extrapolation skipped",
    "steps": "STEPS ensemble skipped",
}


def model_method(
    loaded: LoadedModel,
    device: torch.device,
    name: str | None = None,
    factor: int = 1,
    max_rate: float = DEFAULT_MAX_RATE,
) -> Method:
    """A trained checkpoint as a method (named after its run folder by default).

    ``factor`` > 1 runs it on blocks of ``factor x factor`` pixels
    (:mod:`nowcast.forecasting.scale`); forecasts are clipped to ``max_rate``
    (mm h-1, the observations' largest plausible rate).
    """

    def predict(frames: np.ndarray, steps: int) -> np.ndarray:
        return model_forecast(
            loaded, frames, steps, device=device, factor=factor, max_rate=max_rate
        )

    def ensemble(frames: np.ndarray, steps: int, members: int) -> tuple[np.ndarray, np.ndarray]:
        return model_ensemble(
            loaded, frames, steps, members, device=device, factor=factor, max_rate=max_rate
        )

    label = name or (
        "convlstm" if loaded.path.parent.name in ("default", "") else loaded.path.parent.name
    )
    provenance = {
        "checkpoint": str(loaded.path),
        "checkpoint_sha256": loaded.sha256,
        "block_pixels": factor,
        "frame": loaded.frame,
        "calibrated": loaded.blend is not None,
    }
    return Method(label, predict, loaded.in_len, provenance, ensemble)


def baseline_methods(
    names: Sequence[str],
    notes: list[str],
    *,
    timestep_s: float | None = None,
    pixel_km: float | None = None,
    members: int = 0,
) -> list[Method]:
    """The named baselines, in order; a missing pySTEPS becomes a note, not an error.

    ``steps`` (pySTEPS' STEPS ensemble) needs the data's cadence ``timestep_s``
    (seconds), its grid spacing ``pixel_km`` (km; None for a pixel grid, taken
    as 1 km and noted) and the evaluation's ensemble size ``members``.

    Raises:
        InputError: For a name not in :data:`BASELINES`.
        ConfigError: For ``steps`` without members or without ``timestep_s``.
    """
    _check_baselines(names, members)
    methods = []
    for name in names:
        if name == "persistence":
            methods.append(Method("persistence", lambda f, s: persistence_forecast(f[-1], s), 1))
        elif not extrapolation_available():
            notes.append(f"{_SKIPPED[name]}: pysteps is not installed ({INSTALL_HINT})")
        elif name == "extrapolation":
            methods.append(
                Method(
                    "extrapolation",
                    _extrapolate_same_pixels,
                    EXTRAPOLATION_FRAMES,
                    {"library": "pysteps Lucas-Kanade + semi-Lagrangian"},
                )
            )
        else:
            methods.append(_steps_method(members, timestep_s, pixel_km, notes))
    return methods


def _check_baselines(names: Sequence[str], members: int) -> None:
    """Refuse unknown names, and ``steps`` without members, before any work is done."""
    for name in names:
        if name not in BASELINES:
            raise InputError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")
    if "steps" in names and members < 1:
        raise ConfigError("--baselines steps needs --members M (e.g. --members 20)")


def _steps_method(
    members: int, timestep_s: float | None, pixel_km: float | None, notes: list[str]
) -> Method:
    """The method ``steps``: pySTEPS' STEPS ensemble.

    Its deterministic forecast is the mean of its ``members`` members, so its
    deterministic scores are those of the ensemble mean. Where pySTEPS cannot
    fit STEPS (rain that neither moves nor changes, e.g. static clutter in a
    dry scene), every member is the extrapolation forecast, STEPS' limit
    without evolution; ``summary.json`` counts those start times
    (``starts_extrapolated``).
    """
    if timestep_s is None:
        raise ConfigError("the steps baseline needs the data's time step")
    if pixel_km is None:
        notes.append("steps: a pixel grid without metres; pySTEPS' kmperpixel taken as 1")
    km = 1.0 if pixel_km is None else pixel_km
    provenance = steps_provenance(members, km) | {"starts_extrapolated": 0}

    def ensemble(frames: np.ndarray, steps: int, n_members: int) -> tuple[np.ndarray, np.ndarray]:
        try:
            forecast = steps_forecast(frames, steps, n_members, timestep_s=timestep_s, pixel_km=km)
        except StepsFitError:
            provenance["starts_extrapolated"] += 1
            forecast = np.repeat(_extrapolate_same_pixels(frames, steps)[None], n_members, axis=0)
        return forecast.mean(axis=0), forecast

    def predict(frames: np.ndarray, steps: int) -> np.ndarray:
        return ensemble(frames, steps, members)[0]

    return Method("steps", predict, STEPS_FRAMES, provenance, ensemble)


def _extrapolate_same_pixels(frames: np.ndarray, steps: int) -> np.ndarray:
    """Extrapolation scored on the same pixels as every other method.

    pySTEPS leaves NaN where rain would be advected in from outside the
    coverage; here such pixels (covered in the last frame) count as "no rain",
    which is also what the network assumes, so no method is scored on a
    smaller, easier set of pixels.
    """
    forecast = extrapolation_forecast(frames, steps)
    forecast[np.isnan(forecast) & np.isfinite(frames[-1])] = 0.0
    return forecast


def forecast_file_method(
    path: Path, obs: Observations, notes: list[str]
) -> tuple[Method, int, int]:
    """A CF forecast file (from ``nowcast forecast`` or another tool) as a method.

    The fields (and an ensemble's members) are placed on the observations' grid first
    (:func:`~nowcast.verification.alignment.aligned_forecast`). Lead times are scored
    up to the first one without an observed frame; ``notes`` gets a line on each
    flipped axis, on the lead times left unscored, and why, and on a deterministic
    field the reader had to make (the member mean).

    Returns:
        ``(method, start_index, steps)``: the index in ``obs`` of the file's
        reference time, and the number of lead times to score. The method's
        ``predict`` gives the file's deterministic fields; for an ensemble file its
        ``ensemble`` gives those and the file's members (however many are asked for).

    Raises:
        InputError: unknown layout, another grid, or valid times not in ``obs``.
    """
    forecast, flipped = aligned_forecast(_checked_forecast(path, obs), obs.grid, path)
    notes += flipped
    notes += forecast.notes
    fields = forecast.fields
    valid = forecast.valid_times
    reference = forecast.reference(obs.timestep_s)
    matches = np.searchsorted(obs.times, np.concatenate([[reference], valid]))
    matches = np.minimum(matches, obs.times.size - 1)
    if obs.times[matches[0]] != reference:
        raise InputError(f"{path}: reference time {reference}Z is not an observed frame")
    expected = obs.times[matches[0]] + np.arange(1, valid.size + 1) * np.timedelta64(
        obs.timestep_s, "s"
    )
    steps = int(np.argmin(np.append(obs.times[matches[1:]] == valid, False)))
    if steps == 0 or not np.array_equal(valid[:steps], expected[:steps]):
        raise InputError(f"{path}: no lead time matches an observed frame at the obs cadence")
    if steps < valid.size:
        notes.append(_unscored_leads(path, valid, reference, steps))

    def predict(_frames: np.ndarray, n: int) -> np.ndarray:
        return fields[:n]

    method = Method(path.stem, predict, 1, {"forecast_file": str(path)})
    if forecast.members is not None:
        method.ensemble = _file_members(fields, forecast.members)
        method.provenance["members"] = forecast.member_count
    return method, int(matches[0]), steps


def _file_members(fields: np.ndarray, members: np.ndarray) -> EnsemblePredictor:
    """The ensemble of a forecast file: its first ``n`` lead times, every member it holds.

    A file's members are fixed, so the member count asked for is ignored.
    """

    def ensemble(_frames: np.ndarray, n: int, _count: int) -> tuple[np.ndarray, np.ndarray]:
        return fields[:n], members[:, :n]

    return ensemble


def _unscored_leads(path: Path, valid: np.ndarray, reference: np.datetime64, steps: int) -> str:
    """The note on the lead times from ``steps`` on: the first has no observed frame."""
    minutes = (valid[steps:] - reference).astype("timedelta64[m]").astype(np.int64)
    return (
        f"{path.name}: {valid.size - steps} of {valid.size} lead times not scored "
        f"({minutes[0]}-{minutes[-1]} min): no observed frame at {valid[steps]}Z "
        "(scores stop at the first lead time without one)"
    )


def _checked_forecast(path: Path, obs: Observations) -> ForecastFile:
    """The forecast file, refused when its units differ from the observations'."""
    forecast = read_forecast(path)
    if obs.variable == "rainfall_rate" and not is_mm_per_hour(forecast.units):
        raise InputError(f"{path}: {forecast.variable} is in {forecast.units!r}; expected mm h-1")
    return forecast
