"""The CF layout both NetCDF writers share: grid, grid mapping, time variables, global attributes.

The canonical observation file and the forecast file lay out their ``y``/``x``
coordinates (+ bounds), ``crs``, ``lat``/``lon``, time variables and global
attributes the same way (docs/data-formats.md, "Layout rules"); this module
defines them once for :mod:`nowcast.io.writers.canonical` and
:mod:`nowcast.io.writers.forecast`.
"""

from __future__ import annotations

from typing import Any

import netCDF4
import numpy as np

from nowcast.io import cf
from nowcast.io.grid import Grid
from nowcast.io.writers.chunks import COMPLEVEL


def epoch_seconds(time: np.datetime64) -> int:
    """``time`` as whole seconds since 1970-01-01 (the files' time unit)."""
    return int(np.datetime64(time).astype("datetime64[s]").astype(np.int64))


def _cell_bounds(centres: np.ndarray) -> np.ndarray:
    """``(n, 2)`` cell edges from cell centres of a regular axis."""
    step = centres[1] - centres[0] if centres.size > 1 else 1.0
    return np.stack([centres - step / 2, centres + step / 2], axis=1)


def define_grid(
    nc: netCDF4.Dataset, grid: Grid, with_latlon: bool = True, fill_latlon: bool = True
) -> bool:
    """Create ``y``/``x`` (+ bounds), ``crs`` and optional ``lat``/``lon``.

    With ``fill_latlon=False`` the ``lat``/``lon`` variables are created but
    left empty (see :meth:`~nowcast.io.writers.canonical.CanonicalWriter.store_latlon`).

    Returns:
        True when ``lat``/``lon`` are part of the file (projected grids only).
    """
    ny, nx = grid.shape
    nc.createDimension("y", ny)
    nc.createDimension("x", nx)
    projected = grid.is_projected
    for name, values in (("y", grid.y), ("x", grid.x)):
        var = nc.createVariable(name, "f8", (name,))
        attrs = (
            (cf.PROJECTED_Y_ATTRS if name == "y" else cf.PROJECTED_X_ATTRS)
            if projected
            else (cf.PIXEL_Y_ATTRS if name == "y" else cf.PIXEL_X_ATTRS)
        )
        var.setncatts(attrs)
        var[:] = values
        if projected:
            if "nv" not in nc.dimensions:
                nc.createDimension("nv", 2)
            var.bounds = f"{name}_bnds"
            nc.createVariable(f"{name}_bnds", "f8", (name, "nv"))[:] = _cell_bounds(values)
    if not projected:
        return False
    crs = nc.createVariable("crs", "i4", ())
    crs.setncatts({"long_name": "coordinate reference system", **_cf_attrs(grid.crs or {})})
    if not (with_latlon and grid.proj4):
        return False
    for name, attrs in (("lat", cf.LAT_ATTRS), ("lon", cf.LON_ATTRS)):
        var = nc.createVariable(
            name, "f4", ("y", "x"), zlib=True, complevel=COMPLEVEL, shuffle=True
        )
        var.setncatts(attrs)
    if fill_latlon:
        from nowcast.io.projection import latlon

        nc["lat"][:], nc["lon"][:] = latlon(grid)
    return True


#: CF 5.6: if one of these is given, all three must be.
_DATUM_NAMES = ("reference_ellipsoid_name", "prime_meridian_name", "horizontal_datum_name")


def _cf_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Grid-mapping attributes as netCDF-friendly values (no None, lists as arrays).

    Datum names are dropped unless all three are present (CF 5.6 requires all
    or none); the numeric ellipsoid parameters and ``crs_wkt`` still say it.
    """
    clean: dict[str, Any] = {}
    for key, value in attrs.items():
        if value is None or key == "long_name":
            continue
        clean[key] = np.asarray(value, dtype="f8") if isinstance(value, (list, tuple)) else value
    if not all(name in clean for name in _DATUM_NAMES):
        for name in _DATUM_NAMES:
            clean.pop(name, None)
    return clean


def define_time(nc: netCDF4.Dataset, name: str, dims: tuple[str, ...], long_name: str) -> Any:
    """Create the int64 time variable ``name`` with the CF time attributes."""
    var = nc.createVariable(name, "i8", dims)
    attrs = {**cf.TIME_ATTRS, "long_name": long_name}
    if not dims:
        del attrs["axis"]  # only the time coordinate variable carries axis T
    var.setncatts(attrs)
    return var


def global_attrs(source: str, history: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The global attributes of both files; empty or None ``extra`` values are left out."""
    attrs: dict[str, Any] = {
        "Conventions": cf.CONVENTIONS,
        "source": source,
        "history": history,
        "references": "https://github.com/nowcast/nowcast (docs/data-formats.md)",
    }
    attrs.update({k: v for k, v in extra.items() if v is not None and v != ""})
    return attrs
