"""The plausibility contract: the rule itself, and each reader's way of breaking it."""

from __future__ import annotations

from pathlib import Path

import h5py
import netCDF4
import numpy as np
import pytest
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.errors import ConfigError, InputError
from nowcast.io.canonical import open_canonical
from nowcast.io.grid import Frame
from nowcast.io.ingest.pipeline import ingest
from nowcast.io.plausible import (
    DEFAULT_MAX_RATE,
    check_max_rate,
    implausible_mask,
    sanitise,
    screen_frame,
)
from nowcast.io.readers.registry import ReaderOptions
from nowcast.synthetic.odim_write import write_odim
from tests.helpers import laea_grid, rain_frames
from tests.io.cf_files import RATES, T0, write_cf

runner = CliRunner()
STEP = np.timedelta64(300, "s")
TIMES = (T0, T0 + STEP)


def _two_frames(values: np.ndarray) -> np.ndarray:
    """``values`` twice, as the two frames of a CF file (a single frame has no time step)."""
    return np.stack([values, values])


def _frame(values: np.ndarray) -> Frame:
    return Frame(T0, values.astype(np.float32), laea_grid(*values.shape), "rainfall_rate", "f.nc")


# --- the rule -------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_max_rate_must_be_finite_and_positive(value: float) -> None:
    with pytest.raises(ConfigError, match="finite and > 0"):
        check_max_rate(value)
    with pytest.raises(ConfigError):
        ReaderOptions(max_rate=value)
    assert check_max_rate(120.5) == 120.5


def test_sanitise_masks_what_no_radar_measures_and_keeps_the_rest() -> None:
    values = np.array(
        [np.inf, -np.inf, 1e30, -1e30, 500.5, 500.0, -0.5, np.nan, 0.0, 12.25], np.float32
    )
    out = sanitise(values.copy(), DEFAULT_MAX_RATE)
    expected = [np.nan] * 5 + [500.0, -0.5, np.nan, 0.0, 12.25]
    np.testing.assert_array_equal(out, np.array(expected, np.float32))


def test_clean_frames_need_no_mask() -> None:
    assert implausible_mask(RATES.astype(np.float32), 500.0) is None
    assert implausible_mask(np.full((3, 3), np.nan, np.float32), 500.0) is None
    mask = implausible_mask(np.array([1.0, np.inf, np.nan], np.float32), 500.0)
    assert mask is not None and mask.tolist() == [False, True, False]


def test_stray_hot_pixels_are_masked_and_counted() -> None:
    values = np.zeros((40, 50), np.float32)  # dry: 2000 valid pixels, no rain
    values[3, 4] = np.inf  # one stray pixel: below 0.1 % of the valid pixels
    frame = screen_frame(_frame(values), DEFAULT_MAX_RATE)
    assert frame.implausible == 1 and np.isnan(frame.values[3, 4])
    assert np.count_nonzero(np.isnan(frame.values)) == 1 and frame.values.dtype == np.float32
    assert values[3, 4] == np.inf  # the reader's array is left alone


def test_a_frame_made_mostly_of_implausible_values_is_refused() -> None:
    values = np.zeros((40, 50), np.float32)
    values[0, :3] = 1e30  # three of them reach 0.1 % of 2000 valid pixels, and outnumber rain
    values[1, :2] = 4.0
    with pytest.raises(InputError) as exc:
        screen_frame(_frame(values), DEFAULT_MAX_RATE)
    assert str(exc.value) == (
        "f.nc: implausible frame at 2024-06-01T12:00:00Z: 3 of its 5 non-zero values "
        "are infinite or beyond ±500 mm h-1 (wrong units, gain or scale_factor?)"
    )
    values[1, :3] = 4.0  # as much plausible rain as implausible values: masked, not refused
    assert screen_frame(_frame(values), DEFAULT_MAX_RATE).implausible == 3


def test_intensity_is_plausible_up_to_one() -> None:
    frame = Frame(T0, np.array([[0.5, 1.0, 1.5]], np.float32), laea_grid(1, 3), "intensity", "m")
    screened = screen_frame(frame, DEFAULT_MAX_RATE)
    assert screened.implausible == 1 and np.isnan(screened.values[0, 2])


# --- CF NetCDF ------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.inf, 1e30, -1e30])
def test_cf_corrupt_pixels_become_no_data_and_are_counted(tmp_path: Path, bad: float) -> None:
    data = RATES.copy()
    data[0, 0] = bad  # one corrupt pixel among twelve rain pixels
    path = tmp_path / "corrupt.nc"
    write_cf(path, _two_frames(data), times=TIMES, packed=True)  # stored as it stands
    summary = ingest([str(path)], tmp_path / "out.nc")
    assert summary.stats.implausible == 2 and summary.stats.max_value == 80.0
    canonical = open_canonical(tmp_path / "out.nc")
    frames = canonical.read(0, 2)
    np.testing.assert_array_equal(
        np.isnan(frames[0]), np.isnan(RATES) | (np.arange(20) == 0).reshape(4, 5)
    )
    assert canonical.attrs["nowcast_implausible_values"] == 2
    assert canonical.attrs["nowcast_max_rate"] == DEFAULT_MAX_RATE
    assert canonical.attrs["nowcast_clipped_negative_values"] == 0


