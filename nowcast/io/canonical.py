"""The canonical dataset: the one file every later stage reads.

Contract (written by :class:`nowcast.io.writers.CanonicalWriter`, checked by
:func:`open_canonical`):

==========================  =====================================================
item                        rule
==========================  =====================================================
data variable               ``rainfall_rate(time, y, x)`` float32, mm h-1, >= 0;
                            or ``intensity(time, y, x)`` in [0, 1] (Moving MNIST)
no coverage                 NaN in memory, ``_FillValue = -9999`` on disk
``time``                    int64 seconds since 1970-01-01 UTC, strictly increasing;
                            gaps allowed (windows never span them)
``x``, ``y``                cell centres; metres with ``x_bnds``/``y_bnds`` and a
                            ``crs`` grid mapping for radar; pixel indices otherwise
``sequence(time)``          optional: independent sequences (Moving MNIST)
``nowcast_timestep_seconds`` global attribute: the nominal cadence
storage                     NETCDF4, zlib level 4, one frame per chunk
==========================  =====================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

from nowcast.errors import CanonicalDataError
from nowcast.io import cf
from nowcast.io.grid import Grid

_GRID_MAPPING_SKIP = {"long_name"}


@dataclass
class CanonicalFile:
    """Lazy access to a canonical dataset: metadata up front, frames on demand."""

    path: Path
    variable: str
    units: str
    times: np.ndarray
    timestep_s: int
    grid: Grid
    sequence: np.ndarray | None
    attrs: dict[str, Any]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start:stop`` as float32 ``(n, ny, nx)`` with NaN for no coverage."""
        with netCDF4.Dataset(self.path) as nc:
            data = nc[self.variable][start:stop]
        return np.ma.filled(data.astype(np.float32), np.nan)

    def __len__(self) -> int:
        return int(self.times.size)


def open_canonical(path: Path) -> CanonicalFile:
    """Open a canonical file and check the contract.

    Raises:
        CanonicalDataError: when the file is missing, unreadable or breaks the contract.
    """
    if not Path(path).is_file():
        raise CanonicalDataError(f"{path}: no such file")
    try:
        nc = netCDF4.Dataset(path)
    except OSError as exc:
        raise CanonicalDataError(f"{path}: not a NetCDF file ({exc})") from exc
    with nc:
        variable = _data_variable(nc, path)
        times = np.asarray(nc["time"][:], dtype=np.int64).astype("datetime64[s]")
        if times.size > 1 and not np.all(np.diff(times).astype(np.int64) > 0):
            raise CanonicalDataError(f"{path}: time is not strictly increasing")
        return CanonicalFile(
            path=Path(path),
            variable=variable,
            units=str(nc[variable].getncattr("units")),
            times=times,
            timestep_s=_timestep(nc, times, path),
            grid=_grid(nc),
            sequence=np.asarray(nc["sequence"][:]) if "sequence" in nc.variables else None,
            attrs={k: nc.getncattr(k) for k in nc.ncattrs()},
        )


def _data_variable(nc: netCDF4.Dataset, path: Path) -> str:
    for name in (cf.RAIN, cf.INTENSITY):
        if name in nc.variables and nc[name].dimensions == ("time", "y", "x"):
            return name
    raise CanonicalDataError(
        f"{path}: not a canonical nowcast file (needs rainfall_rate or intensity (time, y, x); "
        f"found: {', '.join(nc.variables) or 'no variables'}); convert it with `nowcast ingest`"
    )


def _timestep(nc: netCDF4.Dataset, times: np.ndarray, path: Path) -> int:
    if "nowcast_timestep_seconds" in nc.ncattrs():
        return int(nc.getncattr("nowcast_timestep_seconds"))
    if times.size > 1:
        return int(np.median(np.diff(times).astype(np.int64)))
    raise CanonicalDataError(f"{path}: one frame and no nowcast_timestep_seconds attribute")


def _grid(nc: netCDF4.Dataset) -> Grid:
    x = np.asarray(nc["x"][:], dtype=np.float64)
    y = np.asarray(nc["y"][:], dtype=np.float64)
    if "crs" not in nc.variables:
        return Grid(x=x, y=y)
    crs_var = nc["crs"]
    attrs = {k: _plain(crs_var.getncattr(k)) for k in crs_var.ncattrs()}
    attrs = {k: v for k, v in attrs.items() if k not in _GRID_MAPPING_SKIP}
    from nowcast.io.proj4 import proj4_from_crs
    from nowcast.io.projection import crs_from_cf

    return Grid(x=x, y=y, crs=attrs, proj4=proj4_from_crs(crs_from_cf(attrs)))


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size > 1 else value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value
