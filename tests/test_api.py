"""The Python API: the commands' results as xarray objects, the same numbers as the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import nowcast
from nowcast.cli import app
from nowcast.errors import ConfigError, InputError
from tests.forecasting.conftest import rain_stack, write_checkpoint
from tests.helpers import write_canonical

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()
PROBABILITY = "probability_of_rainfall_rate_above_threshold"


def _cli(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no runs/ here: the default model is the bundled one
    return tmp_path


def test_a_forecast_is_the_commands_forecast_bit_for_bit(here: Path) -> None:
    sample = nowcast.sample_path()
    _cli("forecast", str(sample), "--steps", "6", "--device", "cpu", "-o", "cli.nc")

    radar = xr.open_dataset(sample, decode_coords="all")
    ours = nowcast.forecast(radar, steps=6, device="cpu")
    from_array = nowcast.forecast(radar["rainfall_rate"], steps=6, device="cpu")
    from_path = nowcast.forecast(sample, steps=6, model=nowcast.load_model(device="cpu"))

    with xr.open_dataset("cli.nc", decode_coords="all") as cli:
        assert set(ours.variables) == set(cli.variables)
        for name in ("rainfall_rate", "time", "forecast_period", "x", "y", "lat", "lon"):
            np.testing.assert_array_equal(ours[name].values, cli[name].values, err_msg=name)
        assert ours.attrs["nowcast_checkpoint_sha256"] == cli.attrs["nowcast_checkpoint_sha256"]
    for other in (from_array, from_path):
        np.testing.assert_array_equal(other["rainfall_rate"].values, ours["rainfall_rate"].values)
    assert ours["rainfall_rate"].sizes == {"time": 6, "y": 96, "x": 96}
    assert not list(here.glob("forecast_*")) and sorted(p.name for p in here.iterdir()) == [
        "cli.nc"
    ]  # the API leaves no file behind


def test_ingest_returns_the_canonical_dataset_the_command_writes(here: Path) -> None:
    odim = REPO / "sample_data" / "odim"
    _cli("ingest", str(odim), "-o", "cli.nc")

    radar = nowcast.ingest(odim, output="kept.nc")

    with xr.open_dataset("cli.nc", decode_coords="all") as cli:
        np.testing.assert_array_equal(radar["rainfall_rate"].values, cli["rainfall_rate"].values)
        assert "crs" in radar["rainfall_rate"].coords  # a DataArray keeps its projection
    assert Path("kept.nc").is_file()
    in_memory = nowcast.ingest(sorted(odim.glob("*.h5"))[:6])
    assert in_memory["rainfall_rate"].shape == (6, 96, 96)


def test_evaluate_gives_the_scores_the_command_writes(here: Path) -> None:
    options = ["--max-starts", "3", "--baselines", "persistence", "--device", "cpu"]
    _cli("evaluate", *options, "--output-dir", "ev")

    scores = nowcast.evaluate(baselines=["persistence"], max_starts=3, device="cpu")

    summary = json.loads(Path("ev/summary.json").read_text())
    assert list(scores["model"].values) == ["default", "persistence"]
    assert scores.attrs["n_start_times"] == summary["n_start_times"] == 3
    for row in summary["categorical"]:
        cell = scores.sel(
            model=row["method"], lead_time=np.timedelta64(row["lead_time_s"], "s")
        ).sel(threshold=row["threshold"])
        assert float(cell["csi"]) == pytest.approx(row["csi"], nan_ok=True)
        assert float(cell["frequency_bias"]) == pytest.approx(row["bias"], nan_ok=True)
    for row in summary["continuous"]:
        cell = scores.sel(model=row["method"], lead_time=np.timedelta64(row["lead_time_s"], "s"))
        assert float(cell["mse"]) == pytest.approx(row["mse"])
    assert float(scores["mse"].sel(model="default", lead_time="30min")) > 0


def _small_case(folder: Path) -> tuple[Path, Path]:
    """Twelve random rain frames on a 24 x 28 grid and an untrained checkpoint."""
    return write_canonical(folder / "obs.nc", rain_stack(12)[0]), write_checkpoint(folder / "m.pt")


def test_a_forecast_with_members_is_the_commands_ensemble(here: Path) -> None:
    obs, model = _small_case(here)
    args = ["--members", "3", "--probabilities", "0.1,1", "--seed", "2", "--device", "cpu"]
    _cli("forecast", str(obs), "-m", str(model), "-n", "2", *args, "-o", "cli.nc")

    ens = nowcast.forecast(
        obs, steps=2, model=model, device="cpu", members=3, probabilities=[1, 0.1], seed=2
    )
    other = nowcast.forecast(obs, steps=2, model=model, device="cpu", members=3, seed=3)
    single = nowcast.forecast(obs, steps=2, model=model, device="cpu")

    assert ens["rainfall_rate"].sizes == {"realization": 3, "time": 2, "y": 24, "x": 28}
    assert ens[PROBABILITY].sizes == {"threshold": 2, "time": 2, "y": 24, "x": 28}
    np.testing.assert_array_equal(ens["threshold"].values, np.float32([0.1, 1.0]))
    assert int(ens.attrs["nowcast_ensemble_members"]) == 3
    with xr.open_dataset("cli.nc", decode_coords="all") as cli:
        assert set(ens.variables) == set(cli.variables)
        for name in ("rainfall_rate", "rainfall_rate_deterministic", PROBABILITY):
            np.testing.assert_array_equal(ens[name].values, cli[name].values, err_msg=name)
    np.testing.assert_array_equal(
        ens["rainfall_rate_deterministic"].values, single["rainfall_rate"].values
    )
    assert "realization" not in single.dims and PROBABILITY not in single
    assert PROBABILITY not in other
    assert not np.array_equal(other["rainfall_rate"].values, ens["rainfall_rate"].values)
    with pytest.raises(ConfigError, match="members must be 0 .* got 1"):
        nowcast.forecast(obs, steps=2, model=model, device="cpu", members=1)
    with pytest.raises(ConfigError, match="needs --members"):
        nowcast.forecast(obs, steps=2, model=model, device="cpu", probabilities=[1.0])
    with pytest.raises(ConfigError, match="numbers > 0"):
        nowcast.forecast(obs, steps=2, model=model, device="cpu", members=2, probabilities=[0])
    assert sorted(p.name for p in here.iterdir()) == ["cli.nc", "m.pt", "obs.nc"]


def test_evaluate_with_members_adds_the_ensemble_scores(here: Path) -> None:
    obs, model = _small_case(here)
    baselines = ["persistence"]

    plain = nowcast.evaluate(obs, model, baselines=baselines, max_starts=2, device="cpu")
    scores = nowcast.evaluate(
        obs, model, baselines=baselines, max_starts=2, device="cpu", members=3
    )

    crps, ratio = (scores[name].sel(model="m").values for name in ("crps", "spread_skill"))
    assert crps.shape == ratio.shape == (4,)  # the model's 4 lead times
    assert np.all(crps > 0) and np.all(ratio > 0)
    assert np.isnan(scores["crps"].sel(model="persistence")).all()  # forecasts no members
    assert np.isnan(plain["crps"]).all() and np.isnan(plain["spread_skill"]).all()
    # The members leave the deterministic scores as they are.
    np.testing.assert_array_equal(plain["mse"].values, scores["mse"].values)
    np.testing.assert_array_equal(plain["csi"].values, scores["csi"].values)
    with pytest.raises(ConfigError, match="--members must be 0 .* got 1"):
        nowcast.evaluate(obs, model, baselines=["persistence"], device="cpu", members=1)
    assert sorted(p.name for p in here.iterdir()) == ["m.pt", "obs.nc"]  # no files written


def test_bad_input_raises_the_commands_errors(here: Path) -> None:
    with pytest.raises(InputError):
        nowcast.forecast("no-such-file.nc")
    with pytest.raises(ConfigError, match="steps must be >= 1"):
        nowcast.forecast(nowcast.sample_path(), steps=0)


def test_import_nowcast_stays_light_and_ingest_needs_no_torch() -> None:
    code = (
        "import sys, nowcast; assert 'torch' not in sys.modules; "
        "nowcast.ingest(nowcast.sample_path()); assert 'torch' not in sys.modules; "
        "assert {'ingest', 'load_model', 'forecast', 'evaluate'} <= set(dir(nowcast))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with pytest.raises(AttributeError, match="no attribute 'predict'"):
        nowcast.predict  # noqa: B018


def test_the_documented_example_runs_and_prints_what_the_page_shows(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = (REPO / "docs" / "python-api.md").read_text(encoding="utf-8")
    code, shown = re.findall(r"```(?:python)?\n(.*?)```", page, re.S)[:2]

    exec(compile(code, "docs/python-api.md", "exec"), {})

    printed = capsys.readouterr().out
    number = r"-?\d+\.?\d*"
    assert re.sub(number, "#", printed) == re.sub(number, "#", shown)  # the same lines
    ours, theirs = (np.array(re.findall(number, text), float) for text in (printed, shown))
    np.testing.assert_allclose(ours, theirs, rtol=0.01, atol=0.002)  # torch builds differ a bit


def test_the_readme_snippet_runs(here: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", readme, re.S)
    names: dict[str, object] = {}

    exec(compile(code, "README.md", "exec"), names)

    assert isinstance(names["forecast"], xr.Dataset) and isinstance(names["scores"], xr.Dataset)
