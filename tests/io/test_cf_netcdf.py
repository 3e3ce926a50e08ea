"""CF NetCDF reader: values, grid, errors and sniffing, one synthetic file per rule.

Accumulations are in ``test_cf_accumulations.py``, units in ``test_conversions.py``
and the real BOM files in ``test_cf_netcdf_bom.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pytest

from nowcast.errors import InputError
from nowcast.io.projection import latlon, north_up_grid
from nowcast.io.readers.cf.reader import CfNetcdfReader
from nowcast.io.readers.odim import OdimReader
from nowcast.io.readers.registry import ReaderOptions, detect_reader
from nowcast.synthetic.odim_write import write_odim
from tests.io.cf_files import (
    RATES,
    T0,
    X_M,
    Y_M,
    assert_one_line,
    read,
    read_one,
    write_cf,
)

# --- values and grid --------------------------------------------------------------------


def test_rate_frames_values_times_and_grid(tmp_path: Path) -> None:
    path = tmp_path / "rate.nc"
    times = T0 + np.arange(3) * np.timedelta64(300, "s")
    write_cf(path, np.stack([RATES, RATES * 2, RATES * 3]), times=times)
    frames = read(path)
    assert [f.time for f in frames] == list(times)
    assert frames[0].time.dtype == np.dtype("datetime64[s]")
    for k, frame in enumerate(frames, start=1):
        np.testing.assert_allclose(frame.values, RATES * k, rtol=1e-6)
        assert frame.values.dtype == np.float32 and frame.variable == "rainfall_rate"
        assert frame.bounds is None
    grid = frames[0].grid
    np.testing.assert_array_equal(grid.x, X_M)
    np.testing.assert_array_equal(grid.y, Y_M)
    assert grid.crs is not None and "long_name" not in grid.crs
    assert grid.crs["grid_mapping_name"] == "lambert_azimuthal_equal_area"
    assert grid.crs["crs_wkt"].startswith("PROJCRS")
    expected = north_up_grid(
        "+proj=laea +lat_0=55 +lon_0=10 +x_0=1950000 +y_0=-2100000 +ellps=WGS84 +units=m",
        2_000_000.0,
        -1_000_000.0,
        1000.0,
        1000.0,
        5,
        4,
    )
    for ours, theirs in zip(latlon(grid), latlon(expected), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_km_coordinates_become_metres(tmp_path: Path) -> None:
    path = tmp_path / "km.nc"
    write_cf(path, RATES[None], xy_scale=1000.0, xy_units="km")
    grid = read_one(path).grid
    np.testing.assert_allclose(grid.x, X_M)
    np.testing.assert_allclose(grid.y, Y_M)


def test_packed_integers_with_fill_and_missing_value(tmp_path: Path) -> None:
    path = tmp_path / "packed.nc"
    packed = np.where(np.isnan(RATES), -32768, np.round(RATES / 0.05)).astype("i2")
    packed[0, 0] = -1  # declared missing_value
    write_cf(
        path,
        packed[None],
        dtype="i2",
        fill=np.int16(-32768),
        packed=True,
        attrs={"scale_factor": 0.05, "add_offset": 0.0, "missing_value": np.int16(-1)},
    )
    values = read_one(path).values
    expected = np.where(np.isnan(RATES), np.nan, packed * 0.05)
    expected[0, 0] = np.nan
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    np.testing.assert_array_equal(np.isnan(values), np.isnan(expected))


def test_si_rate_units_are_converted(tmp_path: Path) -> None:
    path = tmp_path / "si.nc"
    write_cf(path, RATES[None] / 3.6e6, attrs={"units": "m s-1"}, dtype="f8")
    np.testing.assert_allclose(read_one(path).values, RATES, rtol=1e-6)
    flux = tmp_path / "flux.nc"
    write_cf(
        flux,
        RATES[None] / 3600.0,
        attrs={"standard_name": "lwe_precipitation_rate", "units": "kg m-2 s-1"},
        dtype="f8",
    )
    np.testing.assert_allclose(read_one(flux).values, RATES, rtol=1e-6)


def test_negative_values_are_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "negative.nc"
    data = RATES.copy()
    data[1, 1] = -0.5
    write_cf(path, data[None])
    assert read_one(path).values[1, 1] == -0.5


def test_transposed_dimensions(tmp_path: Path) -> None:
    path = tmp_path / "xy.nc"
    write_cf(path, RATES[None], dims=("x", "y"))
    frame = read_one(path)
    assert frame.values.shape == (4, 5)
    np.testing.assert_allclose(frame.values, RATES, rtol=1e-6)


def test_scalar_time_and_fallback_name(tmp_path: Path) -> None:
    path = tmp_path / "scalar.nc"
    write_cf(
        path,
        RATES[None],
        time_dim=False,
        name="precip_intensity",
        attrs={"units": "mm/h", "standard_name": None},
    )
    frame = read_one(path)
    assert frame.time == T0 and frame.extra["cf_variable"] == "precip_intensity"
    np.testing.assert_allclose(frame.values, RATES, rtol=1e-6)


def test_reflectivity_via_zr(tmp_path: Path) -> None:
    path = tmp_path / "dbz.nc"
    dbz = np.array([[10.0, 23.0103, 40.0, np.nan, 55.0]] * 4)
    write_cf(
        path, dbz[None], attrs={"standard_name": "equivalent_reflectivity_factor", "units": "dBZ"}
    )
    values = read_one(path).values
    np.testing.assert_allclose(
        values[0, :3], [(10 / 200) ** (1 / 1.6), 1.0, (1e4 / 200) ** (1 / 1.6)], rtol=1e-4
    )
    assert np.isnan(values[0, 3])
    other = read_one(path, ReaderOptions(zr_a=300.0, zr_b=1.5)).values
    assert other[0, 2] == pytest.approx((1e4 / 300) ** (1 / 1.5), rel=1e-5)


def test_rate_is_preferred_over_reflectivity(tmp_path: Path) -> None:
    path = tmp_path / "both.nc"

    def add_dbz(ds: netCDF4.Dataset) -> None:
        dbz = ds.createVariable("dbz", "f4", ("time", "y", "x"))
        dbz.standard_name = "equivalent_reflectivity_factor"
        dbz.units = "dBZ"
        dbz.grid_mapping = "crs"

    write_cf(path, RATES[None], edit=add_dbz, name="zz_rate")
    assert read_one(path).extra == {"quantity": "rainfall_rate", "cf_variable": "zz_rate"}


# --- errors and sniffing ---------------------------------------------------------------


def test_latlon_grid_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "latlon.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("lat", 3)
        ds.createDimension("lon", 4)
        for name, units in (("lat", "degrees_north"), ("lon", "degrees_east")):
            var = ds.createVariable(name, "f4", (name,))
            var[:] = np.arange(len(ds.dimensions[name]))
            var.units = units
        time = ds.createVariable("time", "i8")
        time.units = "seconds since 1970-01-01"
        time.standard_name = "time"
        rain = ds.createVariable("rain", "f4", ("lat", "lon"))
        rain.standard_name = "rainfall_rate"
        rain.units = "mm h-1"
        rain[:] = np.zeros((3, 4))
    assert CfNetcdfReader().can_open(path)
    with pytest.raises(InputError, match="lat/lon grids are not supported") as exc:
        read(path)
    assert_one_line(exc, path)


def test_no_precipitation_variable_names_what_was_found(tmp_path: Path) -> None:
    path = tmp_path / "temperature.nc"
    write_cf(path, RATES[None], attrs={"standard_name": "air_temperature", "units": "K"})
    assert not CfNetcdfReader().can_open(path)
    with pytest.raises(
        InputError, match=r"no precipitation variable .*found: x, y, crs, time, field"
    ) as exc:
        read(path)
    assert_one_line(exc, path)


def test_missing_grid_mapping_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "no_crs.nc"
    write_cf(path, RATES[None], attrs={"grid_mapping": None})
    with pytest.raises(InputError, match="has no grid_mapping"):
        read(path)


def test_extended_grid_mapping_syntax(tmp_path: Path) -> None:
    path = tmp_path / "extended.nc"
    write_cf(path, RATES[None], attrs={"grid_mapping": "crs: x y"})
    assert read_one(path).grid.crs["grid_mapping_name"] == "lambert_azimuthal_equal_area"


def test_truncated_and_text_files(tmp_path: Path) -> None:
    path = tmp_path / "cut.nc"
    write_cf(path, RATES[None])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert not CfNetcdfReader().can_open(path)
    with pytest.raises(InputError) as exc:
        read(path)
    assert_one_line(exc, path)
    text = tmp_path / "radar.nc"
    text.write_text("CDF? no, just text\n")
    assert not CfNetcdfReader().can_open(text)
    with pytest.raises(InputError, match="not a NetCDF file") as exc:
        read(text)
    assert_one_line(exc, text)


def test_can_open(tmp_path: Path) -> None:
    path = tmp_path / "ok.nc"
    write_cf(path, RATES[None])
    assert CfNetcdfReader().can_open(path)
    assert not OdimReader().can_open(path)
    assert detect_reader(path).name == "cf"
    classic = tmp_path / "classic.nc"
    write_cf(classic, RATES[None], fmt="NETCDF3_64BIT_DATA")
    assert classic.read_bytes()[:4] == b"CDF\x05"
    assert CfNetcdfReader().can_open(classic)
    odim = tmp_path / "odim.h5"
    write_odim(
        odim,
        RATES,
        T0,
        north_up_grid(
            "+proj=laea +lat_0=55 +lon_0=10 +ellps=WGS84 +units=m", 0.0, 0.0, 1000.0, 1000.0, 5, 4
        ),
    )
    assert not CfNetcdfReader().can_open(odim)
    assert not CfNetcdfReader().can_open(tmp_path / "absent.nc")
    assert not CfNetcdfReader().can_open(tmp_path)


@pytest.mark.parametrize(
    ("dtype", "fill", "attrs"),
    [
        ("i2", np.int16(-32768), {"scale_factor": np.float32(0.05), "missing_value": np.int16(-1)}),
        ("i2", np.int16(0), {"valid_range": np.array([1, 900], "i2"), "add_offset": 0.5}),
        ("u1", np.uint8(255), {"scale_factor": 0.5, "add_offset": -32.0, "valid_min": np.uint8(2)}),
        ("i1", np.int8(-128), {}),
    ],
)
def test_integer_lookup_table_gives_netcdf4s_own_decoding(
    tmp_path: Path, dtype: str, fill: Any, attrs: dict
) -> None:
    """Stored integers decoded by table are what netCDF4's masked read gives, NaN included."""
    path = tmp_path / "packed.nc"
    info = np.iinfo(dtype)
    rng = np.random.default_rng(5)
    stored = rng.integers(info.min, info.max, size=(1, *RATES.shape), endpoint=True).astype(dtype)
    stored[0, 0, :4] = [fill, info.min, info.max, 1]
    write_cf(path, stored, dtype=dtype, fill=fill, packed=True, attrs={**attrs, "units": "mm/h"})
    with netCDF4.Dataset(path) as ds:
        read_back = ds["field"][0]
    expected = np.array(np.ma.getdata(read_back), dtype=np.float64)
    expected[np.ma.getmaskarray(read_back)] = np.nan
    values = read_one(path).values
    np.testing.assert_array_equal(values, expected.astype(np.float32))
    assert np.isnan(values[0, 0])
