"""ODIM_H5 reader: each rule of the spec on synthetic files.

Z-R is in ``test_conversions.py`` and the real RMI files in ``test_odim_rmi.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from nowcast.errors import InputError
from nowcast.io.grid import Frame, Grid
from nowcast.io.projection import north_up_grid
from nowcast.io.readers.odim import (
    OdimReader,
    _decode,
    _float_rate,
    _Source,
    attr_float,
    attr_text,
    decode_elementwise,
)
from nowcast.io.readers.registry import ReaderOptions, detect_reader
from nowcast.io.readers.zr import dbz_to_rate
from nowcast.synthetic.odim_write import write_odim

LAEA = "+proj=laea +lat_0=55 +lon_0=10 +x_0=1950000 +y_0=-2100000 +ellps=WGS84 +units=m"
T0 = np.datetime64("2024-06-01T12:00:00", "s")
# One row of every kind of pixel: no rain, rain, heavy rain, no coverage.
RATES = np.array([[0.0, 0.5, 1.0, 12.34, np.nan], [2.0, 0.0, np.nan, 5.0, 80.0]] * 2)


@pytest.fixture
def grid() -> Grid:
    return north_up_grid(LAEA, 2_000_000.0, -1_000_000.0, 1000.0, 1000.0, nx=5, ny=4)


def read(path: Path, options: ReaderOptions | None = None) -> list[Frame]:
    return list(OdimReader(options).frames(path))


def read_one(path: Path, options: ReaderOptions | None = None) -> Frame:
    frames = read(path, options)
    assert len(frames) == 1
    return frames[0]


def c_string(obj: Any, key: str, value: str) -> None:
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(len(value) + 1)
    obj.attrs.create(
        key, np.array(value.encode(), dtype=f"S{len(value) + 1}"), dtype=h5py.Datatype(tid)
    )


def assert_one_line_error(exc: pytest.ExceptionInfo[InputError], path: Path) -> None:
    message = str(exc.value)
    assert message.startswith(f"{path}: ") and "\n" not in message


# --- values ----------------------------------------------------------------------


def test_rate_round_trip_values_time_bounds_grid(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "rate.h5"
    write_odim(path, RATES, T0, grid)
    frame = read_one(path)
    np.testing.assert_allclose(frame.values, RATES, atol=0.005)
    assert frame.values.dtype == np.float32 and frame.variable == "rainfall_rate"
    assert frame.time == T0 and frame.time.dtype == np.dtype("datetime64[s]")
    assert frame.bounds == (T0 - np.timedelta64(300, "s"), T0)
    assert frame.grid.same_as(grid)
    assert frame.grid.proj4 is not None and frame.source == str(path)
    assert frame.grid.crs is not None and "crs_wkt" in frame.grid.crs


def test_nodata_is_nan_and_undetect_is_zero_with_gain_and_offset(
    tmp_path: Path, grid: Grid
) -> None:
    path = tmp_path / "codes.h5"
    write_odim(path, RATES, T0, grid, gain=0.1, offset=-1.0, nodata=65535, undetect=65534)
    with h5py.File(path) as h5:
        raw = h5["dataset1/data1/data"][()]
    # value = raw * gain + offset: 0.5 mm/h is stored as (0.5 + 1) / 0.1 = 15.
    assert raw[0, 1] == 15 and raw[0, 0] == 65534 and raw[0, 4] == 65535
    frame = read_one(path)
    assert frame.values[0, 0] == 0.0 and np.isnan(frame.values[0, 4])
    np.testing.assert_allclose(frame.values[0, 1:4], [0.5, 1.0, 12.3], atol=1e-5)
    np.testing.assert_array_equal(np.isnan(frame.values), np.isnan(RATES))


def test_defaults_without_gain_offset_or_codes_keep_float_values(
    tmp_path: Path, grid: Grid
) -> None:
    path = tmp_path / "float.h5"
    rates = RATES.copy()
    rates[1, 1] = -0.25  # negative values are passed on, never clipped by the reader
    write_odim(
        path, rates, T0, grid, gain=None, offset=None, nodata=None, undetect=None, dtype=np.float32
    )
    with h5py.File(path) as h5:
        assert set(h5["dataset1/data1/what"].attrs) == {"quantity"}
    frame = read_one(path)
    np.testing.assert_array_equal(frame.values, rates.astype(np.float32))


@pytest.mark.parametrize("location", ["data", "dataset", "root"])
def test_what_attributes_found_at_each_level(tmp_path: Path, grid: Grid, location: str) -> None:
    path = tmp_path / f"{location}.h5"
    write_odim(
        path,
        RATES,
        T0,
        grid,
        gain=0.05,
        offset=0.0,
        nodata=1000,
        undetect=0,
        what_location=location,
    )
    frame = read_one(path)
    np.testing.assert_allclose(frame.values, RATES, atol=0.025)


def test_most_specific_what_wins(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "order.h5"
    write_odim(path, RATES, T0, grid, gain=0.01)
    with h5py.File(path, "a") as h5:
        # Conflicting, less specific values must be ignored...
        h5["dataset1/what"].attrs["gain"] = 0.5
        h5["what"].attrs["gain"] = 2.0
        h5["what"].attrs["nodata"] = 0.0
        c_string(h5["what"], "quantity", "DBZH")
    np.testing.assert_allclose(read_one(path).values, RATES, atol=0.005)
    with h5py.File(path, "a") as h5:
        # ... until the data level has no gain: then datasetN/what is next.
        del h5["dataset1/data1/what"].attrs["gain"]
    frame = read_one(path)
    np.testing.assert_allclose(frame.values[0, 1], 50 * 0.5, rtol=1e-6)


def test_acrr_depth_is_divided_by_the_dataset_window(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "acrr.h5"
    write_odim(path, RATES, T0, grid, quantity="ACRR", interval_s=600)
    with h5py.File(path) as h5:
        # 12.34 mm/h over 10 minutes = 2.0567 mm, stored at 0.01 mm.
        assert h5["dataset1/data1/data"][0, 3] == 206
    frame = read_one(path)
    np.testing.assert_allclose(frame.values, RATES, atol=0.061)  # 0.01 mm * 6 per hour
    assert frame.values[0, 3] == pytest.approx(2.06 * 6, rel=1e-6)
    assert frame.bounds == (T0 - np.timedelta64(600, "s"), T0)


def test_acrr_window_from_how_epochs(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "acrr_how.h5"
    write_odim(path, RATES, T0, grid, quantity="ACRR", interval_s=3600)
    with h5py.File(path, "a") as h5:
        for key in ("startdate", "starttime", "enddate", "endtime"):
            del h5["dataset1/what"].attrs[key]
        h5["how"].attrs["startepochs"] = 1_717_243_200.0 - 3600
        h5["how"].attrs["endepochs"] = 1_717_243_200.0
    frame = read_one(path)
    np.testing.assert_allclose(frame.values, RATES, atol=0.005)
    assert frame.bounds is None and frame.time == T0


def test_acrr_without_window_is_an_error(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "acrr_none.h5"
    write_odim(path, RATES, T0, grid, quantity="ACRR")
    with h5py.File(path, "a") as h5:
        del h5["dataset1/what"].attrs["starttime"]
    with pytest.raises(InputError, match="ACRR in dataset1 has no accumulation window") as exc:
        read(path)
    assert_one_line_error(exc, path)


@pytest.mark.parametrize("quantity", ["DBZH", "TH", "DBZ"])
def test_reflectivity_goes_through_zr(tmp_path: Path, grid: Grid, quantity: str) -> None:
    path = tmp_path / "dbz.h5"
    write_odim(
        path,
        RATES,
        T0,
        grid,
        quantity=quantity,
        gain=0.5,
        offset=-32.0,
        nodata=255,
        undetect=0,
        dtype=np.uint8,
    )
    frame = read_one(path)
    # 0.5 dBZ steps: rates within 10**(0.025/1.6) - 1 = 3.7 %.
    wet = RATES > 0
    np.testing.assert_allclose(frame.values[wet], RATES[wet], rtol=0.037)
    assert np.all(frame.values[RATES == 0] == 0.0)
    np.testing.assert_array_equal(np.isnan(frame.values), np.isnan(RATES))
    with h5py.File(path) as h5:
        raw = h5["dataset1/data1/data"][0, 3]
    options = ReaderOptions(zr_a=300.0, zr_b=1.5)
    other = read_one(path, options)
    expected = (10 ** ((raw * 0.5 - 32.0) / 10) / 300.0) ** (1 / 1.5)
    assert other.values[0, 3] == pytest.approx(expected, rel=1e-6)


def test_quality_fields_are_never_read(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "qind.h5"
    write_odim(path, RATES, T0, grid)
    with h5py.File(path, "a") as h5:
        h5.move("dataset1/data1", "dataset1/data2")
        qind = h5.create_group("dataset1/data1")
        c_string(qind.create_group("what"), "quantity", "QIND")
        qind.create_dataset("data", data=np.full(RATES.shape, 200, np.uint8))
        quality = h5.create_group("dataset1/data2/quality1")
        c_string(quality.create_group("what"), "quantity", "QIND")
        quality.create_dataset("data", data=np.full(RATES.shape, 7, np.uint8))
    frame = read_one(path)
    np.testing.assert_allclose(frame.values, RATES, atol=0.005)
    assert frame.extra["quantity"] == "RATE"


def test_quantity_preference_rate_over_dbzh(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "pref.h5"
    write_odim(path, RATES, T0, grid)
    with h5py.File(path, "a") as h5:
        h5.move("dataset1/data1", "dataset1/data2")
        dbzh = h5.create_group("dataset1/data1")
        c_string(dbzh.create_group("what"), "quantity", "DBZH")
        dbzh.create_dataset("data", data=np.full(RATES.shape, 60, np.uint16))
    assert read_one(path).extra["quantity"] == "RATE"


def test_only_quality_quantities_is_an_error_listing_them(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "only_qind.h5"
    write_odim(path, RATES, T0, grid)
    with h5py.File(path, "a") as h5:
        c_string(h5["dataset1/data1/what"], "quantity", "QIND")
    with pytest.raises(InputError, match=r"no rain quantity .*found: QIND") as exc:
        read(path)
    assert_one_line_error(exc, path)


# --- times -------------------------------------------------------------------------


def test_several_datasets_with_their_own_times(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "multi.h5"
    times = T0 + np.arange(3) * np.timedelta64(300, "s")
    write_odim(path, np.stack([RATES, RATES * 2, RATES * 3]), times, grid)
    frames = read(path)
    assert [f.time for f in frames] == list(times)
    np.testing.assert_allclose(frames[2].values, RATES * 3, atol=0.005)
    assert frames[0].grid is frames[2].grid


def test_datasets_with_equal_end_times_use_the_nominal_time(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "same.h5"
    write_odim(path, np.stack([RATES, RATES]), [T0, T0], grid)
    with h5py.File(path, "a") as h5:
        c_string(h5["what"], "time", "120500")
    frames = read(path)
    assert [f.time for f in frames] == [T0 + np.timedelta64(300, "s")] * 2
    assert frames[0].bounds == (T0 - np.timedelta64(300, "s"), T0)


def test_bad_date_is_an_input_error(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "date.h5"
    write_odim(path, RATES, T0, grid)
    with h5py.File(path, "a") as h5:
        c_string(h5["what"], "date", "2024-06-01")
    with pytest.raises(InputError, match="bad ODIM date/time") as exc:
        read(path)
    assert_one_line_error(exc, path)


# --- grid --------------------------------------------------------------------------


def test_grid_from_corner_lonlat_when_ul_xy_absent(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "corners.h5"
    write_odim(path, RATES, T0, grid, write_ul=False)
    with h5py.File(path) as h5:
        assert "UL_x" not in h5["where"].attrs
    assert read_one(path).grid.same_as(grid)
    with h5py.File(path, "a") as h5:  # only the lower-left corner left
        for key in ("UL_lon", "UL_lat", "UR_lon", "UR_lat", "LR_lon", "LR_lat"):
            del h5["where"].attrs[key]
    frame = read_one(path)
    np.testing.assert_allclose(frame.grid.x, grid.x, atol=1e-3)
    np.testing.assert_allclose(frame.grid.y, grid.y, atol=1e-3)


def test_dataset_where_overrides_root_where(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "where.h5"
    write_odim(path, RATES, T0, grid)
    with h5py.File(path, "a") as h5:
        where = h5.create_group("dataset1/where")
        where.attrs["UL_x"] = 2_000_000.0 + 10_000.0
        where.attrs["xscale"] = 2000.0
    frame = read_one(path)
    np.testing.assert_allclose(frame.grid.x, 2_010_000.0 + 1000.0 + 2000.0 * np.arange(5))
    np.testing.assert_allclose(frame.grid.y, grid.y)


def test_km_projdef_is_repaired(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "km.h5"
    write_odim(path, RATES, T0, grid)
    knmi = "+proj=stere +lat_0=90 +lon_0=0.0 +lat_ts=60.0 +a=6378.137 +b=6356.752 +x_0=0 +y_0=0"
    with h5py.File(path, "a") as h5:
        c_string(h5["where"], "projdef", knmi)
    frame = read_one(path)
    assert frame.grid.proj4 is not None and "+a=6378137" in frame.grid.proj4
    assert frame.grid.crs is not None
    assert frame.grid.crs["grid_mapping_name"] == "polar_stereographic"


def test_attribute_types_are_normalised(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "types.h5"
    write_odim(path, RATES, T0, grid)
    with h5py.File(path, "a") as h5:
        h5["what"].attrs["date"] = "20240601"  # variable-length str
        h5["what"].attrs["time"] = np.array([b"120000"])  # 1-element array of bytes
        h5["dataset1/data1/what"].attrs["gain"] = np.array([0.01], np.float32)
        h5["dataset1/data1/what"].attrs["nodata"] = np.int32(65535)
        h5["where"].attrs["xsize"] = np.array([5], np.int32)
        h5["where"].attrs["projdef"] = LAEA
    frame = read_one(path)
    np.testing.assert_allclose(frame.values, RATES, atol=0.005)
    assert frame.time == T0 and frame.grid.same_as(grid)


def test_attr_helpers() -> None:
    assert attr_text(b"RATE\x00\x00") == "RATE"
    assert attr_text(np.array([b"COMP"])) == "COMP"
    assert attr_text(np.bytes_(b" IMAGE ")) == "IMAGE"
    assert attr_float(np.array([2.5])) == 2.5 and attr_float(b"3") == 3.0
    with pytest.raises(ValueError, match="one value"):
        attr_text(np.array([b"a", b"b"]))


def test_missing_projdef_is_an_input_error(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "noproj.h5"
    write_odim(path, RATES, T0, grid)
    with h5py.File(path, "a") as h5:
        del h5["where"].attrs["projdef"]
    with pytest.raises(InputError, match="no where/projdef") as exc:
        read(path)
    assert_one_line_error(exc, path)


# --- errors and sniffing --------------------------------------------------------------


def test_truncated_file(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "truncated.h5"
    write_odim(path, RATES, T0, grid)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert not OdimReader().can_open(path)
    with pytest.raises(InputError) as exc:
        read(path)
    assert_one_line_error(exc, path)


def test_text_file_named_h5(tmp_path: Path) -> None:
    path = tmp_path / "notes.h5"
    path.write_text("not radar data\n")
    assert not OdimReader().can_open(path)
    with pytest.raises(InputError, match="not an HDF5 file") as exc:
        read(path)
    assert_one_line_error(exc, path)


def test_polar_volume_is_refused(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "pvol.h5"
    write_odim(path, RATES, T0, grid)
    with h5py.File(path, "a") as h5:
        c_string(h5["what"], "object", "PVOL")
    assert not OdimReader().can_open(path)
    with pytest.raises(InputError, match="ODIM object 'PVOL' is not supported") as exc:
        read(path)
    assert_one_line_error(exc, path)


def test_can_open(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "ok.h5"
    write_odim(path, RATES, T0, grid)
    reader = OdimReader()
    assert reader.can_open(path)
    assert not reader.can_open(tmp_path / "missing.h5")
    assert not reader.can_open(tmp_path)
    other = tmp_path / "plain.h5"
    with h5py.File(other, "w") as h5:
        h5.create_dataset("x", data=np.zeros(3))
    assert not reader.can_open(other)
    assert detect_reader(path).name == "odim"


def test_writer_rejects_what_it_cannot_store(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "bad.h5"
    with pytest.raises(ValueError, match="do not fit"):
        write_odim(path, RATES * 100, T0, grid)  # 8000 mm/h > 655.35 at gain 0.01
    with pytest.raises(ValueError, match="unknown quantity"):
        write_odim(path, RATES, T0, grid, quantity="VRAD")
    with pytest.raises(ValueError, match="north-up"):
        flipped = Grid(x=grid.x, y=grid.y[::-1], crs=grid.crs, proj4=grid.proj4)
        write_odim(path, RATES, T0, flipped)


def test_writer_uses_fixed_length_c_strings(tmp_path: Path, grid: Grid) -> None:
    path = tmp_path / "strings.h5"
    write_odim(path, RATES, T0, grid)
    with h5py.File(path) as h5:
        tid = h5["what"].attrs.get_id("object").get_type()
        assert isinstance(tid, h5py.h5t.TypeStringID) and not tid.is_variable_str()
        assert tid.get_size() == 5 and tid.get_strpad() == h5py.h5t.STR_NULLTERM
        assert h5.attrs["Conventions"] == b"ODIM_H5/V2_2"
        assert h5["what"].attrs["version"] == b"H5rad 2.2"
        assert h5["dataset1/data1/data"].compression == "gzip"


def _dbz_decode(raw: np.ndarray) -> np.ndarray:
    value = raw.astype(np.float64) * 0.5 - 32.0
    value[raw == 255] = np.nan
    return dbz_to_rate(value)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float32])
def test_lookup_table_decoding_gives_the_values_of_direct_decoding(dtype: type) -> None:
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    low, high = (info.min, info.max) if info else (-40.0, 300.0)
    raw = (rng.uniform(low, high, size=(30, 40))).astype(dtype)
    raw[0, :3] = [low, high, 255]
    np.testing.assert_array_equal(decode_elementwise(raw, _dbz_decode), _dbz_decode(raw))


def test_float_rate_short_cut_matches_the_float64_decoding() -> None:
    raw = np.array([[0.0, -0.0, 1.5, -3.0], [np.nan, 7e-3, -1.0, 2.0]], dtype=np.float32)
    src = _Source("dataset1", "dataset1/data1/data", "RATE", 1.0, 0.0, -1.0, -3.0, None, None)
    fast = _float_rate(src, raw)
    full = _decode(None, src, raw, ReaderOptions())
    assert fast.tobytes() == full.tobytes()  # also +0.0 for -0.0, bit for bit
    assert not np.signbit(fast[0, 1])  # -0.0 comes out as +0.0
    assert fast[0, 3] == 0.0 and np.isnan(fast[1, 2])  # undetect -> 0, nodata -> NaN
