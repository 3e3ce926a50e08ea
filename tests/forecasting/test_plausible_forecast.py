"""Plausibility at the canonical file and at the forecast: checked units, bounded values."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest
from typer.testing import CliRunner, Result

from nowcast.cli import app
from nowcast.errors import CanonicalDataError
from nowcast.forecasting import run as forecasting_run
from nowcast.forecasting.blend import Components
from nowcast.forecasting.run import plausible_forecast
from nowcast.io.canonical import open_canonical
from tests.forecasting.conftest import rain_stack
from tests.helpers import write_canonical

runner = CliRunner()


def _forecast(*args: str | Path | int) -> Result:
    return runner.invoke(app, ["forecast", *[str(a) for a in args]])


def _set(path: Path, **attrs: object) -> Path:
    """Edit ``path`` by hand: ``units`` of rainfall_rate, other names global attributes."""
    with netCDF4.Dataset(path, "a") as nc:
        for key, value in attrs.items():
            target = nc["rainfall_rate"] if key == "units" else nc
            target.setncattr(key, value)
    return path


def _written(path: Path) -> np.ndarray:
    with netCDF4.Dataset(path) as nc:
        return np.ma.filled(nc["rainfall_rate"][:].astype(np.float32), np.nan)


# --- the canonical file ---------------------------------------------------------


def test_edited_units_are_refused_when_the_file_is_opened(obs_file: Path) -> None:
    _set(obs_file, units="m s-1")
    with pytest.raises(CanonicalDataError) as exc:
        open_canonical(obs_file)
    assert str(exc.value) == (
        f"{obs_file}: rainfall_rate is in 'm s-1', not mm h-1; "
        "a canonical file holds mm h-1 (ingest the original data again)"
    )
    _set(obs_file, units="mm/h")  # another spelling of the same unit is fine
    assert open_canonical(obs_file).units == "mm/h"


def test_forecast_from_a_file_with_edited_units_is_one_error_line(
    obs_file: Path, ckpt_dir: Path
) -> None:
    _set(obs_file, units="kg m-2 s-1")  # a rate, but 3600 times mm h-1
    out = obs_file.parent / "fc.nc"
    result = _forecast(obs_file, "--model", ckpt_dir / "rain.pt", "-o", out)
    assert result.exit_code == 1 and not out.exists() and "Traceback" not in result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {obs_file}: rainfall_rate is in 'kg m-2 s-1', not mm h-1; "
        "a canonical file holds mm h-1 (ingest the original data again)"
    ]


@pytest.mark.parametrize("value", [0.0, -3.0, "many"])
def test_a_bad_max_rate_attribute_is_refused(obs_file: Path, value: object) -> None:
    _set(obs_file, nowcast_max_rate=value)
    with pytest.raises(CanonicalDataError, match="nowcast_max_rate is .*, not a rate > 0"):
        open_canonical(obs_file)


def test_values_read_are_sanitised_with_the_file_s_max_rate(tmp_path: Path) -> None:
    fields, grid = rain_stack(2)
    fields[:, 5, 6], fields[:, 5, 7], fields[:, 5, 8] = np.inf, 1e30, 600.0
    plain = open_canonical(write_canonical(tmp_path / "plain.nc", fields, grid))
    frame = plain.read(0, 1)[0]
    assert np.isnan(frame[5, 6:9]).all() and np.isfinite(frame[5, 9:]).all()
    np.testing.assert_array_equal(frame[6:], fields[0, 6:])
    wide = open_canonical(write_canonical(tmp_path / "w.nc", fields, grid, max_rate=1000.0))
    assert wide.max_rate == 1000.0 and wide.read(1, 2)[0, 5, 8] == 600.0


# --- the forecast ---------------------------------------------------------------


def test_plausible_forecast_bounds_fills_and_masks() -> None:
    last = np.array([[1.0, 2.0, np.nan, 4.0]], np.float32)
    fields = np.array([[[np.inf, np.nan, 3.0, 9e9]], [[-1.0, 2.5, 5.0, 7.0]]], np.float32)
    out = plausible_forecast(fields, last, 500.0)
    expected = [[[1.0, 2.0, np.nan, 500.0]], [[0.0, 2.5, np.nan, 7.0]]]
    np.testing.assert_array_equal(out, np.array(expected, np.float32))


def test_hand_edited_infinities_never_reach_a_moving_frame_forecast(
    obs_file: Path, ckpt_dir: Path
) -> None:
    with netCDF4.Dataset(obs_file, "a") as nc:  # a patch of inf in every frame, 1e30 in one
        nc["rainfall_rate"][:, 10:14, 10:14] = np.inf
        nc["rainfall_rate"][-2, 3, 3] = 1e30
    out = obs_file.parent / "fc.nc"
    args = ("--model", ckpt_dir / "rain.pt", "--frame", "lagrangian", "--steps", 3, "-o", out)
    result = _forecast(obs_file, *args)
    assert result.exit_code == 0, result.output
    fields = _written(out)
    covered = np.isfinite(open_canonical(obs_file).read(11, 12)[0])
    assert not covered[10:14, 10:14].any() and covered.sum() == 24 * 28 - 6 - 16
    assert np.isfinite(fields[:, covered]).all() and np.isnan(fields[:, ~covered]).all()
    assert 0.0 <= fields[:, covered].min() and fields[:, covered].max() <= 500.0


def test_a_broken_network_still_gives_finite_observed_values(
    obs_file: Path, ckpt_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(parts: Components, weights: object, out: object = None) -> np.ndarray:
        fields = np.full(parts.network.shape, 1e9, np.float32)
        fields[0, 8:10, 8:10] = np.nan
        fields[1, 8:10, 8:10] = -np.inf
        return fields

    monkeypatch.setattr(forecasting_run, "combine", broken)
    out = obs_file.parent / "fc.nc"
    result = _forecast(obs_file, "--model", ckpt_dir / "rain.pt", "--steps", 2, "-o", out)
    assert result.exit_code == 0, result.output
    fields, last = _written(out), open_canonical(obs_file).read(11, 12)[0]
    covered = np.isfinite(last)
    assert np.isfinite(fields[:, covered]).all() and np.isnan(fields[:, ~covered]).all()
    for lead in fields:  # probability-matched: the observed values, each of them once
        np.testing.assert_array_equal(np.sort(lead[covered]), np.sort(last[covered]))
    assert np.nanmax(fields) <= 500.0 and (np.isnan(fields) == np.isnan(last)[None]).all()
