"""Synthetic CF NetCDF files for the CF reader tests: one LAEA grid, one rain field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pytest

from nowcast.errors import InputError
from nowcast.io.grid import Frame
from nowcast.io.readers.cf.reader import CfNetcdfReader
from nowcast.io.readers.registry import ReaderOptions

T0 = np.datetime64("2024-06-01T12:00:00", "s")
EPOCH = np.datetime64("1970-01-01T00:00:00", "s")
LAEA = {
    "grid_mapping_name": "lambert_azimuthal_equal_area",
    "latitude_of_projection_origin": 55.0,
    "longitude_of_projection_origin": 10.0,
    "false_easting": 1950000.0,
    "false_northing": -2100000.0,
    "semi_major_axis": 6378137.0,
    "inverse_flattening": 298.257223563,
    "long_name": "coordinate reference system",
}
X_M = 2_000_500.0 + 1000.0 * np.arange(5)
Y_M = -1_000_500.0 - 1000.0 * np.arange(4)
RATES = np.array([[0.0, 0.5, 1.0, 12.25, np.nan], [2.0, 0.0, np.nan, 5.0, 80.0]] * 2)


def seconds(times: Any) -> np.ndarray:
    return ((np.asarray(times, "datetime64[s]") - EPOCH) / np.timedelta64(1, "s")).astype("i8")


def write_cf(
    path: Path,
    data: np.ndarray,
    *,
    attrs: dict[str, Any] | None = None,
    times: Any = (T0,),
    time_dim: bool = True,
    xy_scale: float = 1.0,
    xy_units: str = "m",
    dims: tuple[str, str] = ("y", "x"),
    dtype: str = "f4",
    fill: Any = None,
    edit: Callable[[netCDF4.Dataset], None] | None = None,
    fmt: str = "NETCDF4",
    name: str = "field",
    packed: bool = False,
) -> None:
    """Write ``data`` ((time,) y, x) as a CF file with an LAEA grid mapping.

    ``attrs`` values of None remove the default attribute; ``packed`` writes
    ``data`` as stored values (no automatic scaling or masking).
    """
    var_attrs = {"standard_name": "rainfall_rate", "units": "mm h-1", "grid_mapping": "crs"}
    var_attrs.update(attrs or {})
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        ds.Conventions = "CF-1.11"
        ds.createDimension("x", X_M.size)
        ds.createDimension("y", Y_M.size)
        for axis, values, std in (("x", X_M, "projection_x"), ("y", Y_M, "projection_y")):
            var = ds.createVariable(axis, "f8", (axis,))
            var[:] = values / xy_scale
            var.standard_name = f"{std}_coordinate"
            var.units = xy_units
        crs = ds.createVariable("crs", "i4")
        crs.setncatts(LAEA)
        tvals = seconds(times)
        if time_dim:
            ds.createDimension("time", tvals.size)
            tvar = ds.createVariable("time", "i8", ("time",))
        else:
            tvar = ds.createVariable("time", "i8")
        tvar[:] = tvals if time_dim else tvals[0]
        tvar.standard_name = "time"
        tvar.units = "seconds since 1970-01-01 00:00:00"
        var_dims = (("time",) if time_dim else ()) + dims
        var = ds.createVariable(name, dtype, var_dims, fill_value=fill)
        for key, value in var_attrs.items():
            if value is not None:
                var.setncattr(key, value)
        values = data if time_dim else data[0]
        if dims == ("x", "y"):
            values = np.swapaxes(values, -1, -2)
        if packed:
            var.set_auto_maskandscale(False)
            var[:] = values
        else:
            var[:] = np.ma.masked_invalid(values)
        if edit is not None:
            edit(ds)


def read(path: Path, options: ReaderOptions | None = None) -> list[Frame]:
    return list(CfNetcdfReader(options).frames(path))


def read_one(path: Path, options: ReaderOptions | None = None) -> Frame:
    frames = read(path, options)
    assert len(frames) == 1
    return frames[0]


def assert_one_line(exc: pytest.ExceptionInfo[InputError], path: Path) -> None:
    assert str(exc.value).startswith(f"{path}: ") and "\n" not in str(exc.value)
