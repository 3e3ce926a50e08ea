"""Where and when a CF precipitation variable lies: its dimensions, grid and times.

Kept apart from the reader class: everything that places a frame in space and
time is here. The roles of the variable's dimensions (x, y, time; lat/lon
grids and extra dimensions of size > 1 rejected), the
:class:`~nowcast.io.grid.Grid` from the x/y coordinates and the
``grid_mapping`` variable, the valid times and each frame's accumulation
window.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import netCDF4
import numpy as np

from nowcast.io.grid import Grid
from nowcast.io.projection import grid_mapping_from_cf
from nowcast.io.readers.cf.field import attr
from nowcast.io.units import length_factor, parse_units

_LATLON_NAMES = ("latitude", "longitude", "grid_latitude", "grid_longitude")
_LATLON_UNITS = ("degrees_north", "degrees_east", "degree_north", "degree_east")

# --- layout: which dimension is what -------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Roles of the data variable's dimensions."""

    x: str
    y: str
    time: str | None
    others: tuple[str, ...]


def _coord(ds: netCDF4.Dataset, dim: str) -> netCDF4.Variable[Any] | None:
    var = ds.variables.get(dim)
    return var if var is not None and var.dimensions == (dim,) else None


def _role(var: netCDF4.Variable[Any] | None) -> str:
    """x, y, time, latlon or other, from a coordinate variable's attributes."""
    if var is None:
        return "other"
    name, axis, units = attr(var, "standard_name"), attr(var, "axis").upper(), attr(var, "units")
    if name == "projection_x_coordinate":
        return "x"
    if name == "projection_y_coordinate":
        return "y"
    if name in _LATLON_NAMES or units.lower() in _LATLON_UNITS:
        return "latlon"
    if name == "time" or axis == "T" or " since " in units.lower():
        return "time"
    if axis in ("X", "Y") and _is_length(units):
        return axis.lower()
    return "other"


def _is_length(units: str) -> bool:
    try:
        length_factor(units)
    except ValueError:
        return False
    return True


def layout(ds: netCDF4.Dataset, var: netCDF4.Variable[Any], skip: Collection[str] = ()) -> Layout:
    """Find the x, y and time dimensions of ``var``; reject lat/lon grids clearly.

    Dimensions in ``skip`` are the caller's own (an ensemble's realization) and
    play no part here.
    """
    roles: dict[str, list[str]] = {}
    for dim in var.dimensions:
        if dim not in skip:
            roles.setdefault(_role(_coord(ds, dim)), []).append(dim)
    if "x" not in roles or "y" not in roles:
        if "latlon" in roles or _names_latlon(ds, var):
            raise ValueError(
                f"variable {var.name!r} is on a latitude/longitude grid; lat/lon grids are "
                "not supported (regrid to projected x/y coordinates in metres first)"
            )
        raise ValueError(
            f"variable {var.name!r} has no projection x/y coordinate variables "
            "(standard_name projection_x_coordinate / projection_y_coordinate)"
        )
    others = tuple(roles.get("other", []) + roles.get("latlon", []) + roles.get("time", [])[1:])
    for dim in others:
        if len(ds.dimensions[dim]) != 1:
            raise ValueError(
                f"variable {var.name!r} has an extra dimension {dim!r} of size "
                f"{len(ds.dimensions[dim])} (only time, y and x may have size > 1)"
            )
    time = roles["time"][0] if "time" in roles else None
    return Layout(x=roles["x"][0], y=roles["y"][0], time=time, others=others)


def _names_latlon(ds: netCDF4.Dataset, var: netCDF4.Variable[Any]) -> bool:
    """True when ``coordinates`` names latitude/longitude variables."""
    for name in attr(var, "coordinates").split():
        aux = ds.variables.get(name)
        if aux is not None and _role(aux) == "latlon":
            return True
    return False


# --- grid ---------------------------------------------------------------------------


def _axis_values(var: netCDF4.Variable[Any]) -> np.ndarray:
    """Coordinate values in metres (no masking: coordinates have no missing data)."""
    var.set_auto_mask(False)
    values = np.asarray(var[:], dtype=np.float64) * length_factor(attr(var, "units", "m") or "m")
    if values.size > 1 and not (np.all(np.diff(values) > 0) or np.all(np.diff(values) < 0)):
        raise ValueError(f"coordinate {var.name!r} is not strictly monotonic")
    return values


