"""``nowcast evaluate`` as a library call: score methods over many start times.

For every start time, each method (trained models, persistence, optical-flow
extrapolation) forecasts from the same observed frames and is compared with
the observations that followed. Counts and sums are accumulated (never the
fields), so memory does not grow with the period.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nowcast.data.observations import Observations
from nowcast.verification.categorical import ContingencyTable
from nowcast.verification.continuous import ContinuousScores, FrameScores
from nowcast.verification.fss import FractionsSkillScore

#: A method maps observed input frames ``(T, ny, nx)`` to ``(steps, ny, nx)``.
Predictor = Callable[[np.ndarray, int], np.ndarray]


@dataclass
class Method:
    """A forecasting method under evaluation.

    Attributes:
        name: Label in tables, CSV files and plots.
        predict: ``predict(frames, steps)``; frames are the last ``in_len`` observations.
        in_len: Observed frames the method needs.
        provenance: Facts for ``summary.json`` (checkpoint path and sha256...).
    """

    name: str
    predict: Predictor
    in_len: int
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class Accumulators:
    """Everything scored for one method, pooled over start times."""

    categorical: ContingencyTable
    continuous: ContinuousScores
    fss: FractionsSkillScore
    frames: FrameScores | None = None

    def update(self, forecast: np.ndarray, observed: np.ndarray) -> None:
        """Add one start time: ``(steps, ny, nx)`` forecast and observation."""
        self.categorical.update_all(forecast, observed)
        self.continuous.update_all(forecast, observed)
        self.fss.update_all(forecast, observed)
        if self.frames is not None:
            self.frames.update_all(forecast, observed)


@dataclass
class Evaluation:
    """Pooled scores of every method plus what the report needs to describe them."""

    methods: list[Method]
    scores: dict[str, Accumulators]
    lead_times_s: list[int]
    thresholds: tuple[float, ...]
    scales_px: list[int]
    scales_km: list[float]
    start_times: np.ndarray
    example_start: int | None = None
    notes: list[str] = field(default_factory=list)


def _accumulators(
    thresholds: Sequence[float], scales_px: Sequence[int], steps: int, frame_scores: bool
) -> Accumulators:
    return Accumulators(
        ContingencyTable(thresholds, steps),
        ContinuousScores(steps),
        FractionsSkillScore(thresholds, scales_px, steps),
        FrameScores(steps) if frame_scores else None,
    )


def evaluate(
    obs: Observations,
    methods: Sequence[Method],
    starts: np.ndarray,
    steps: int,
    thresholds: Sequence[float],
    scales_px: Sequence[int],
    scales_km: Sequence[float],
    *,
    frame_scores: bool = False,
    on_start: Callable[[int, int], Any] | None = None,
) -> Evaluation:
    """Score every method at every start time (index of the last input frame).

    The start time whose verifying observations hold the most rain is kept
    as ``example_start`` for the example plot.
    """
    scores = {m.name: _accumulators(thresholds, scales_px, steps, frame_scores) for m in methods}
    wettest, most_rain = None, -1.0
    for n, start in enumerate(starts):
        observed, forecasts = example_fields(obs, methods, int(start), steps)
        for name, forecast in forecasts.items():
            scores[name].update(forecast, observed)
        rain = float(np.nansum(observed))
        if rain > most_rain:
            wettest, most_rain = int(start), rain
        if on_start:
            on_start(n + 1, starts.size)
    return Evaluation(
        methods=list(methods),
        scores=scores,
        lead_times_s=[obs.timestep_s * (k + 1) for k in range(steps)],
        thresholds=tuple(float(t) for t in thresholds),
        scales_px=list(scales_px),
        scales_km=[float(k) for k in scales_km],
        start_times=obs.times[starts],
        example_start=wettest,
    )


def example_fields(
    obs: Observations, methods: Sequence[Method], start: int, steps: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Observation and every method's forecast for one start time.

    The frames are read once: the longest input any method needs, then the
    ``steps`` verifying frames; each method gets the tail it asks for.
    """
    longest = max(m.in_len for m in methods)
    frames = obs.read(np.arange(start - longest + 1, start + 1 + steps))
    inputs, observed = frames[:longest], frames[longest:]
    forecasts = {m.name: m.predict(inputs[longest - m.in_len :], steps) for m in methods}
    return observed, forecasts
