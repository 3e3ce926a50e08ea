"""``nowcast evaluate`` as one library call: choose methods, data and starts; score; write.

Defaults follow what a user expects: with no options, the newest run's best
checkpoint is scored on the test split of the data it was trained on (the
split is stored in the checkpoint), at every valid start time, for lead
times up to the checkpoint's output length, against persistence and
optical-flow extrapolation. Without a run under ``runs/`` that model is the
bundled one, scored on the bundled sample (:mod:`nowcast.synthetic.sample`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from nowcast.data.observations import (
    Observations,
    load_observations,
    restrict_period,
    thin_starts,
    valid_starts,
)
from nowcast.errors import ConfigError, InputError
from nowcast.forecasting.model_choice import DEFAULT_MODEL, LoadedModel, load_model, resolve_model
from nowcast.forecasting.scale import working_factor
from nowcast.io.grid import parse_utc
from nowcast.io.writers.targets import check_future_folder
from nowcast.models.device import select_device
from nowcast.synthetic.sample import sample_path
from nowcast.verification.fss import scales_to_pixels
from nowcast.verification.methods import baseline_methods, forecast_file_method, model_method
from nowcast.verification.outputs import probabilistic_score_rows, score_rows, write_outputs
from nowcast.verification.probabilistic import check_members
from nowcast.verification.probabilistic_report import brier_skill_rows
from nowcast.verification.report import Row
from nowcast.verification.run import (
    Evaluation,
    Method,
    evaluate,
)

RAIN_THRESHOLDS = (0.5, 1.0, 5.0, 10.0)
INTENSITY_THRESHOLDS = (0.1, 0.5)


@dataclass
class EvaluateRequest:
    """What the user asked for (``None`` = the documented default)."""

    models: list[str] = field(default_factory=list)
    data: Path | None = None
    forecast: Path | None = None
    obs: Path | None = None
    steps: int | None = None
    thresholds: list[float] | None = None
    scales_km: list[float] = field(default_factory=lambda: [1.0, 5.0, 10.0, 20.0])
    baselines: list[str] = field(default_factory=lambda: ["persistence", "extrapolation"])
    start: np.datetime64 | None = None
    end: np.datetime64 | None = None
    max_starts: int = 0
    output_dir: Path | None = Path("evaluation")
    device: str = "auto"
    scale_km: float | None = None
    frame: str | None = None
    #: Members per ensemble forecast: 0 = deterministic scores only, else at least 2.
    members: int = 0


@dataclass
class EvaluateResult:
    """Scores, rows, written files and the one-line headline.

    ``probabilistic`` (rows of ``probabilistic.csv``) and ``brier_skill``
    (Brier skill against persistence and ``steps``) are empty unless some
    method was scored with members.
    """

    evaluation: Evaluation
    categorical: list[Row]
    continuous: list[Row]
    paths: dict[str, Path]
    headline: str
    probabilistic: list[Row] = field(default_factory=list)
    brier_skill: list[Row] = field(default_factory=list)


def _time(text: str | None) -> np.datetime64 | None:
    return None if not text else parse_utc(text, "stored split time")


def _test_period(
    loaded: LoadedModel,
) -> tuple[Path | None, np.datetime64 | None, np.datetime64 | None]:
    """Data file and time range of the test split stored in the checkpoint."""
    split = loaded.checkpoint.get("data", {}).get("split", {}) or {}
    test = split.get("test") or {}
    path = Path(split["data_file"]) if split.get("data_file") else None
    return path, _time(test.get("start")), _time(test.get("end"))


def _model_methods(
    request: EvaluateRequest,
    loaded: list[LoadedModel],
    obs: Observations,
    device: Any,
    notes: list[str],
) -> list[Method]:
    """One method per model, each on its working grid (noted when it is not the data's)."""
    names = [m.name for m in loaded]
    if len(set(names)) < len(names):
        names = [f"{n}#{i + 1}" for i, n in enumerate(names)]
    methods = []
    for model, name in zip(loaded, names, strict=True):
        factor = working_factor(obs.grid, request.scale_km, model.scale_km)
        if factor > 1:
            notes.append(f"{name} forecasts on {factor} x {factor}-pixel blocks (--scale-km)")
        methods.append(model_method(model, device, name, factor, obs.max_rate))
    return methods


def _observations(
    request: EvaluateRequest, loaded: list[LoadedModel]
) -> tuple[Observations, list[str], np.datetime64 | None, np.datetime64 | None]:
    notes: list[str] = []
    data, begin, end = request.data, request.start, request.end
    if data is None and loaded[0].path.resolve() == DEFAULT_MODEL:
        data = sample_path()  # the data it was trained on is not shipped; this one is held out
        notes.append(f"the bundled sample {data}")
    elif data is None:
        data, test_begin, test_end = _test_period(loaded[0])
        if data is None or not data.is_file():
            raise InputError(
                f"{loaded[0].path} names no data file that exists here; give --data DATA.nc"
            )
        begin = begin or test_begin
        end = end or test_end
        notes.append(f"test split of {data}: {begin}Z .. {end}Z")
    obs = load_observations([str(data)])
    for model in loaded:
        if model.variable != obs.variable:
            raise InputError(
                f"{model.path} was trained on {model.variable} but {data} holds {obs.variable}"
            )
    return obs, notes, begin, end


def _scales(request: EvaluateRequest, obs: Observations) -> list[int]:
    pixel_m = obs.grid.spacing[1] if obs.grid.is_projected else 1000.0
    return scales_to_pixels(request.scales_km, pixel_m)


def _pixel_km(obs: Observations) -> float | None:
    """Grid spacing in km for pySTEPS' STEPS; None on a pixel grid (no metres)."""
    return obs.grid.spacing[1] / 1000.0 if obs.grid.is_projected else None


def run_evaluation(
    request: EvaluateRequest, on_start: Callable[[int, int], Any] | None = None
) -> EvaluateResult:
    """Score the requested methods and write the report files into ``request.output_dir``.

    With ``output_dir`` None nothing is written (the Python API returns the scores).

    Raises:
        ConfigError: for a threshold or an FSS scale that is not a number > 0, or
            ``members`` below 0 or of exactly 1.
        InputError, CheckpointError: for unusable observations, models or forecast files.
        OutputError: when ``request.output_dir`` cannot be created or written
            (checked before any scoring, created only when the files are written).
    """
    if request.thresholds is not None:
        positive_numbers(request.thresholds, "--thresholds")
    positive_numbers(request.scales_km, "--scales")
    check_members(request.members, "--members")
    if request.output_dir is not None:
        check_future_folder(request.output_dir)
    if request.forecast is not None:
        return _evaluate_file(request, request.forecast, on_start)
    device = select_device(request.device)
    specs: list[str | None] = list(request.models) or [None]  # no --model: the default choice
    loaded = [load_model(resolve_model(spec), device, request.frame) for spec in specs]
    obs, notes, begin, end = _observations(request, loaded)
    methods = _model_methods(request, loaded, obs, device, notes)
    methods += baseline_methods(
        request.baselines,
        notes,
        timestep_s=obs.timestep_s,
        pixel_km=_pixel_km(obs),
        members=request.members,
    )
    steps = request.steps or max(m.out_len for m in loaded)
    in_len = max(m.in_len for m in methods)
    starts = restrict_period(obs, valid_starts(obs, in_len, steps), steps, begin, end)
    starts = thin_starts(starts, request.max_starts)
    if starts.size == 0:
        raise InputError(
            f"no start time in {obs.source} has {in_len} input and {steps} verifying frames"
        )
    provenance = {"data": obs.source, "models": [str(m.path) for m in loaded]}
    return _score(request, obs, methods, starts, steps, notes, provenance, on_start)


def positive_numbers(values: Sequence[float], option: str) -> list[float]:
    """``values`` as a list when there are some and each is a finite number > 0.

    Thresholds and FSS scales of 0, below 0 or NaN would score nothing meaningful.

    Raises:
        ConfigError: naming ``option`` (the command-line option that gave them).
    """
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        given = ", ".join(f"{v:g}" for v in values) or "nothing"
        raise ConfigError(f"{option} must be numbers > 0, got {given}")
    return list(values)


def _evaluate_file(
    request: EvaluateRequest, forecast: Path, on_start: Callable[[int, int], Any] | None
) -> EvaluateResult:
    if request.obs is None:
        raise InputError("--forecast needs --obs OBS.nc (the observations to score against)")
    obs = load_observations([str(request.obs)])
    notes: list[str] = []
    method, start, steps = forecast_file_method(forecast, obs, notes)
    steps = min(steps, request.steps or steps)
    request = replace(request, members=_file_members(request, obs, method, start, steps, notes))
    methods = [method] + baseline_methods(
        request.baselines,
        notes,
        timestep_s=obs.timestep_s,
        pixel_km=_pixel_km(obs),
        members=request.members,
    )
    if start + 1 < max(m.in_len for m in methods):
        methods = [m for m in methods if m.in_len <= start + 1]
        notes.append("some baselines skipped: too few observed frames before the reference time")
    provenance = {"data": obs.source, "forecast": str(forecast)}
    return _score(request, obs, methods, np.array([start]), steps, notes, provenance, on_start)


def _file_members(
    request: EvaluateRequest,
    obs: Observations,
    method: Method,
    start: int,
    steps: int,
    notes: list[str],
) -> int:
    """``--members``, or without it the member count of a forecast file that holds members.

    A file's members are scored without asking; an ensemble baseline (``steps``)
    then forecasts as many, so that both are compared on equal terms.
    """
    if request.members or method.ensemble is None:
        return request.members
    inputs = obs.read(np.arange(start - method.in_len + 1, start + 1))
    count = int(np.shape(method.ensemble(inputs, steps, 0)[1])[0])  # the file ignores the 0
    if count < 2:
        notes.append(f"{method.name} holds {count} member: no probabilistic scores")
        return 0
    notes.append(f"{method.name}: scored with its {count} members (no --members given)")
    return count


def _score(
    request: EvaluateRequest,
    obs: Observations,
    methods: list[Method],
    starts: np.ndarray,
    steps: int,
    notes: list[str],
    provenance: dict[str, Any],
    on_start: Callable[[int, int], Any] | None,
) -> EvaluateResult:
    thresholds = request.thresholds or list(
        RAIN_THRESHOLDS if obs.variable == "rainfall_rate" else INTENSITY_THRESHOLDS
    )
    members = request.members
    if members and not any(m.ensemble for m in methods):
        notes.append(
            f"--members {members} ignored: none of {', '.join(m.name for m in methods)} "
            "forecasts members"
        )
        members = 0
    evaluation = evaluate(
        obs,
        methods,
        starts,
        steps,
        thresholds,
        _scales(request, obs),
        request.scales_km,
        frame_scores=obs.variable == "intensity",
        on_start=on_start,
        members=members,
    )
    evaluation.notes = notes
    paths = {}
    if request.output_dir is not None:
        paths = write_outputs(evaluation, obs, request.output_dir, provenance)
    categorical, continuous = score_rows(evaluation)
    probabilistic = probabilistic_score_rows(evaluation)
    return EvaluateResult(
        evaluation,
        categorical,
        continuous,
        paths,
        headline(evaluation, categorical, continuous),
        probabilistic,
        brier_skill_rows(probabilistic),
    )


def headline(evaluation: Evaluation, categorical: list[Row], continuous: list[Row]) -> str:
    """One line: mean CSI at the key threshold and mean MSE over all leads, per method."""
    thr = 1.0 if 1.0 in evaluation.thresholds else evaluation.thresholds[0]
    parts = []
    for method in evaluation.methods:
        csi = [
            r["csi"] for r in categorical if r["method"] == method.name and r["threshold"] == thr
        ]
        mse = [r["mse"] for r in continuous if r["method"] == method.name]
        mean_csi, mean_mse = np.nanmean(np.array(csi, float)), np.nanmean(np.array(mse, float))
        parts.append(f"{method.name} CSI {mean_csi:.3f} MSE {mean_mse:.3f}")
    leads = evaluation.lead_times_s
    return (
        f"{evaluation.start_times.size} start times, leads {leads[0] // 60}-{leads[-1] // 60} min, "
        f"mean over leads at >= {thr:g}: " + "; ".join(parts)
    )
