"""KNMI HDF5 reader: synthetic files for each rule, then every real KNMI file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from nowcast.errors import InputError
from nowcast.io.grid import Frame
from nowcast.io.projection import latlon, unproject
from nowcast.io.readers.cf.reader import CfNetcdfReader
from nowcast.io.readers.knmi import KnmiReader, knmi_datetime, parse_calibration
from nowcast.io.readers.odim import OdimReader
from nowcast.io.readers.registry import ReaderOptions, detect_reader
from tests.helpers import frame_stats

KNMI_PROJ4 = "+proj=stere +lat_0=90 +lon_0=0.0 +lat_ts=60.0 +a=6378.137 +b=6356.752 +x_0=0 +y_0=0"
PV = np.array([[0, 10, 245, 65535], [65534, 1, 0, 100], [3, 65535, 7, 0]], dtype=np.uint16)


def write_knmi(
    path: Path,
    pv: np.ndarray = PV,
    *,
    formula: str = "GEO=0.01*PV+0.0",
    parameter: str = "ACCUMULATED_PRECIPITATION_[MM]",
    start: str = "25-AUG-2010;23:55:00.000",
    end: str = "26-AUG-2010;00:00:00.000",
    missing: int = 65535,
    out_of_image: int = 65534,
) -> None:
    """A small file laid out like KNMI's RAD_NL25 products (attribute types included)."""
    rows, cols = pv.shape
    with h5py.File(path, "w") as h5:
        overview = h5.create_group("overview")
        overview.attrs["product_datetime_start"] = np.array([start.encode()], dtype="S25")
        overview.attrs["product_datetime_end"] = np.array([end.encode()], dtype="S25")
        overview.attrs["product_group_name"] = np.bytes_(b"RAD_NL25_RAU_5mi")
        geo = h5.create_group("geographic")
        geo.attrs["geo_number_rows"] = np.array([rows], np.int32)
        geo.attrs["geo_number_columns"] = np.array([cols], np.int32)
        geo.attrs["geo_pixel_size_x"] = np.array([1.0], np.float32)
        geo.attrs["geo_pixel_size_y"] = np.array([-1.0], np.float32)
        geo.attrs["geo_column_offset"] = np.array([0.0], np.float32)
        geo.attrs["geo_row_offset"] = np.array([3650.0], np.float32)
        geo.attrs["geo_dim_pixel"] = np.bytes_(b"KM,KM")
        proj = geo.create_group("map_projection")
        proj.attrs["projection_proj4_params"] = np.bytes_(KNMI_PROJ4.encode())
        image = h5.create_group("image1")
        image.attrs["image_geo_parameter"] = np.bytes_(parameter.encode())
        image.create_dataset("image_data", data=pv, compression="gzip")
        cal = image.create_group("calibration")
        cal.attrs["calibration_formulas"] = np.bytes_(formula.encode())
        cal.attrs["calibration_missing_data"] = np.array([missing], np.int32)
        cal.attrs["calibration_out_of_image"] = np.array([out_of_image], np.int32)


def read_one(path: Path, options: ReaderOptions | None = None) -> Frame:
    (frame,) = KnmiReader(options).frames(path)
    return frame


def nan_mask() -> np.ndarray:
    return (PV == 65535) | (PV == 65534)


# --- calibration and times ------------------------------------------------------------


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("GEO=0.01*PV+0.0", (0.01, 0.0)),
        ("GEO = 0.5 * PV - 32", (0.5, -32.0)),
        ("GEO=PV*0.5+-32.0", (0.5, -32.0)),
        ("geo=2.5E-2*pv", (0.025, 0.0)),
        ("GEO=PV", (1.0, 0.0)),
        ("GEO=-31.5+0.5*PV", (0.5, -31.5)),
    ],
)
def test_parse_calibration(formula: str, expected: tuple[float, float]) -> None:
    assert parse_calibration(formula) == pytest.approx(expected)


@pytest.mark.parametrize("formula", ["GEO=0.01*PV+0.0 mm", "0.01*PV", "GEO=3.0", "GEO=PV*PV"])
def test_parse_calibration_rejects_non_linear_or_garbled(formula: str) -> None:
    with pytest.raises(ValueError, match="cannot parse calibration formula"):
        parse_calibration(formula)


def test_knmi_datetime_is_locale_free_and_case_insensitive() -> None:
    assert knmi_datetime(np.array([b"25-AUG-2010;23:55:00.000"])) == np.datetime64(
        "2010-08-25T23:55:00"
    )
    assert knmi_datetime("1-jan-2021;00:05:00") == np.datetime64("2021-01-01T00:05:00")
    with pytest.raises(ValueError, match="bad KNMI date/time"):
        knmi_datetime(b"2010-08-25 23:55")


# --- values ----------------------------------------------------------------------


