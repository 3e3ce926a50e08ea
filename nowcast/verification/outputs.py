"""Files of an evaluation: CSV tables, ``summary.json`` and the plots."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import numpy as np

from nowcast import __version__
from nowcast.data.observations import Observations
from nowcast.verification.plots import plot_example, plot_score_vs_lead
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
        for row, excluded in zip(rows, acc.categorical.n_excluded, strict=True):
            row["n_excluded"] = int(excluded)  # pixels NaN in the forecast or the observation
        continuous += rows
    return categorical, continuous


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
    """Write ``categorical.csv``, ``continuous.csv``, ``summary.json`` and the PNG plots."""
    output_dir.mkdir(parents=True, exist_ok=True)
    categorical, continuous = score_rows(evaluation)
    paths = {
        "categorical": write_csv(categorical, output_dir / "categorical.csv"),
        "continuous": write_csv(continuous, output_dir / "continuous.csv"),
    }
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
    }
    paths["summary"] = write_summary_json(output_dir / "summary.json", payload)
    units = "mm h-1" if obs.variable == "rainfall_rate" else "1"
    paths["csi"] = plot_score_vs_lead(
        categorical, "csi", output_dir / "csi_vs_lead.png", units=units
    )
    paths["mse"] = plot_score_vs_lead(
        continuous, "mse", output_dir / "mse_vs_lead.png", units=units
    )
    if evaluation.example_start is not None:
        observed, forecasts = example_fields(
            obs, evaluation.methods, evaluation.example_start, len(evaluation.lead_times_s)
        )
        paths["example"] = plot_example(
            observed,
            forecasts,
            evaluation.lead_times_s,
            output_dir / "example.png",
            units=units,
            start=obs.times[evaluation.example_start],
        )
    return paths
