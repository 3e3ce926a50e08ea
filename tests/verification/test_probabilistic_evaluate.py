"""``nowcast evaluate --members``: ensemble methods scored end to end, files and tables."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.data.observations import load_observations
from nowcast.errors import ConfigError
from nowcast.verification import evaluate as evaluate_module
from nowcast.verification import outputs
from nowcast.verification.baselines import persistence_forecast
from nowcast.verification.ensemble_formulas import fair_crps
from nowcast.verification.evaluate import (
    EvaluateRequest,
    EvaluateResult,
    _file_members,
    run_evaluation,
)
from nowcast.verification.methods import baseline_methods, model_method
from nowcast.verification.probabilistic_report import (
    PROBABILISTIC_COLUMNS,
    brier_skill,
    brier_skill_rows,
)
from nowcast.verification.run import Method
from tests.forecasting.conftest import rain_stack, write_checkpoint
from tests.helpers import write_canonical

MEMBERS = 6
LEADS = [300, 600, 900, 1200]
runner = CliRunner()


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _members(frames: np.ndarray, steps: int, count: int, spread: float) -> np.ndarray:
    """Persistence times lognormal noise, seeded by the last frame (the same for a start)."""
    last = persistence_forecast(frames[-1], steps)
    rng = np.random.default_rng(int(np.nansum(frames[-1]) * 1000) % 2**32)
    return last[None] * rng.lognormal(0.0, spread, (count, *last.shape))  # NaN stays NaN


def _ensemble_method(name: str, spread: float) -> Method:
    def ensemble(frames: np.ndarray, steps: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        return persistence_forecast(frames[-1], steps), _members(frames, steps, count, spread)

    return Method(
        name, lambda f, s: persistence_forecast(f[-1], s), 1, {"toy": True}, ensemble=ensemble
    )


def _methods(names: list[str], notes: list[str], **_: object) -> list[Method]:
    """Persistence, then the toy ensembles ``noisy`` and ``steps`` (a stand-in of the name)."""
    return baseline_methods(["persistence"], notes) + [
        _ensemble_method("noisy", 0.5),
        _ensemble_method("steps", 0.2),
    ]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("probabilistic")
    fields, grid = rain_stack(12)
    write_canonical(path / "obs.nc", fields, grid)
    write_checkpoint(path / "rain.pt")
    return path


def _run(folder: Path, output: Path | None, **kwargs: object) -> EvaluateResult:
    options: dict[str, object] = {
        "models": [str(folder / "rain.pt")],
        "data": folder / "obs.nc",
        "device": "cpu",
        "output_dir": output,
        **kwargs,
    }
    return run_evaluation(EvaluateRequest(**options))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def report(folder: Path) -> EvaluateResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluate_module, "baseline_methods", _methods)
        return _run(folder, folder / "report", members=MEMBERS)


def test_files_and_columns_of_an_evaluation_with_members(
    folder: Path, report: EvaluateResult
) -> None:
    out = folder / "report"
    names = {p.name for p in out.iterdir()}
    assert {"probabilistic.csv", "reliability.png", "rank_histogram.png"} <= names
    for name in ("reliability.png", "rank_histogram.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = _read_csv(out / "probabilistic.csv")
    assert list(rows[0]) == ["method", "lead_time_s", "threshold", *PROBABILISTIC_COLUMNS]
    assert list(rows[0]) == [
        "method",
        "lead_time_s",
        "threshold",
        "n",
        "brier",
        "reliability",
        "resolution",
        "uncertainty",
        "roc_auc",
    ]
    methods = ["rain", "persistence", "noisy", "steps"]
    assert list(dict.fromkeys(r["method"] for r in rows)) == methods
    assert len(rows) == 4 * 4 * 4
    continuous = _read_csv(out / "continuous.csv")
    assert list(continuous[0])[-3:] == ["n_excluded", "crps", "spread_skill"]
    for row in continuous:
        filled = row["method"] in ("rain", "noisy", "steps")  # the model forecasts members too
        assert bool(row["crps"]) == filled and bool(row["spread_skill"]) == filled


def test_scores_match_a_direct_computation(folder: Path, report: EvaluateResult) -> None:
    obs = load_observations([str(folder / "obs.nc")])
    starts = np.searchsorted(obs.times, report.evaluation.start_times)
    crps: list[np.ndarray] = []
    for start in starts:
        frames = obs.read(np.arange(start, start + 2))
        members = _members(frames[:1], 4, MEMBERS, 0.5)[:, 0].reshape(MEMBERS, -1)
        observed = frames[1].ravel()
        valid = np.isfinite(observed) & np.isfinite(members).all(axis=0)
        crps.append(fair_crps(members[:, valid], observed[valid]))
    noisy = {r["lead_time_s"]: r for r in report.continuous if r["method"] == "noisy"}
    assert noisy[300]["crps"] == pytest.approx(np.concatenate(crps).mean(), rel=1e-6)
    # 0/1 Brier of persistence = the share of wrong yes/no forecasts in its contingency table.
    table = {
        (r["lead_time_s"], r["threshold"]): r
        for r in report.categorical
        if r["method"] == "persistence"
    }
    for row in report.probabilistic:
        if row["method"] == "persistence":
            cell = table[row["lead_time_s"], row["threshold"]]
            wrong = cell["misses"] + cell["false_alarms"]
            total = wrong + cell["hits"] + cell["correct_negatives"]
            assert row["brier"] == pytest.approx(wrong / total) and row["n"] == total
    # The ensemble's deterministic forecast (persistence) gives the deterministic scores.
    mse = {(r["method"], r["lead_time_s"]): r["mse"] for r in report.continuous}
    assert all(mse["noisy", lead] == mse["persistence", lead] for lead in LEADS)


def test_brier_skill_against_persistence_and_steps(folder: Path, report: EvaluateResult) -> None:
    brier = {
        (r["method"], r["lead_time_s"], r["threshold"]): r["brier"] for r in report.probabilistic
    }
    references = {r["reference"] for r in report.brier_skill}
    assert references == {"persistence", "steps"}
    for row in report.brier_skill:
        assert row["method"] != row["reference"]
        key = (row["lead_time_s"], row["threshold"])
        expected = brier_skill(brier[(row["method"], *key)], brier[(row["reference"], *key)])
        assert row["bss"] == pytest.approx(expected, nan_ok=True)
    summary = json.loads((folder / "report" / "summary.json").read_text())
    assert summary["members_requested"] == MEMBERS
    assert summary["members"] == {"rain": 6, "persistence": 1, "noisy": 6, "steps": 6}
    assert len(summary["probabilistic"]) == 64 and summary["brier_skill"]
    assert set(summary["rank_histograms"]) == {"rain", "noisy", "steps"}
    assert len(summary["rank_histograms"]["noisy"]) == 4  # per lead, M + 1 counts each
    assert len(summary["rank_histograms"]["noisy"][0]) == MEMBERS + 1
    assert len(summary["reliability"]["steps"]["forecasts"]) == 4  # per threshold


def test_brier_skill_rows_by_hand() -> None:
    rows = [
        {"method": m, "lead_time_s": 300, "threshold": 1.0, "brier": b}
        for m, b in (("persistence", 0.2), ("net", 0.1), ("steps", 0.0))
    ]
    skill = brier_skill_rows(rows)
    assert [(r["method"], r["reference"]) for r in skill] == [
        ("net", "persistence"),
        ("steps", "persistence"),
        ("persistence", "steps"),
        ("net", "steps"),
    ]
    assert skill[0]["bss"] == pytest.approx(0.5) and skill[1]["bss"] == 1.0
    assert np.isnan(skill[3]["bss"])  # a perfect reference: no skill defined
    assert brier_skill_rows(rows[1:2]) == []


@pytest.fixture
def no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty files instead of PNGs (most of an evaluation's time) where only scores count."""

    def placeholder(*args: object, **kwargs: object) -> Path:
        path = Path(str(next(a for a in args if isinstance(a, Path))))
        path.write_bytes(b"")
        return path

    for name in ("plot_score_vs_lead", "plot_example", "plot_reliability", "plot_rank_histograms"):
        monkeypatch.setattr(outputs, name, placeholder)


