"""``nowcast evaluate`` as a library call: score methods over many start times.

For every start time, each method (trained models, persistence, optical-flow
extrapolation) forecasts from the same observed frames and is compared with
the observations that followed. Counts and sums are accumulated (never the
fields), so memory does not grow with the period.

With ``members > 0`` a method that forecasts members (``Method.ensemble``)
gives its deterministic forecast to the deterministic scores and its members
to :class:`~nowcast.verification.probabilistic.EnsembleScores`; every other
method is scored there as one member (0/1 probabilities: Brier and ROC only).
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
from nowcast.verification.probabilistic import EnsembleScores, check_members

#: A method maps observed input frames ``(T, ny, nx)`` to ``(steps, ny, nx)``.
Predictor = Callable[[np.ndarray, int], np.ndarray]
#: An ensemble method maps ``(frames, steps, members)`` to ``(deterministic, members)``:
#: ``(steps, ny, nx)`` and ``(members, steps, ny, nx)``, both in the observations' units.
EnsemblePredictor = Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]


@dataclass
class Method:
    """A forecasting method under evaluation.

    Attributes:
        name: Label in tables, CSV files and plots.
        predict: ``predict(frames, steps)``; frames are the last ``in_len`` observations.
        in_len: Observed frames the method needs.
        provenance: Facts for ``summary.json`` (checkpoint path and sha256...).
        ensemble: ``ensemble(frames, steps, members)`` for a method that can forecast
            equally likely members (None: deterministic only). Scored with members,
            its deterministic output is what the deterministic scores see.
    """

    name: str
    predict: Predictor
    in_len: int
    provenance: dict[str, Any] = field(default_factory=dict)
    ensemble: EnsemblePredictor | None = None


@dataclass
class Accumulators:
    """Everything scored for one method, pooled over start times."""

    categorical: ContingencyTable
    continuous: ContinuousScores
    fss: FractionsSkillScore
    frames: FrameScores | None = None
    probabilistic: EnsembleScores | None = None

    def update(self, forecast: np.ndarray, observed: np.ndarray) -> None:
        """Add one start time: ``(steps, ny, nx)`` forecast and observation."""
        self.categorical.update_all(forecast, observed)
        self.continuous.update_all(forecast, observed)
        self.fss.update_all(forecast, observed)
        if self.frames is not None:
            self.frames.update_all(forecast, observed)

    def update_members(self, members: np.ndarray, observed: np.ndarray) -> None:
        """Add one start time's members ``(M, steps, ny, nx)`` to the probabilistic scores.

        The accumulator is made at the first call, for the ``M`` of that
        forecast (a forecast file holds its own number of members).
        """
        if self.probabilistic is None:
            thresholds = self.categorical.thresholds
            self.probabilistic = EnsembleScores(thresholds, observed.shape[0], members.shape[0])
        self.probabilistic.update_all(members, observed)


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
    members: int = 0


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
    members: int = 0,
) -> Evaluation:
    """Score every method at every start time (index of the last input frame).

    The start time whose verifying observations hold the most rain is kept
    as ``example_start`` for the example plot. ``members`` > 0 adds the
    probabilistic scores (:func:`method_forecast`): each ensemble method is
    asked for that many members once per start.

    Raises:
        ConfigError: for ``members`` below 0 or of exactly 1.
    """
    members = check_members(members)
    scores = {m.name: _accumulators(thresholds, scales_px, steps, frame_scores) for m in methods}
    wettest, most_rain = None, -1.0
    for n, start in enumerate(starts):
        rain = _score_start(obs, methods, scores, int(start), steps, members)
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
        members=members,
    )


def _score_start(
    obs: Observations,
    methods: Sequence[Method],
    scores: dict[str, Accumulators],
    start: int,
    steps: int,
    members: int,
) -> float:
    """Score every method at one start time; return the rain observed over its lead times.

    The start's frames are freed when this returns, before the next start's are read.
    """
    inputs, observed = read_frames(obs, methods, start, steps)
    for method in methods:
        own = inputs[inputs.shape[0] - method.in_len :]
        _score_method(scores[method.name], method, own, observed, members)
    return float(np.nansum(observed))


def _score_method(
    scores: Accumulators, method: Method, inputs: np.ndarray, observed: np.ndarray, members: int
) -> None:
    """Forecast with one method and add the forecast (and its members) to its scores.

    A function of its own so that the forecast and members are freed when it
    returns: the next method forecasts with no other method's fields held, which
    on a large grid with members (gigabytes) sets the peak memory.
    """
    forecast, ensemble = method_forecast(method, inputs, observed.shape[0], members)
    scores.update(forecast, observed)
    if ensemble is not None:
        scores.update_members(ensemble, observed)


def method_forecast(
    method: Method, inputs: np.ndarray, steps: int, members: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """One method's deterministic forecast ``(steps, ny, nx)`` and, with ``members``, members.

    A method with ``ensemble`` is called once, as ``ensemble(inputs, steps,
    members)``; its members ``(M, steps, ny, nx)`` are kept with whatever
    ``M`` it returns (a forecast file has its own). Any other method's
    forecast doubles as a single member ``(1, steps, ny, nx)``, its 0/1
    probabilities. Without ``members`` (0) there are no members.
    """
    if members and method.ensemble is not None:
        forecast, ensemble = method.ensemble(inputs, steps, members)
        return np.asarray(forecast), np.asarray(ensemble)
    forecast = np.asarray(method.predict(inputs, steps))
    return forecast, (forecast[None] if members else None)


def read_frames(
    obs: Observations, methods: Sequence[Method], start: int, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """The inputs (the longest any method needs) and the ``steps`` verifying frames.

    The frames are read once; each method takes the tail of the inputs it asks for.
    """
    longest = max(m.in_len for m in methods)
    frames = obs.read(np.arange(start - longest + 1, start + 1 + steps))
    return frames[:longest], frames[longest:]


def example_fields(
    obs: Observations, methods: Sequence[Method], start: int, steps: int, leads: Sequence[int]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Observation and every method's (deterministic) forecast at lead indices ``leads``.

    Only the leads the example plot shows are kept, as copies, each method's
    after it forecast: the full forecasts are never held together.

    Returns:
        ``(observed, forecasts)``: ``(len(leads), ny, nx)`` and method name ->
        an array of that shape.
    """
    inputs, observed = read_frames(obs, methods, start, steps)
    picks = list(leads)
    longest = inputs.shape[0]
    forecasts = {}
    for method in methods:
        # one expression: no name keeps the full forecast alive while the next method runs
        forecasts[method.name] = np.asarray(
            method.predict(inputs[longest - method.in_len :], steps)
        )[picks]
    return observed[picks], forecasts