def test_five_minute_depth_becomes_rate(tmp_path: Path) -> None:
    path = tmp_path / "depth.h5"
    write_knmi(path)
    frame = read_one(path)
    expected = np.where(nan_mask(), np.nan, PV * 0.01 * 12.0).astype(np.float32)
    np.testing.assert_allclose(frame.values, expected, rtol=1e-6)
    np.testing.assert_array_equal(np.isnan(frame.values), nan_mask())
    assert frame.values.dtype == np.float32 and frame.variable == "rainfall_rate"
    assert frame.time == np.datetime64("2010-08-26T00:00:00")
    assert frame.bounds == (np.datetime64("2010-08-25T23:55:00"), frame.time)


def test_window_length_sets_the_factor_and_other_gains(tmp_path: Path) -> None:
    path = tmp_path / "depth10.h5"
    write_knmi(
        path,
        formula="GEO = 0.1 * PV + 0.5",
        start="01-JUN-2024;11:50:00.000",
        end="01-JUN-2024;12:00:00.000",
    )
    frame = read_one(path)
    assert frame.values[0, 1] == pytest.approx((10 * 0.1 + 0.5) * 6.0)
    assert frame.values[0, 0] == pytest.approx(0.5 * 6.0)  # offset is kept, never clipped


def test_rate_and_reflectivity_parameters(tmp_path: Path) -> None:
    rate_path = tmp_path / "rate.h5"
    write_knmi(rate_path, parameter="RAINFALL_RATE_[MM/H]")
    np.testing.assert_allclose(read_one(rate_path).values[1, 3], 1.0, rtol=1e-6)
    dbz_path = tmp_path / "dbz.h5"
    write_knmi(dbz_path, parameter="REFLECTIVITY_[DBZ]", formula="GEO=0.5*PV+-32.0")
    dbz = 245 * 0.5 - 32.0
    expected = (10 ** (dbz / 10) / 200.0) ** (1 / 1.6)
    assert read_one(dbz_path).values[0, 2] == pytest.approx(expected, rel=1e-5)
    other = read_one(dbz_path, ReaderOptions(zr_a=300.0, zr_b=1.5))
    assert other.values[0, 2] == pytest.approx((10 ** (dbz / 10) / 300.0) ** (1 / 1.5), rel=1e-5)


