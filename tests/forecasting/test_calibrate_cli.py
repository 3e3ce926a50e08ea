"""``nowcast calibrate``: blend weights fitted on observations, stored in a checkpoint copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from typer.testing import CliRunner, Result

from nowcast.cli import app
from nowcast.data.observations import load_observations
from nowcast.forecasting.blend import combine
from nowcast.forecasting.calibrate import calibrate
from nowcast.forecasting.ensemble import sharpen
from nowcast.forecasting.model_choice import load_model
from nowcast.forecasting.run import forecast_components, network_forecast
from nowcast.training.checkpoint import load_checkpoint
from tests.forecasting.conftest import write_checkpoint

runner = CliRunner()
CPU = torch.device("cpu")
MOVING = {"frame": "lagrangian", "residual": True}


def _run(*args: str | Path | int) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def _error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def moving_ckpt(tmp_path: Path) -> Path:
    return write_checkpoint(tmp_path / "moving.pt", model_options=MOVING)


def test_calibrated_copy_holds_the_weights_and_forecasts_use_them(
    obs_file: Path, moving_ckpt: Path
) -> None:
    out = obs_file.parent / "calibrated.pt"
    result = _run("calibrate", obs_file, "-m", moving_ckpt, "-o", out, "--scale-km", 2)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: blend weights for 4 leads fitted on 5 start times of 1 file(s)" in (
        " ".join(result.stdout.split())
    )
    source, calibrated = load_checkpoint(moving_ckpt), load_checkpoint(out)
    blend = calibrated["forecast"]["blend"]
    assert len(blend["gain"]) == len(blend["detail"]) == 4
    assert all(0.0 <= w <= 1.0 for w in blend["gain"] + blend["detail"])
    assert blend["fitted_on"] == [str(obs_file)] and blend["starts"] == [5]
    for name, tensor in source["state_dict"].items():  # the network itself is unchanged
        assert torch.equal(tensor, calibrated["state_dict"][name])

    fc_out = obs_file.parent / "fc.nc"
    args = ("forecast", obs_file, "-n", 4, "-o", fc_out, "--scale-km", 2)
    assert _run(*args, "-m", out).exit_code == 0
    with xr.open_dataset(fc_out) as fc:
        forecast = fc["rainfall_rate"].values
        assert int(fc.attrs["nowcast_calibrated"]) == 1
    loaded = load_model(out, CPU)
    obs = load_observations([str(obs_file)])
    raw = obs.read(np.arange(8, 12))
    parts = forecast_components(loaded, raw, 4, device=CPU, factor=2)
    expected = combine(parts, loaded.blend)
    network, moved = network_forecast(loaded, raw, 4, device=CPU, factor=2)
    covered = np.isfinite(forecast)
    np.testing.assert_allclose(network[covered], expected[covered], atol=1e-4)
    # the file holds that forecast, probability-matched to the moving observations
    np.testing.assert_allclose(forecast[covered], sharpen(network, moved)[covered], atol=1e-4)
    assert not np.allclose(expected, combine(parts, None), atol=0.05)


def test_calibration_never_does_worse_than_the_network_on_its_own_data(
    obs_file: Path, moving_ckpt: Path
) -> None:
    loaded = load_model(moving_ckpt, CPU)
    obs = load_observations([str(obs_file)])
    result = calibrate(loaded, [obs, obs], device=CPU, max_starts=3, scale_km=2.0)
    assert result.starts == [3, 3]
    assert (result.mse_calibrated <= result.mse_network + 1e-9).all()
    assert result.mse_calibrated.shape == (4,)


def test_an_existing_output_is_kept(obs_file: Path, moving_ckpt: Path) -> None:
    out = obs_file.parent / "calibrated.pt"
    out.write_text("keep me")
    result = _run("calibrate", obs_file, "-m", moving_ckpt, "-o", out)
    assert "use --overwrite" in _error_line(result)
    assert out.read_text() == "keep me"


def test_data_of_another_variable_is_one_line_and_no_file(
    obs_file: Path, tmp_path: Path, ckpt_dir: Path
) -> None:
    out = tmp_path / "calibrated.pt"
    result = _run("calibrate", obs_file, "-m", ckpt_dir / "intensity.pt", "-o", out)
    assert "was trained on intensity but" in _error_line(result)
    assert not out.exists()


def test_a_missing_data_file_is_one_line(tmp_path: Path, moving_ckpt: Path) -> None:
    result = _run("calibrate", tmp_path / "none.nc", "-m", moving_ckpt, "-o", tmp_path / "c.pt")
    assert "none.nc" in _error_line(result)
    assert not (tmp_path / "c.pt").exists()


def test_help_explains_every_option() -> None:
    result = _run("calibrate", "--help")
    assert result.exit_code == 0
    for option in ("--output", "--model", "--max-starts", "--scale-km", "--device", "--overwrite"):
        assert option in result.stdout
