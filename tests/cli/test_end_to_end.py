"""The README's main job, command by command, as the README writes it (budget shrunk)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner, Result

from nowcast.cli import app

REPO = Path(__file__).resolve().parents[2]
#: What the test adds to a command of the job, so that it takes seconds.
SHRUNK = {"train": ["--max-steps", "2"], "evaluate": ["--max-starts", "3"]}
runner = CliRunner()


def _ok(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"nowcast {' '.join(args)}\n{result.output}"
    return result


def _readme_job() -> list[list[str]]:
    """The commands of the README's main job, in order, each split into words."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"\*\*Main job\*\*.*?```bash\n(.*?)\n```", readme, re.S)
    assert found, "README.md has no main job"
    return [shlex.split(part) for part in found.group(1).split("&&")]


@pytest.mark.slow
def test_readme_job_on_the_sample_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # runs/ and every default output land in tmp_path
    monkeypatch.setenv("NOWCAST_DEVICE", "cpu")
    job = _readme_job()
    assert [words[0] for words in job] == ["pip", "rm", "mkdir", *["nowcast"] * 4]
    Path(job[2][1]).mkdir()  # pip installed this package; rm -rf of a folder never made
    outputs = {}
    for _, command, *words in job[3:]:
        args = [str(REPO / w) if w.startswith("sample_data/") else w for w in words]
        outputs[command] = _ok(command, *args, *SHRUNK.get(command, []))
    assert list(outputs) == ["ingest", "train", "forecast", "evaluate"]

    with xr.open_dataset("demo/radar.nc") as obs:
        assert obs["rainfall_rate"].shape == (72, 96, 96)
        last_time = obs["time"].values[-1]
        last_nan = np.isnan(obs["rainfall_rate"].values[-1])
    run = Path("demo/run")
    assert {"best.pt", "synthetic_train.nc", "sample_scores"} <= {p.name for p in run.iterdir()}
    trained = " ".join(outputs["train"].stdout.split())
    assert re.search(
        r"run CSI [\d.]+ MSE [\d.]+; default CSI [\d.]+ MSE [\d.]+; persistence", trained
    )

    with xr.open_dataset("demo/forecast.nc", decode_coords="all") as fc:
        rain = fc["rainfall_rate"]
        assert rain.shape == (12, 96, 96)  # an hour ahead at 5 minutes
        assert fc["forecast_reference_time"].values == last_time
        np.testing.assert_array_equal(np.isnan(rain.values), np.repeat(last_nan[None], 12, 0))
        assert np.nanmin(rain.values) >= 0.0
    assert Path("demo/forecast.png").is_file()

    assert "3 start times, leads 5-60 min" in " ".join(outputs["evaluate"].stdout.split())
    summary = json.loads(Path("demo/evaluation/summary.json").read_text())
    methods = [m["name"] for m in summary["methods"]]
    assert methods == ["run", "default", "persistence", "extrapolation"]
    assert summary["lead_times_s"] == [300 * k for k in range(1, 13)]
