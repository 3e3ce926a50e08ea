"""Files of an evaluation: CSV tables, ``summary.json`` and the plots."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import numpy as np

from nowcast import __version__
from nowcast.data.observations import Observations
from nowcast.verification.plots import lead_columns, plot_example, plot_score_vs_lead
from nowcast.verification.probabilistic import EnsembleScores
from nowcast.verification.probabilistic_plots import plot_rank_histograms, plot_reliability
from nowcast.verification.probabilistic_report import (
    brier_skill_rows,
    ensemble_columns,
    probabilistic_rows,
)
from nowcast.verification.report import (
    Row,
    categorical_rows,
    continuous_rows,
    write_csv,
    write_summary_json,
)
from nowcast.verification.run import Evaluation, example_fields


def score_rows(evaluation: Evaluation) -> tuple[list[Row], list[Row]]:
    """Categorical and continuous rows of every method, in method order."""
    categorical: list[Row] = []
    continuous: list[Row] = []
    for method in evaluation.methods:
        acc = evaluation.scores[method.name]
        categorical += categorical_rows(
            method.name,
            evaluation.lead_times_s,
            acc.categorical,
            acc.fss,
            scales_km=evaluation.scales_km,
        )
        rows = continuous_rows(method.name, evaluation.lead_times_s, acc.continuous, acc.frames)
        ensemble = ensemble_columns(len(rows), acc.probabilistic)
        for row, excluded, extra in zip(rows, acc.categorical.n_excluded, ensemble, strict=True):
            row["n_excluded"] = int(excluded)  # pixels NaN in the forecast or the observation
            row.update(extra)  # crps, spread_skill: empty unless scored with 2 members or more
        continuous += rows
    return categorical, continuous


def ensemble_scores(evaluation: Evaluation) -> dict[str, EnsembleScores]:
    """The probabilistic accumulator of every method scored with members, in method order."""
    scored = {m.name: evaluation.scores[m.name].probabilistic for m in evaluation.methods}
    return {name: acc for name, acc in scored.items() if acc is not None}


def probabilistic_score_rows(evaluation: Evaluation) -> list[Row]:
    """``probabilistic.csv`` rows of every method scored with members (none without)."""
    rows: list[Row] = []
    for name, acc in ensemble_scores(evaluation).items():
        rows += probabilistic_rows(name, evaluation.lead_times_s, acc)
    return rows


def _probabilistic_summary(evaluation: Evaluation, rows: list[Row]) -> dict[str, Any]:
    """What ``summary.json`` adds for the probabilistic scores (nothing without members)."""
    scores = ensemble_scores(evaluation)
    if not scores:
        return {}
    return {
        "members_requested": evaluation.members,
        "members": {name: acc.members for name, acc in scores.items()},
        "probabilistic": rows,
        "brier_skill": brier_skill_rows(rows),
        "rank_histograms": {
            name: acc.rank_counts for name, acc in scores.items() if acc.is_ensemble
        },
        "reliability": {
            name: {"forecasts": acc.reliability()[0], "events": acc.reliability()[1]}
            for name, acc in scores.items()
        },
    }


def _probabilistic_files(
    evaluation: Evaluation, rows: list[Row], output_dir: Path, units: str
) -> dict[str, Path]:
    """``probabilistic.csv`` and, for ensembles of 2 members or more, the two PNGs."""
    if not rows:
        return {}
    paths = {"probabilistic": write_csv(rows, output_dir / "probabilistic.csv")}
    scores = ensemble_scores(evaluation)
    if any(acc.is_ensemble for acc in scores.values()):
        paths["reliability"] = plot_reliability(scores, output_dir / "reliability.png", units)
        paths["rank_histogram"] = plot_rank_histograms(scores, output_dir / "rank_histogram.png")
    return paths


def _versions() -> dict[str, str]:
    import torch

    versions = {
        "nowcast": __version__,
        "numpy": np.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    try:
        from importlib.metadata import version

        versions["pysteps"] = version("pysteps")
    except Exception:
        pass
    return versions


def write_outputs(
    evaluation: Evaluation, obs: Observations, output_dir: Path, provenance: dict[str, Any]
) -> dict[str, Path]:
    """Write ``categorical.csv``, ``continuous.csv``, ``summary.json`` and the PNG plots.

    With members, also ``probabilistic.csv``, ``reliability.png`` and
    ``rank_histogram.png`` (:func:`_probabilistic_files`).
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    categorical, continuous = score_rows(evaluation)
    probabilistic = probabilistic_score_rows(evaluation)
    paths = {
        "categorical": write_csv(categorical, output_dir / "categorical.csv"),
        "continuous": write_csv(continuous, output_dir / "continuous.csv"),
    }
    units = "mm h-1" if obs.variable == "rainfall_rate" else "1"
    paths.update(_probabilistic_files(evaluation, probabilistic, output_dir, units))
    starts = evaluation.start_times
    payload = {
        **provenance,
        "methods": [
            {"name": m.name, "in_len": m.in_len, **m.provenance} for m in evaluation.methods
        ],
        "n_start_times": int(starts.size),
        "period": [f"{starts[0]}Z", f"{starts[-1]}Z"] if starts.size else None,
        "lead_times_s": evaluation.lead_times_s,
        "thresholds": list(evaluation.thresholds),
        "fss_scales_km": evaluation.scales_km,
        "fss_scales_px": evaluation.scales_px,
        "notes": evaluation.notes,
        "versions": _versions(),
        "categorical": categorical,
        "continuous": continuous,
        **_probabilistic_summary(evaluation, probabilistic),
    }
    paths["summary"] = write_summary_json(output_dir / "summary.json", payload)
    paths["csi"] = plot_score_vs_lead(
        categorical, "csi", output_dir / "csi_vs_lead.png", units=units
    )
    paths["mse"] = plot_score_vs_lead(
        continuous, "mse", output_dir / "mse_vs_lead.png", units=units
    )
    if evaluation.example_start is not None:
        leads = lead_columns(len(evaluation.lead_times_s))
        observed, forecasts = example_fields(
            obs, evaluation.methods, evaluation.example_start, len(evaluation.lead_times_s), leads
        )
        paths["example"] = plot_example(
            observed,
            forecasts,
            [evaluation.lead_times_s[k] for k in leads],
            output_dir / "example.png",
            units=units,
            start=obs.times[evaluation.example_start],
        )
    return paths