def grid(ds: netCDF4.Dataset, var: netCDF4.Variable[Any], layout: Layout) -> Grid:
    """Grid from the x/y coordinate variables and the ``grid_mapping`` variable."""
    mapping = attr(var, "grid_mapping").split()
    name = mapping[0].rstrip(":") if mapping else ""
    if not name or name not in ds.variables:
        raise ValueError(
            f"variable {var.name!r} has no grid_mapping (cannot place x/y on the Earth)"
        )
    gm = ds.variables[name]
    crs, proj4 = grid_mapping_from_cf({k: gm.getncattr(k) for k in gm.ncattrs()})
    x = _axis_values(ds.variables[layout.x])
    y = _axis_values(ds.variables[layout.y])
    return Grid(x=x, y=y, crs=crs, proj4=proj4)


# --- time ---------------------------------------------------------------------------


def decode_time(var: netCDF4.Variable[Any], values: Any, units: str | None = None) -> np.ndarray:
    """Numeric times -> ``datetime64[s]`` (UTC), using ``var``'s units and calendar.

    Raises:
        ValueError: when the units are not ``<unit> since <epoch>`` or a value is
            missing, NaN, infinite or beyond the range of 64-bit seconds.
    """
    units = units or attr(var, "units")
    if " since " not in units.lower():
        raise ValueError(f"time variable {var.name!r} has no 'units since epoch' ({units!r})")
    data = np.ma.asarray(values)
    if np.ma.getmaskarray(data).any():
        raise ValueError(f"time variable {var.name!r} has missing values")
    numbers = np.asarray(data, dtype=np.float64)
    if not np.isfinite(numbers).all():
        raise ValueError(f"time variable {var.name!r} has non-finite values (NaN or inf)")
    try:
        dates = netCDF4.num2date(
            numbers,
            units,
            attr(var, "calendar", "standard") or "standard",
            only_use_cftime_datetimes=False,
            only_use_python_datetimes=True,
        )
    except OverflowError:
        raise ValueError(f"time variable {var.name!r} has values out of range") from None
    flat = [
        np.datetime64(d.replace(tzinfo=None), "s")
        for d in np.ravel(np.asarray(dates, dtype=object))
    ]
    return np.array(flat, dtype="datetime64[s]").reshape(np.shape(data))


def time_variable(ds: netCDF4.Dataset, var: netCDF4.Variable[Any], layout: Layout) -> Any:
    """The time coordinate: the time dimension's variable, else a scalar time variable."""
    if layout.time is not None:
        return ds.variables[layout.time]
    named = [ds.variables[n] for n in attr(var, "coordinates").split() if n in ds.variables]
    scalars = [v for v in (*named, *ds.variables.values()) if v.size == 1]
    tests: tuple[Callable[[Any], bool], ...] = (
        lambda v: attr(v, "standard_name") == "time",
        lambda v: v.name in ("time", "valid_time") and " since " in attr(v, "units"),
    )
    for test in tests:
        found = next((v for v in scalars if test(v)), None)
        if found is not None:
            return found
    raise ValueError(f"no time coordinate for {var.name!r} (time dimension or scalar time)")


_INTERVAL = re.compile(r"time\s*:\s*\w+[^()]*\(\s*interval\s*:\s*([\d.eE+-]+)\s*([A-Za-z]+)")


def windows(
    ds: netCDF4.Dataset, var: netCDF4.Variable[Any], tvar: Any, times: np.ndarray
) -> np.ndarray | None:
    """Each frame's window ``(start, end)`` as ``datetime64[s]`` of shape ``(n, 2)``, or None.

    Looked for in order: the time variable's ``bounds`` (both edges as
    stored); a ``start_time`` variable (end = the frame time); a
    ``cell_methods`` ``time: ... (interval: N unit)`` (end = the frame time).
    """
    bounds_name = attr(tvar, "bounds")
    if bounds_name in ds.variables:
        bvar = ds.variables[bounds_name]
        return decode_time(tvar, bvar[:], attr(bvar, "units") or None).reshape(-1, 2)
    start_var = ds.variables.get("start_time")
    if start_var is not None and start_var.size == times.size:
        starts = decode_time(start_var, start_var[:]).reshape(-1)
        return np.stack([starts, times], axis=1)
    match = _INTERVAL.search(attr(var, "cell_methods"))
    if match is not None:
        seconds = float(match.group(1)) * parse_units(match.group(2))[0]
        return np.stack([times - np.timedelta64(round(seconds), "s"), times], axis=1)
    return None
