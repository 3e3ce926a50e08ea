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
from nowcast.errors import InputError
from nowcast.forecasting.model_choice import LoadedModel
from nowcast.forecasting.run import model_forecast
from nowcast.io.plausible import DEFAULT_MAX_RATE
from nowcast.io.units import is_mm_per_hour
from nowcast.io.writers.forecast import ForecastFile, read_forecast
from nowcast.verification.alignment import aligned_fields
from nowcast.verification.baselines import (
    extrapolation_available,
    extrapolation_forecast,
    persistence_forecast,
)
from nowcast.verification.run import Method

#: Observed frames the optical-flow baseline estimates motion from.
EXTRAPOLATION_FRAMES = 3
BASELINES = ("persistence", "extrapolation")


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
    return Method(label, predict, loaded.in_len, provenance)


def baseline_methods(names: Sequence[str], notes: list[str]) -> list[Method]:
    """Persistence and/or extrapolation; a missing pySTEPS becomes a note, not an error."""
    methods = []
    for name in names:
        if name not in BASELINES:
            raise InputError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")
        if name == "persistence":
            methods.append(Method("persistence", lambda f, s: persistence_forecast(f[-1], s), 1))
        elif extrapolation_available():
            methods.append(
                Method(
                    "extrapolation",
                    _extrapolate_same_pixels,
                    EXTRAPOLATION_FRAMES,
                    {"library": "pysteps Lucas-Kanade + semi-Lagrangian"},
                )
            )
        else:
            notes.append(
                "optical-flow extrapolation skipped: pysteps is not installed "
                '(pip install "nowcast[baselines]")'
            )
    return methods


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

    The fields are placed on the observations' grid first
    (:func:`~nowcast.verification.alignment.aligned_fields`). Lead times are scored
    up to the first one without an observed frame; ``notes`` gets a line on each
    flipped axis and on the lead times left unscored, and why.

    Returns:
        ``(method, start_index, steps)``: the index in ``obs`` of the file's
        reference time, and the number of lead times to score.

    Raises:
        InputError: unknown layout, another grid, or valid times not in ``obs``.
    """
    forecast = _checked_forecast(path, obs)
    fields, flipped = aligned_fields(forecast, obs.grid, path)
    notes += flipped
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

    return Method(path.stem, predict, 1, {"forecast_file": str(path)}), int(matches[0]), steps


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
