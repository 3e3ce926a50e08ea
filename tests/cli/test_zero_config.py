"""The commands with no data and no options, from an empty folder outside the repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from nowcast.cli import app
from nowcast.synthetic.sample import sample_path

runner = CliRunner()


def _ok(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"nowcast {' '.join(args)}\n{result.output}"
    return result


def _text(output: str) -> str:
    return " ".join(output.split())  # rich wraps long lines


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "fresh"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("NOWCAST_DEVICE", "cpu")
    return folder


@pytest.mark.slow
def test_info_evaluate_and_forecast_use_the_bundled_sample_and_model(empty: Path) -> None:
    result = _ok("info")
    assert f"the bundled sample: {sample_path()}" in _text(result.stderr)
    assert "72" in result.stdout and "lambert_azimuthal_equal_area" in result.stdout

    result = _ok("evaluate")
    assert f"note: the bundled sample {sample_path()}" in _text(result.stderr)
    summary = json.loads((empty / "evaluation" / "summary.json").read_text())
    assert [m["name"] for m in summary["methods"]] == ["default", "persistence", "extrapolation"]
    assert summary["n_start_times"] == 56 and summary["lead_times_s"][-1] == 3600

    _ok("forecast", str(sample_path()), "--steps", "10", "-o", "fc.nc")
    assert (empty / "fc.nc").is_file()


@pytest.mark.slow
def test_train_makes_its_own_data_says_so_and_compares_with_the_bundled_model(
    empty: Path,
) -> None:
    result = _ok("train", "--max-steps", "2", "--run-dir", "runs/first")

    said = _text(result.stderr)
    assert said.startswith("no DATA given: writing 32 synthetic rain sequences to")
    assert "for 2 steps or 3 min, whichever comes first" in said
    assert "bundled model on the bundled sample" in said
    run = empty / "runs" / "first"
    assert {"synthetic_train.nc", "best.pt", "last.pt", "config.toml"} <= {
        p.name for p in run.iterdir()
    }
    assert 'frame = "lagrangian"' in (run / "config.toml").read_text()  # the quickstart recipe
    summary = json.loads((run / "sample_scores" / "summary.json").read_text())
    assert [m["name"] for m in summary["methods"]] == ["first", "default", "persistence"]
    assert summary["data"] == str(sample_path()) and summary["n_start_times"] == 16
    assert "start times, leads 5-60 min" in _text(result.stdout)

    # The newest run is now the default model; its test split is in its own data file.
    result = _ok("evaluate", "--max-starts", "2", "--baselines", "persistence")
    assert f"test split of {run.resolve() / 'synthetic_train.nc'}" in _text(result.stderr)
