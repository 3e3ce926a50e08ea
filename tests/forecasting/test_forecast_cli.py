"""``nowcast forecast``: a CF-compliant file on the input's grid, or one clear error and no file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import torch
import xarray as xr
from typer.testing import CliRunner, Result

from nowcast.cli import app
from nowcast.forecasting import model_choice
from nowcast.forecasting import run as forecasting_run
from nowcast.forecasting.model_choice import sha256_of
from nowcast.models import encoder_forecaster
from nowcast.motion import estimate_motion
from nowcast.synthetic.odim_write import write_odim
from nowcast.synthetic.sample import SAMPLE_FILE
from tests.forecasting.conftest import rain_stack
from tests.helpers import T0, write_canonical

runner = CliRunner()


def _forecast(*args: str | Path | int) -> Result:
    return runner.invoke(app, ["forecast", *[str(a) for a in args]])


def _error_line(result: Result) -> str:
    """The single ``error:`` line of a failed command: all of its stderr (and no traceback).

    The stages the command got to are logged one line each on stdout (it is not a
    terminal here), never on stderr, and no result line is among them.
    """
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and "wrote " not in result.stdout
    return lines[0]


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_forecast_file_matches_the_input_grid_and_times(obs_file: Path, ckpt_dir: Path) -> None:
    out = obs_file.parent / "fc.nc"
    result = _forecast(obs_file, "--steps", 6, "--model", ckpt_dir / "rain.pt", "-o", out)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 6 steps from 2024-06-01T12:55:00Z, grid 24 x 28" in " ".join(
        result.stdout.split()
    )
    assert _files(obs_file.parent) == {"obs.nc", "fc.nc"}
    last = netCDF4.Dataset(obs_file)["rainfall_rate"][-1].filled(np.nan)
    with (
        xr.open_dataset(out, decode_coords="all") as fc,
        xr.open_dataset(obs_file, decode_coords="all") as obs,
    ):
        rain = fc["rainfall_rate"]
        assert rain.dims == ("time", "y", "x") and rain.shape == (6, 24, 28)
        np.testing.assert_array_equal(fc["x"].values, obs["x"].values)
        np.testing.assert_array_equal(fc["y"].values, obs["y"].values)
        assert rain.encoding["grid_mapping"] == "crs"
        mapping = fc["crs"].attrs["grid_mapping_name"]
        assert mapping == obs["crs"].attrs["grid_mapping_name"] == "lambert_azimuthal_equal_area"
        np.testing.assert_array_equal(np.isnan(rain.values), np.isnan(last)[None].repeat(6, 0))
        assert np.nanmin(rain.values) >= 0.0
        reference = fc["forecast_reference_time"].values
        assert reference == obs["time"].values[-1] == np.datetime64("2024-06-01T12:55")
        lead_s = (fc["time"].values - reference) / np.timedelta64(1, "s")
        np.testing.assert_array_equal(fc["forecast_period"].values, lead_s)
        np.testing.assert_array_equal(lead_s, 300 * np.arange(1, 7))
        assert fc.attrs["nowcast_checkpoint_sha256"] == sha256_of(ckpt_dir / "rain.pt")
        assert fc.attrs["nowcast_input_frames"] == 4
        assert fc.attrs["history"].split("Z: ", 1)[1].startswith("nowcast ")  # the command line


def test_forecast_file_passes_the_cf_checker(obs_file: Path, ckpt_dir: Path) -> None:
    pytest.importorskip("compliance_checker")
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    out = obs_file.parent / "fc.nc"
    assert _forecast(obs_file, "-n", 2, "-m", ckpt_dir / "rain.pt", "-o", out).exit_code == 0
    CheckSuite.load_all_available_checkers()
    report = obs_file.parent / "report.json"
    _, errors = ComplianceChecker.run_checker(
        str(out), ["cf:1.11"], 0, "normal", output_filename=str(report), output_format="json"
    )
    result = json.loads(report.read_text())["cf:1.11"]
    assert not errors
    assert result["high_count"] == 0, result["high_priorities"]


def test_at_sets_the_reference_time(obs_file: Path, ckpt_dir: Path) -> None:
    out = obs_file.parent / "fc.nc"
    model = ckpt_dir / "rain.pt"
    result = _forecast(obs_file, "-n", 2, "-m", model, "--at", "2024-06-01T12:32Z", "-o", out)
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out) as fc:
        assert fc["forecast_reference_time"].values == np.datetime64("2024-06-01T12:30")
        np.testing.assert_array_equal(
            fc["time"].values, np.array(["2024-06-01T12:35", "2024-06-01T12:40"], "M8[ns]")
        )


def test_pack_stores_int16_within_a_hundredth(obs_file: Path, ckpt_dir: Path) -> None:
    model = ckpt_dir / "rain.pt"
    plain, packed = obs_file.parent / "plain.nc", obs_file.parent / "packed.nc"
    assert _forecast(obs_file, "-n", 3, "-m", model, "-o", plain).exit_code == 0
    assert _forecast(obs_file, "-n", 3, "-m", model, "-o", packed, "--pack").exit_code == 0
    with netCDF4.Dataset(packed) as nc:
        assert nc["rainfall_rate"].dtype == np.int16
    with xr.open_dataset(plain) as a, xr.open_dataset(packed) as b:
        exact, decoded = a["rainfall_rate"].values, b["rainfall_rate"].values
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(decoded), np.isnan(exact))
    assert np.nanmax(np.abs(decoded - exact)) <= 0.005 + 1e-6


def test_raw_odim_files_and_the_default_output_name(
    tmp_path: Path, ckpt_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields, grid = rain_stack(5)
    raw = tmp_path / "raw"
    raw.mkdir()
    for k in range(5):
        write_odim(
            raw / f"r{k}.h5", np.round(fields[k], 2), T0 + np.timedelta64(300 * k, "s"), grid
        )
    monkeypatch.chdir(tmp_path)
    result = _forecast(raw, "-n", 2, "-m", ckpt_dir / "rain.pt")
    assert result.exit_code == 0, result.output
    out = tmp_path / "forecast_20240601T1220Z.nc"
    with xr.open_dataset(out) as fc:
        assert fc["rainfall_rate"].shape == (2, 24, 28)
        assert fc["forecast_reference_time"].values == np.datetime64("2024-06-01T12:20")
    # With --at the name carries the reference time actually used (12:15, not 12:17).
    result = _forecast(
        raw, "-n", 2, "-m", ckpt_dir / "rain.pt", "--at", "2024-06-01T12:17", "--plot"
    )
    assert result.exit_code == 0, result.output
    png = tmp_path / "forecast_20240601T1215Z.png"
    assert _files(tmp_path) == {"raw", out.name, "forecast_20240601T1215Z.nc", png.name}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_small_tiles_on_the_sample_grid(tmp_path: Path, ckpt_dir: Path) -> None:
    out = tmp_path / "fc.nc"
    result = _forecast(SAMPLE_FILE, "-n", 2, "-m", ckpt_dir / "rain.pt", "--tile", 64, "-o", out)
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out) as fc:
        assert fc["rainfall_rate"].shape == (2, 96, 96)


def _few_frames(folder: Path) -> Path:
    fields, grid = rain_stack(3)
    return write_canonical(folder / "few.nc", fields, grid)


def _gap(folder: Path) -> Path:
    fields, grid = rain_stack(6)
    times = [T0 + np.timedelta64(300 * k, "s") for k in (0, 1, 2, 3, 5, 6)]
    return write_canonical(folder / "gap.nc", fields, grid, times=times)


def _not_rain(folder: Path) -> Path:
    path = folder / "temperature.nc"
    with netCDF4.Dataset(path, "w") as nc:
        for name, size in (("time", 5), ("y", 4), ("x", 4)):
            nc.createDimension(name, size)
        var = nc.createVariable("temperature", "f4", ("time", "y", "x"))
        var.standard_name, var.units = "air_temperature", "K"
        var[:] = 280.0
        time = nc.createVariable("time", "i8", ("time",))
        time.units = "seconds since 1970-01-01"
        time[:] = np.arange(5) * 300
    return path


@pytest.mark.parametrize(
    ("make_input", "model", "expected"),
    [
        (_few_frames, "rain.pt", "has 3 frame(s) up to 2024-06-01T12:10:00Z; the model needs 4"),
        (_gap, "rain.pt", "missing: 2024-06-01T12:20:00Z"),
        (_not_rain, "rain.pt", "temperature.nc: not a recognised radar"),
        (_few_frames, "intensity.pt", "was trained on intensity but"),
    ],
    ids=["too-few-frames", "gap", "not-rain", "other-variable"],
)
def test_bad_inputs_fail_with_one_line_and_no_file(
    tmp_path: Path,
    ckpt_dir: Path,
    make_input: Callable[[Path], Path],
    model: str,
    expected: str,
) -> None:
    source = make_input(tmp_path)
    before = _files(tmp_path)
    result = _forecast(source, "-n", 2, "-m", ckpt_dir / model, "-o", tmp_path / "fc.nc")
    assert expected in _error_line(result)
    assert _files(tmp_path) == before


def test_existing_output_is_kept_without_overwrite(obs_file: Path, ckpt_dir: Path) -> None:
    out = obs_file.parent / "fc.nc"
    out.write_text("keep me")
    result = _forecast(obs_file, "-n", 2, "-m", ckpt_dir / "rain.pt", "-o", out)
    assert "use --overwrite" in _error_line(result)
    assert out.read_text() == "keep me" and _files(obs_file.parent) == {"obs.nc", "fc.nc"}
    again = _forecast(obs_file, "-n", 2, "-m", ckpt_dir / "rain.pt", "-o", out, "--overwrite")
    assert again.exit_code == 0, again.output
    with xr.open_dataset(out) as fc:
        assert fc["rainfall_rate"].shape == (2, 24, 28)


@pytest.mark.parametrize(
    ("at", "expected"),
    [("yesterday", "--at 'yesterday' is not an ISO time"), ("2024-06-01T11:00", "no frame at")],
)
def test_bad_at_fails_with_one_line(obs_file: Path, ckpt_dir: Path, at: str, expected: str) -> None:
    out = obs_file.parent / "fc.nc"
    result = _forecast(obs_file, "-m", ckpt_dir / "rain.pt", "--at", at, "-o", out)
    assert expected in _error_line(result)
    assert not out.exists()


def test_model_may_be_a_run_folder_and_a_missing_one_is_an_error(
    obs_file: Path, ckpt_dir: Path
) -> None:
    run = obs_file.parent / "run"
    run.mkdir()
    shutil.copy(ckpt_dir / "rain.pt", run / "best.pt")
    out = obs_file.parent / "fc.nc"
    assert _forecast(obs_file, "-n", 1, "-m", run, "-o", out).exit_code == 0
    result = _forecast(obs_file, "-m", obs_file.parent / "nothing", "-o", obs_file.parent / "x.nc")
    assert "no such checkpoint file or run folder" in _error_line(result)


def test_missing_bundled_model_is_a_clear_error(
    obs_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = obs_file.parent / "models" / "default" / "default.pt"
    monkeypatch.setattr(model_choice, "DEFAULT_MODEL", absent)
    monkeypatch.chdir(obs_file.parent)  # no runs/ here: the bundled model is the fallback
    for extra in (["--model", "default"], []):
        result = _forecast(obs_file, "-o", obs_file.parent / "fc.nc", *extra)
        assert f"the bundled default model is missing ({absent})" in _error_line(result)
    assert _files(obs_file.parent) == {"obs.nc"}


def test_bundled_model_forecasts_when_present(obs_file: Path) -> None:
    if not model_choice.DEFAULT_MODEL.is_file():
        pytest.skip(f"no bundled model at {model_choice.DEFAULT_MODEL}")
    out = obs_file.parent / "fc.nc"
    result = _forecast(obs_file, "-n", 2, "--model", "default", "-o", out)
    assert result.exit_code == 0, result.output
    assert "3 x 3-pixel blocks" in result.stdout  # its own 3 km working grid on a 1 km grid
    with xr.open_dataset(out) as fc:
        assert fc["rainfall_rate"].shape == (2, 24, 28)
        assert int(fc.attrs["nowcast_block_pixels"]) == 3


def test_cadence_mismatch_warns_and_strict_refuses(obs_file: Path, ckpt_dir: Path) -> None:
    out = obs_file.parent / "fc.nc"
    model = ckpt_dir / "rain_10min.pt"
    result = _forecast(obs_file, "-n", 2, "-m", model, "-o", out)
    assert result.exit_code == 0, result.output
    warning = " ".join(result.stderr.split())
    assert "warning: input cadence 300 s differs from the model's 600 s" in warning
    with xr.open_dataset(out) as fc:  # steps follow the data's cadence
        np.testing.assert_array_equal(fc["forecast_period"].values, [300, 600])
    out.unlink()
    strict = _forecast(obs_file, "-n", 2, "-m", model, "-o", out, "--strict")
    line = _error_line(strict)
    assert "300 s" in line and "600 s" in line and "(--strict)" in line
    assert _files(obs_file.parent) == {"obs.nc"}


def test_a_moving_frame_forecast_fits_the_motion_once(
    obs_file: Path, ckpt_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits = []

    def counted(frames: torch.Tensor, **kwargs: float) -> torch.Tensor:
        fits.append(tuple(frames.shape))
        return estimate_motion(frames, **kwargs)

    monkeypatch.setattr(forecasting_run, "estimate_motion", counted)
    monkeypatch.setattr(encoder_forecaster, "estimate_motion", counted)
    out = obs_file.parent / "moving.nc"
    args = ["-n", 3, "-m", ckpt_dir / "rain.pt", "--scale-km", 2, "--frame", "lagrangian"]
    result = _forecast(obs_file, *args, "-o", out)
    assert result.exit_code == 0, result.output
    # One fit on the working grid, shared by the network and the sub-block detail.
    assert fits == [(1, 4, 12, 14)]  # 4 input frames of 24 x 28 pixels in 2 x 2 blocks


def test_frame_option_runs_any_model_in_the_moving_frame(obs_file: Path, ckpt_dir: Path) -> None:
    outs = {}
    for frame in ("eulerian", "lagrangian"):
        outs[frame] = obs_file.parent / f"{frame}.nc"
        args = ["-n", 3, "-m", ckpt_dir / "rain.pt", "--scale-km", 2, "--frame", frame]
        result = _forecast(obs_file, *args, "-o", outs[frame])
        assert result.exit_code == 0, result.output
        assert ("in the moving frame" in result.stdout) == (frame == "lagrangian")
    with xr.open_dataset(outs["eulerian"]) as fixed, xr.open_dataset(outs["lagrangian"]) as moving:
        assert fixed.attrs["nowcast_model_frame"] == "eulerian"
        assert moving.attrs["nowcast_model_frame"] == "lagrangian"
        assert int(moving.attrs["nowcast_calibrated"]) == 0
        assert int(moving.attrs["nowcast_block_pixels"]) == 2
        np.testing.assert_array_equal(
            np.isnan(fixed["rainfall_rate"].values), np.isnan(moving["rainfall_rate"].values)
        )
        assert not np.allclose(fixed["rainfall_rate"].values, moving["rainfall_rate"].values)


def test_unknown_frame_is_one_line(obs_file: Path, ckpt_dir: Path) -> None:
    out = obs_file.parent / "fc.nc"
    result = _forecast(obs_file, "-m", ckpt_dir / "rain.pt", "--frame", "sideways", "-o", out)
    assert "the model frame must be one of eulerian, lagrangian" in _error_line(result)
    assert not out.exists()