def test_grid_follows_offsets_and_pixel_sizes(tmp_path: Path) -> None:
    path = tmp_path / "grid.h5"
    write_knmi(path)
    grid = read_one(path).grid
    # Cell (i, j) spans x = j..j+1 km and y = -(3650+i)..-(3651+i) km.
    np.testing.assert_array_equal(grid.x, [500.0, 1500.0, 2500.0, 3500.0])
    np.testing.assert_array_equal(grid.y, [-3_650_500.0, -3_651_500.0, -3_652_500.0])
    assert grid.proj4 is not None and "+a=6378137" in grid.proj4
    assert grid.crs is not None and grid.crs["grid_mapping_name"] == "polar_stereographic"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"parameter": "RADIAL_VELOCITY_[M/S]"}, "unsupported image_geo_parameter"),
        ({"formula": "GEO=log(PV)"}, "cannot parse calibration formula"),
        ({"end": "26-08-2010 00:00"}, "bad KNMI date/time"),
        ({"start": "26-AUG-2010;00:00:00.000"}, "accumulation window .* is empty"),
    ],
)
def test_bad_metadata_is_an_input_error(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = tmp_path / "bad.h5"
    write_knmi(path, **change)
    with pytest.raises(InputError, match=message) as exc:
        read_one(path)
    assert str(exc.value).startswith(f"{path}: ") and "\n" not in str(exc.value)


def test_missing_group_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "nogeo.h5"
    write_knmi(path)
    with h5py.File(path, "a") as h5:
        del h5["geographic/map_projection"]
    with pytest.raises(InputError, match="no geographic/map_projection group"):
        read_one(path)


def test_truncated_and_text_files(tmp_path: Path) -> None:
    path = tmp_path / "cut.h5"
    write_knmi(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError) as exc:
        read_one(path)
    assert str(exc.value).startswith(f"{path}: ") and "\n" not in str(exc.value)
    text = tmp_path / "RAD_NL25_RAP_5min_201008260000.h5"
    text.write_text("hello\n")
    with pytest.raises(InputError, match="not an HDF5 file"):
        read_one(text)
    assert not KnmiReader().can_open(path) and not KnmiReader().can_open(text)


def test_can_open(tmp_path: Path) -> None:
    path = tmp_path / "knmi.h5"
    write_knmi(path)
    assert KnmiReader().can_open(path)
    assert not OdimReader().can_open(path)
    assert not CfNetcdfReader().can_open(path)
    assert detect_reader(path).name == "knmi"
    with h5py.File(path, "a") as h5:
        del h5["overview"].attrs["product_datetime_end"]
    assert not KnmiReader().can_open(path)
    assert not KnmiReader().can_open(tmp_path / "absent.h5")


# --- real data: KNMI RAD_NL25_RAP_5min ------------------------------------------------

KNMI_NAME = re.compile(r"RAD_NL25_RAP_5min_(\d{12})\.h5")


@pytest.fixture(scope="module")
def knmi(knmi_dir: Path) -> dict[str, Any]:
    """Read every KNMI file once: per-file statistics, the first frame and the NaN masks."""
    files = sorted(knmi_dir.glob("*.h5"))
    reader = KnmiReader()
    stats = []
    first = None
    masks_equal = True
    for path in files:
        (frame,) = reader.frames(path)
        v = frame.values
        first = first or frame
        masks_equal &= bool(np.array_equal(np.isnan(v), np.isnan(first.values)))
        stats.append(frame_stats(frame, path.name))
    return {"files": files, "stats": stats, "first": first, "masks_equal": masks_equal}


@pytest.mark.realdata
def test_knmi_every_file_shape_time_window_and_nan(knmi: dict[str, Any]) -> None:
    stats = knmi["stats"]
    assert len(stats) == 92
    for s in stats:
        assert s["shape"] == (765, 700)
        stamp = KNMI_NAME.fullmatch(s["name"]).group(1)  # type: ignore[union-attr]
        assert str(s["time"]).replace("-", "").replace("T", "").replace(":", "")[:12] == stamp
        assert s["bounds"] == (s["time"] - np.timedelta64(300, "s"), s["time"])
        assert s["nan"] == pytest.approx(0.7437, abs=5e-5)
        assert s["min"] == 0.0
        assert 0.108 <= round(s["wet"], 3) <= 0.168
        assert s["grid"] is stats[0]["grid"]
    assert knmi["masks_equal"]
    times = np.array([s["time"] for s in stats])
    assert times[0] == np.datetime64("2010-08-26T00:00:00")
    assert times[-1] == np.datetime64("2010-08-26T07:35:00")
    assert np.all(np.diff(times) == np.timedelta64(300, "s"))


@pytest.mark.realdata
def test_knmi_maximum_over_all_files(knmi: dict[str, Any]) -> None:
    best = max(knmi["stats"], key=lambda s: s["max"])
    assert best["max"] == pytest.approx(29.4, abs=1e-4)
    assert best["name"] == "RAD_NL25_RAP_5min_201008260540.h5"


@pytest.mark.realdata
def test_knmi_first_file(knmi: dict[str, Any]) -> None:
    first = knmi["stats"][0]
    assert first["max"] == pytest.approx(8.64, abs=1e-4)
    assert first["wet"] == pytest.approx(0.1679, abs=5e-5)
    assert first["nan"] == pytest.approx(0.7437, abs=5e-5)
    # 0.01 mm per 5 minutes: every rate is a multiple of 0.12 mm/h.
    values = knmi["first"].values
    steps = values[np.isfinite(values)] / 0.12
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-4)


@pytest.mark.realdata
def test_knmi_grid_edges_and_corners(knmi: dict[str, Any]) -> None:
    grid = knmi["first"].grid
    assert grid.spacing == (1000.0, 1000.0)
    assert grid.x[0] - 500 == 0.0 and grid.x[-1] + 500 == 700_000.0
    assert grid.y[0] + 500 == -3_650_000.0 and grid.y[-1] - 500 == -4_415_000.0
    # geo_product_corners (lon, lat of LL, UL, UR, LR) match the grid edges to 0.001 deg.
    x = np.array([0.0, 0.0, 700_000.0, 700_000.0])
    y = np.array([-4_415_000.0, -3_650_000.0, -3_650_000.0, -4_415_000.0])
    lon, lat = unproject(grid.proj4, x, y)
    np.testing.assert_allclose(lon, [0.0, 0.0, 10.856, 9.009], atol=1.5e-3)
    np.testing.assert_allclose(lat, [49.362, 55.974, 55.389, 48.895], atol=1.5e-3)
    lat2d, lon2d = latlon(grid)
    assert lat2d[0, 0] == pytest.approx(55.974, abs=0.01)
    assert lon2d[-1, -1] == pytest.approx(9.009, abs=0.01)
    # The De Bilt radar (5.179 E, 52.103 N) is at the centre of the valid disc, row 427, col 369.
    row, col = np.unravel_index(
        np.argmin((lat2d - 52.103) ** 2 + (lon2d - 5.179) ** 2), lat2d.shape
    )
    assert abs(row - 427) <= 2 and abs(col - 369) <= 2


@pytest.mark.realdata
def test_knmi_sniffing(knmi: dict[str, Any]) -> None:
    path = knmi["files"][0]
    assert KnmiReader().can_open(path)
    assert not OdimReader().can_open(path) and not CfNetcdfReader().can_open(path)
    assert detect_reader(path).name == "knmi"
