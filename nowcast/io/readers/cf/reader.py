"""CF NetCDF reader: rain rate, precipitation amount or reflectivity on a projected grid.

The field is found by ``standard_name`` (never by variable name, except for
the fallback names in :data:`nowcast.io.cf.FALLBACK_RATE_NAMES`):

* rates (``rainfall_rate``, ``lwe_precipitation_rate``): any speed unit or
  mass flux (``mm h-1``, ``m s-1``, ``kg m-2 s-1`` ...) -> mm h-1;
* amounts (``precipitation_amount``, ``thickness_of_rainfall_amount``,
  ``lwe_thickness_of_precipitation_amount`` ...): ``mm``, ``m`` or ``kg m-2``
  divided by the accumulation period, from time bounds, a ``start_time``
  variable or a ``cell_methods`` interval;
* ``equivalent_reflectivity_factor`` (dBZ): Z-R (:mod:`nowcast.io.readers.zr`).

``scale_factor``/``add_offset``/``_FillValue``/``missing_value`` are honoured
(netCDF4 auto mask-and-scale); masked values become NaN; a ``scale_factor`` of
0 or non-finite packing refuses the file. ``x``/``y`` must be
projection coordinates (m or km; the values are cell centres, as CF says) with
a ``grid_mapping``. One frame per time step (time dimension) or one frame for a
scalar time. See ``docs/data-formats.md``.

The reader is here; units live in :mod:`nowcast.io.units`, finding the
field and decoding its stored codes in :mod:`nowcast.io.readers.cf.field`, and the
dimensions, grid and times in :mod:`nowcast.io.readers.cf.coords`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

from nowcast.errors import InputError, first_line
from nowcast.io import cf
from nowcast.io.grid import Frame
from nowcast.io.readers.cf import coords as cf_coords
from nowcast.io.readers.cf.field import (
    AMOUNT,
    DBZ,
    RATE,
    attr,
    check_packing,
    decoded_codes,
    find_field,
    masked_as_nan,
)
from nowcast.io.readers.hdf5 import looks_like_hdf5
from nowcast.io.readers.registry import ReaderOptions
from nowcast.io.readers.zr import dbz_to_rate
from nowcast.io.units import depth_factor, length_factor, parse_units, rate_factor

__all__ = [
    "AMOUNT",
    "DBZ",
    "RATE",
    "CfNetcdfReader",
    "depth_factor",
    "find_field",
    "length_factor",
    "parse_units",
    "rate_factor",
]

_NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")


class CfNetcdfReader:
    """CF-1.x NetCDF with a rain-rate, precipitation-amount or reflectivity variable."""

    name = "cf"
    description = "CF NetCDF (rain rate, precipitation amount or reflectivity on projected x/y)"

    def __init__(self, options: ReaderOptions | None = None) -> None:
        """Keep the options (Z-R coefficients for reflectivity variables)."""
        self.options = options or ReaderOptions()

    def can_open(self, path: Path) -> bool:
        """True for a NetCDF (3 or 4) file holding a recognisable precipitation variable."""
        try:
            if not _looks_like_netcdf(Path(path)):
                return False
            with netCDF4.Dataset(path, "r") as ds:
                return find_field(ds) is not None
        except Exception:
            return False

    def frames(self, path: Path) -> Iterator[Frame]:
        """Yield one rain-rate frame per time step.

        Raises:
            InputError: for unreadable files, files without a precipitation
                variable, lat/lon grids and missing grid/time information.
        """
        path = Path(path)
        if not _looks_like_netcdf(path):
            raise InputError(f"{path}: not a NetCDF file")
        try:
            with netCDF4.Dataset(path, "r") as ds:
                yield from self._frames(ds, path)
        except (OSError, RuntimeError) as exc:
            raise InputError(f"{path}: unreadable NetCDF file ({first_line(exc)})") from None

    def _frames(self, ds: netCDF4.Dataset, path: Path) -> Iterator[Frame]:
        found = find_field(ds)
        if found is None:
            names = ", ".join(ds.variables) or "none"
            raise InputError(
                f"{path}: no precipitation variable (standard_name rainfall_rate, "
                f"lwe_precipitation_rate, precipitation_amount ... or "
                f"equivalent_reflectivity_factor); variables found: {names}"
            )
        var, kind = found
        quantity = attr(var, "standard_name") or var.name
        try:
            layout = cf_coords.layout(ds, var)
            grid = cf_coords.grid(ds, var, layout)
            tvar = cf_coords.time_variable(ds, var, layout)
            times = cf_coords.decode_time(tvar, tvar[:]).reshape(-1)
            windows = cf_coords.windows(ds, var, tvar, times)
            scale = self._scale(var, kind, times, windows)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        for index, time in enumerate(times):
            values = self._values(var, layout, index, kind, scale)
            bounds = None if windows is None else (windows[index, 0], windows[index, 1])
            yield Frame(
                time=time,
                values=values,
                grid=grid,
                variable=cf.RAIN,
                source=str(path),
                bounds=bounds,
                extra={"quantity": quantity, "cf_variable": var.name},
            )

    def _scale(
        self, var: netCDF4.Variable[Any], kind: str, times: np.ndarray, windows: np.ndarray | None
    ) -> np.ndarray:
        """Per-frame factor to mm h-1 (1 for reflectivity, converted after Z-R)."""
        check_packing(var)
        units = attr(var, "units")
        if kind == DBZ:
            if units and units.lower() != "dbz":
                raise ValueError(f"reflectivity {var.name!r} in {units!r}; only dBZ is supported")
            return np.ones(times.size)
        if not units:
            raise ValueError(f"variable {var.name!r} has no units")
        if kind == RATE:
            return np.full(times.size, rate_factor(units))
        if windows is None:
            raise ValueError(
                f"precipitation amount {var.name!r} has no accumulation period "
                "(need time bounds, a start_time variable or a cell_methods interval)"
            )
        seconds = (windows[:, 1] - windows[:, 0]) / np.timedelta64(1, "s")
        if np.any(seconds <= 0):
            raise ValueError(f"accumulation period of {var.name!r} is not positive")
        return depth_factor(units) * 3600.0 / seconds

    def _values(
        self,
        var: netCDF4.Variable[Any],
        layout: cf_coords.Layout,
        index: int,
        kind: str,
        scale: np.ndarray,
    ) -> np.ndarray:
        """Read frame ``index`` as float32 mm h-1 (NaN for masked values), rows as stored.

        8/16-bit integer variables go through a lookup table of every stored
        code as netCDF4 itself decodes it
        (:func:`~nowcast.io.readers.cf.field.decoded_codes`): the same values as
        decoding the frame, without masked-array arithmetic.
        """
        key = tuple(
            index if dim == layout.time else 0 if dim in layout.others else slice(None)
            for dim in var.dimensions
        )
        codes = decoded_codes(var)
        if codes is None:
            data = masked_as_nan(var[key])
        else:  # stored integers, turned into rates through the table below
            var.set_auto_maskandscale(False)
            try:
                data = np.asarray(var[key])
            finally:
                var.set_auto_maskandscale(True)
        if var.dimensions.index(layout.x) < var.dimensions.index(layout.y):
            data = data.T

        def to_rate(decoded: np.ndarray) -> np.ndarray:
            if kind == DBZ:
                decoded = dbz_to_rate(decoded, self.options.zr_a, self.options.zr_b)
                decoded = decoded.astype(np.float64)
            return (decoded * scale[index]).astype(np.float32)

        if codes is None:
            return to_rate(data)
        table = to_rate(codes)
        return table[data.astype(np.intp) - np.iinfo(data.dtype).min]


def _looks_like_netcdf(path: Path) -> bool:
    """NetCDF-3 magic or an HDF5 signature (NetCDF-4); never raises."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    return head in _NETCDF3_MAGIC or looks_like_hdf5(path)