def test_without_members_outputs_are_as_before_plus_empty_columns(
    folder: Path, tmp_path: Path, no_plots: None
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluate_module, "baseline_methods", _methods)
        result = _run(folder, tmp_path / "out", max_starts=2)
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert not names & {"probabilistic.csv", "reliability.png", "rank_histogram.png"}
    assert result.probabilistic == [] and result.brier_skill == []
    assert all(np.isnan(r["crps"]) and np.isnan(r["spread_skill"]) for r in result.continuous)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "probabilistic" not in summary and "members" not in summary


def test_members_without_an_ensemble_method_is_a_note(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def deterministic_model(*args: Any, **kwargs: Any) -> Method:
        return dataclasses.replace(model_method(*args, **kwargs), ensemble=None)

    monkeypatch.setattr(evaluate_module, "model_method", deterministic_model)
    result = _run(folder, None, baselines=["persistence"], members=4, max_starts=1)
    assert result.probabilistic == []
    assert any(
        n.startswith("--members 4 ignored: none of rain, persistence")
        for n in result.evaluation.notes
    )


@pytest.mark.parametrize("members", [1, -3])
def test_one_or_negative_members_is_a_config_error(folder: Path, members: int) -> None:
    with pytest.raises(ConfigError, match=f"--members must be 0 .* or at least 2.*got {members}"):
        _run(folder, None, members=members)


def test_a_forecast_file_with_members_is_scored_with_its_own(folder: Path) -> None:
    obs = load_observations([str(folder / "obs.nc")])
    fixed = np.ones((3, 2, *obs.grid.shape))

    def ensemble(_: np.ndarray, steps: int, __: int) -> tuple[np.ndarray, np.ndarray]:
        return fixed[0, :steps], fixed[:, :steps]

    method = Method("fc", lambda f, s: fixed[0, :s], 1, ensemble=ensemble)
    notes: list[str] = []
    assert _file_members(EvaluateRequest(), obs, method, 5, 2, notes) == 3
    assert notes == ["fc: scored with its 3 members (no --members given)"]
    assert _file_members(EvaluateRequest(members=8), obs, method, 5, 2, notes) == 8


def test_cli_members_option_help_tables_and_usage_error(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_plots: None
) -> None:
    help_text = " ".join(runner.invoke(app, ["evaluate", "--help"]).output.split())
    assert "--members" in help_text and "Members per ensemble forecast" in help_text
    bad = runner.invoke(app, ["evaluate", "--members", "1"])
    assert bad.exit_code == 2 and "--members must be 0" in bad.stderr
    monkeypatch.setattr(evaluate_module, "baseline_methods", _methods)
    done = runner.invoke(
        app,
        ["evaluate", "--model", str(folder / "rain.pt"), "--data", str(folder / "obs.nc")]
        + ["--device", "cpu", "--members", "4", "--max-starts", "2"]
        + ["--output-dir", str(tmp_path / "ev")],
    )
    assert done.exit_code == 0, done.output
    text = " ".join(done.stderr.split())
    assert "Ensemble scores" in text and "CRPS" in text and "spread/skill" in text
    assert "Brier skill score" in text and "BSS>=0.5" in text
    assert (tmp_path / "ev" / "probabilistic.csv").is_file()