def test_cf_rain_labelled_as_metres_per_second_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mislabelled.nc"
    write_cf(path, _two_frames(RATES), times=TIMES, attrs={"units": "m s-1"})
    with pytest.raises(InputError) as exc:
        ingest([str(path)], tmp_path / "out.nc")
    assert str(exc.value).startswith(f"{path}: implausible frame at 2024-06-01T12:00:00Z: 12 of")
    assert not (tmp_path / "out.nc").exists()
    genuine = tmp_path / "si.nc"  # the same rain really in m s-1 (CF's canonical unit)
    write_cf(genuine, _two_frames(RATES) / 3.6e6, times=TIMES, attrs={"units": "m s-1"})
    assert ingest([str(genuine)], tmp_path / "si_out.nc").stats.implausible == 0


def test_cf_scale_factor_1000_is_refused_and_0_too(tmp_path: Path) -> None:
    codes = np.where(np.isnan(RATES), -1, np.round(RATES * 100)).astype(np.int16)
    path = tmp_path / "scaled.nc"
    write_cf(
        path, codes[None], attrs={"scale_factor": 1000.0}, dtype="i2", fill=-1, packed=True
    )  # meant 0.01: every rain value 10^5 times too large
    with pytest.raises(InputError, match=r"scaled\.nc: implausible frame .* 12 of its 12 "):
        ingest([str(path)], tmp_path / "out.nc")
    zero = tmp_path / "zero.nc"
    write_cf(zero, codes[None], attrs={"scale_factor": 0.0}, dtype="i2", fill=-1, packed=True)
    with pytest.raises(InputError, match=r"zero\.nc: scale_factor 0 of 'field' makes every"):
        ingest([str(zero)], tmp_path / "out.nc")


# --- ODIM_H5 --------------------------------------------------------------------


def _odim_with_gain(path: Path, gain: float) -> Path:
    """An ODIM RATE file written with gain 0.01 whose gain attribute then says ``gain``."""
    frame = rain_frames(1, laea_grid())[0]
    write_odim(path, np.round(frame.values, 2), frame.time, frame.grid, gain=0.01)
    with h5py.File(path, "a") as h5:
        h5["dataset1/data1/what"].attrs["gain"] = gain
    return path


def test_odim_gain_0_is_refused(tmp_path: Path) -> None:
    path = _odim_with_gain(tmp_path / "g0.h5", 0.0)
    with pytest.raises(InputError) as exc:
        ingest([str(path)], tmp_path / "out.nc")
    assert str(exc.value) == f"{path}: dataset1/data1: gain 0 makes every value the offset 0"


def test_odim_gain_100_is_refused_as_implausible(tmp_path: Path) -> None:
    path = _odim_with_gain(tmp_path / "g100.h5", 100.0)
    with pytest.raises(InputError, match=r"g100\.h5: implausible frame at .*wrong units, gain"):
        ingest([str(path)], tmp_path / "out.nc")


def test_skip_bad_skips_an_implausible_file_and_lists_it(tmp_path: Path) -> None:
    grid = laea_grid()
    good = []
    for frame in rain_frames(2, grid, start="2024-06-01T12:05"):
        good.append(tmp_path / f"good{len(good)}.h5")
        write_odim(good[-1], np.round(frame.values, 2), frame.time, grid)
    bad = _odim_with_gain(tmp_path / "bad.h5", 100.0)
    summary = ingest([str(bad), *map(str, good)], tmp_path / "out.nc", skip_bad=True)
    assert summary.stats.frames == 2
    assert [p for p, _ in summary.skipped] == [str(bad)]
    assert "implausible frame" in summary.skipped[0][1]


# --- the command line ---------------------------------------------------------


def test_max_rate_option_keeps_larger_rates_and_is_recorded(tmp_path: Path) -> None:
    data = RATES.copy()
    data[0, 0] = 800.0  # a hail core: implausible at 500 mm h-1, kept at 1000
    path = tmp_path / "hail.nc"
    write_cf(path, _two_frames(data), times=TIMES)
    out = tmp_path / "out.nc"
    result = runner.invoke(app, ["ingest", str(path), "-o", str(out), "--max-rate", "1000"])
    assert result.exit_code == 0, result.output
    assert "implausible values   │ 0 (infinite or beyond ±1000, now NaN)" in result.stdout
    with netCDF4.Dataset(out) as nc:
        assert nc.getncattr("nowcast_max_rate") == 1000.0
    assert open_canonical(out).read(0, 1)[0, 0, 0] == 800.0
    default = tmp_path / "default.nc"
    assert runner.invoke(app, ["ingest", str(path), "-o", str(default)]).exit_code == 0
    info = runner.invoke(app, ["info", str(default)])
    assert "implausible values   │ 2 (infinite or beyond ±500, now NaN)" in info.stdout


@pytest.mark.parametrize("value", ["0", "-5", "inf", "nan"])
def test_max_rate_option_must_be_finite_and_positive(tmp_path: Path, value: str) -> None:
    result = runner.invoke(
        app, ["ingest", str(tmp_path), "-o", str(tmp_path / "o.nc"), "--max-rate", value]
    )
    words = " ".join(result.output.replace("│", " ").split())  # the usage box wraps lines
    assert result.exit_code == 2 and "'--max-rate': the largest plausible rate must be" in words
    assert f"must be finite and > 0 mm h-1, got {float(value)}" in words


def test_implausible_input_is_one_error_line(tmp_path: Path) -> None:
    path = _odim_with_gain(tmp_path / "g100.h5", 100.0)
    result = runner.invoke(app, ["ingest", str(path), "-o", str(tmp_path / "out.nc")])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: implausible frame at ")
    assert "Traceback" not in result.output and not (tmp_path / "out.nc").exists()
