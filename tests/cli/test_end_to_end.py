"""The README's main job, command by command: ingest -> train -> forecast -> evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner, Result

from nowcast.cli import app

REPO = Path(__file__).resolve().parents[2]
SAMPLE_ODIM = REPO / "sample_data" / "odim"
runner = CliRunner()


def _ok(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"nowcast {' '.join(args)}\n{result.output}"
    return result


def test_readme_job_on_the_sample_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # runs/ and every default output land in tmp_path
    monkeypatch.setenv("NOWCAST_DEVICE", "cpu")

    _ok("ingest", str(SAMPLE_ODIM), "-o", "s.nc")
    with xr.open_dataset("s.nc") as obs:
        assert obs["rainfall_rate"].shape == (72, 96, 96)
        last_time = obs["time"].values[-1]
        last_nan = np.isnan(obs["rainfall_rate"].values[-1])

    _ok("train", "s.nc", "--preset", "tiny", "--max-steps", "4", "--run-dir", "runs/demo")
    run = Path("runs/demo")
    assert (run / "best.pt").is_file() and (run / "last.pt").is_file()

    _ok("forecast", "s.nc", "--steps", "6", "--model", "runs/demo", "-o", "fc.nc")
    with xr.open_dataset("fc.nc", decode_coords="all") as fc:
        rain = fc["rainfall_rate"]
        assert rain.shape == (6, 96, 96)
        assert fc["forecast_reference_time"].values == last_time
        np.testing.assert_array_equal(np.isnan(rain.values), np.repeat(last_nan[None], 6, 0))
        assert np.nanmin(rain.values) >= 0.0
        np.testing.assert_array_equal(fc["forecast_period"].values, 300 * np.arange(1, 7))

    result = _ok(
        "evaluate",
        *("--model", "runs/demo", "--data", "s.nc", "--baselines", "persistence"),
        *("--max-starts", "3", "--output-dir", "ev"),
    )
    assert "3 start times, leads 5-20 min" in " ".join(result.stdout.split())
    written = {p.name for p in Path("ev").iterdir()}
    assert written == {
        "categorical.csv",
        "continuous.csv",
        "summary.json",
        "csi_vs_lead.png",
        "mse_vs_lead.png",
        "example.png",
    }
    summary = json.loads(Path("ev/summary.json").read_text())
    assert [m["name"] for m in summary["methods"]] == ["demo", "persistence"]
    assert summary["n_start_times"] == 3 and summary["lead_times_s"] == [300, 600, 900, 1200]

    # As in the README: no --data scores the test split of the data the model was trained on.
    result = _ok(
        "evaluate",
        *("--model", "runs/demo", "--baselines", "persistence", "--max-starts", "1"),
        *("--output-dir", "ev-test"),
    )
    assert "test split of" in " ".join(result.stderr.split())
    summary = json.loads(Path("ev-test/summary.json").read_text())
    assert summary["data"] == str((tmp_path / "s.nc").resolve())
    assert summary["n_start_times"] == 1
