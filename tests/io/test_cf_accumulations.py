"""CF NetCDF reader: precipitation amounts become rates over their accumulation period."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest

from nowcast.errors import InputError
from tests.io.cf_files import RATES, T0, assert_one_line, read, read_one, seconds, write_cf


def test_amount_with_start_time_variable(tmp_path: Path) -> None:
    path = tmp_path / "bom_like.nc"

    def add_start(ds: netCDF4.Dataset) -> None:
        start = ds.createVariable("start_time", "i8")
        start[...] = seconds([T0 - np.timedelta64(360, "s")])[0]
        start.units = "seconds since 1970-01-01 00:00:00 UTC"

    depth = RATES * 360 / 3600  # 6-minute depth in kg m-2
    write_cf(
        path,
        depth[None],
        time_dim=False,
        edit=add_start,
        attrs={"standard_name": "precipitation_amount", "units": "kg m-2"},
    )
    frame = read_one(path)
    np.testing.assert_allclose(frame.values, RATES, rtol=1e-6)
    assert frame.bounds == (T0 - np.timedelta64(360, "s"), T0)


def test_amount_with_time_bounds(tmp_path: Path) -> None:
    path = tmp_path / "bounds.nc"
    times = T0 + np.arange(2) * np.timedelta64(600, "s")

    def add_bounds(ds: netCDF4.Dataset) -> None:
        ds.createDimension("nv", 2)
        bnds = ds.createVariable("time_bnds", "i8", ("time", "nv"))
        bnds[:] = np.stack([seconds(times - np.timedelta64(600, "s")), seconds(times)], axis=1)
        ds["time"].bounds = "time_bnds"

    depth = np.stack([RATES, RATES * 2]) / 6000.0  # metres in 10 minutes
    write_cf(
        path,
        depth,
        times=times,
        dtype="f8",
        edit=add_bounds,
        attrs={"standard_name": "lwe_thickness_of_precipitation_amount", "units": "m"},
    )
    frames = read(path)
    np.testing.assert_allclose(frames[1].values, RATES * 2, rtol=1e-6)
    assert frames[1].bounds == (times[1] - np.timedelta64(600, "s"), times[1])


def test_rate_time_bounds_are_kept_as_stored(tmp_path: Path) -> None:
    # ODIM scan windows end before the nominal time: both edges must survive a round trip.
    path = tmp_path / "rate_bounds.nc"
    start, end = T0 - np.timedelta64(52, "s"), T0 - np.timedelta64(33, "s")

    def add_bounds(ds: netCDF4.Dataset) -> None:
        ds.createDimension("nv", 2)
        ds.createVariable("time_bnds", "i8", ("time", "nv"))[:] = seconds([[start, end]])
        ds["time"].bounds = "time_bnds"

    write_cf(path, RATES[None], edit=add_bounds)
    frame = read_one(path)
    assert frame.time == T0 and frame.bounds == (start, end)


def test_amount_with_cell_methods_interval(tmp_path: Path) -> None:
    path = tmp_path / "cell_methods.nc"
    write_cf(
        path,
        RATES[None] / 12.0,
        attrs={
            "standard_name": "thickness_of_rainfall_amount",
            "units": "mm",
            "cell_methods": "time: sum (interval: 5 minutes)",
        },
    )
    frame = read_one(path)
    np.testing.assert_allclose(frame.values, RATES, rtol=1e-6)
    assert frame.bounds == (T0 - np.timedelta64(300, "s"), T0)


def test_amount_without_period_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "no_period.nc"
    write_cf(path, RATES[None], attrs={"standard_name": "precipitation_amount", "units": "mm"})
    with pytest.raises(InputError, match="has no accumulation period") as exc:
        read(path)
    assert_one_line(exc, path)
