"""The canonical dataset: the one file every later stage reads.

Contract (written by :class:`nowcast.io.writers.CanonicalWriter`, checked by
:func:`open_canonical`):

==========================  =====================================================
item                        rule
==========================  =====================================================
data variable               ``rainfall_rate(time, y, x)`` float32, ``units`` mm h-1
                            (any spelling), 0 .. ``nowcast_max_rate``;
                            or ``intensity(time, y, x)`` in [0, 1] (Moving MNIST)
no coverage                 NaN in memory, ``_FillValue = -9999`` on disk
``time``                    int64 seconds since 1970-01-01 UTC, strictly increasing;
                            gaps allowed (windows never span them)
``x``, ``y``                cell centres; metres with ``x_bnds``/``y_bnds`` and a
                            ``crs`` grid mapping for radar; pixel indices otherwise
``sequence(time)``          optional: independent sequences (Moving MNIST)
``nowcast_timestep_seconds`` global attribute: the nominal cadence
``nowcast_max_rate``        global attribute: largest plausible rate, mm h-1
                            (default 500); values read beyond it, or not
                            finite, become NaN (:mod:`nowcast.io.plausible`)
storage                     NETCDF4, zlib level 4, one frame per chunk
==========================  =====================================================
"""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

from nowcast.errors import CanonicalDataError, ConfigError
from nowcast.io import cf
from nowcast.io.grid import Grid
from nowcast.io.plausible import (
    DEFAULT_MAX_RATE,
    MAX_RATE_ATTR,
    check_max_rate,
    sanitise,
    value_limit,
)
from nowcast.io.units import is_mm_per_hour

_GRID_MAPPING_SKIP = {"long_name"}


#: ``(st_dev, st_ino, st_mtime_ns, st_size)``: which file a path named when it was opened.
FileIdentity = tuple[int, int, int, int]


def file_identity(path: Path) -> FileIdentity:
    """The identity of the file at ``path`` now; a replaced or rewritten file has another."""
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def open_snapshot(
    path: Path, expected: FileIdentity | None = None
) -> tuple[netCDF4.Dataset, FileIdentity]:
    """Open ``path`` read-only, refusing a file other than ``expected``.

    The identity is taken before and after opening, so a file replaced while it was
    being opened is refused too; with ``expected=None`` the file found is the one kept.

    Returns:
        The open dataset and the identity of the file it reads.

    Raises:
        CanonicalDataError: when the path now names another file (replaced with
            ``os.replace`` or rewritten) than ``expected``.
        OSError: when the file cannot be opened as NetCDF.
    """
    before = file_identity(path)
    nc = netCDF4.Dataset(path)
    expected = expected or before
    if before != expected or file_identity(path) != expected:
        nc.close()
        raise CanonicalDataError(
            f"{path} was replaced or changed after it was opened; start again to use the new file"
        )
    return nc, expected


def _close_in(nc: netCDF4.Dataset, pid: int) -> None:
    """Close ``nc`` in the process that opened it (a forked child leaves the parent's alone)."""
    if os.getpid() == pid and nc.isopen():
        nc.close()


@dataclass
class CanonicalFile:
    """Lazy access to a canonical dataset: metadata up front, frames on demand.

    Every read comes from the one file opened by :func:`open_canonical`, kept open
    for the object's life (:meth:`close`, a ``with`` block or garbage collection
    closes it): a path replaced meanwhile (an atomic rewrite) does not mix one
    file's times with another's frames. A copy in another process (pickled into a
    DataLoader worker) reopens the path and refuses it unless it is still that file.
    """

    path: Path
    variable: str
    units: str
    times: np.ndarray
    timestep_s: int
    grid: Grid
    sequence: np.ndarray | None
    attrs: dict[str, Any]
    identity: FileIdentity
    max_rate: float = DEFAULT_MAX_RATE
    _nc: netCDF4.Dataset | None = field(default=None, repr=False, compare=False)
    _pid: int = field(default=-1, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Keep the dataset :func:`open_canonical` opened."""
        if self._nc is not None:
            self._keep(self._nc)

    def _keep(self, nc: netCDF4.Dataset) -> None:
        """Read from ``nc`` in this process; it is closed when the object is garbage-collected."""
        self._nc, self._pid = nc, os.getpid()
        weakref.finalize(self, _close_in, nc, self._pid)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start:stop`` as float32 ``(n, ny, nx)``, NaN for no coverage or implausible."""
        data = self._dataset()[self.variable][start:stop]
        values = np.ma.filled(data.astype(np.float32), np.nan)
        return sanitise(values, value_limit(self.variable, self.max_rate))

    def _dataset(self) -> netCDF4.Dataset:
        """This process's open dataset; reopened (and checked) in a new process or after close."""
        if self._nc is not None and self._pid == os.getpid() and self._nc.isopen():
            return self._nc
        try:
            nc, _ = open_snapshot(self.path, self.identity)
        except OSError as exc:
            raise CanonicalDataError(f"{self.path}: cannot reopen ({exc})") from exc
        self._keep(nc)
        return nc

    def close(self) -> None:
        """Close the file (a later :meth:`read` reopens it, if it is still the same file)."""
        if self._nc is not None:
            _close_in(self._nc, self._pid)
        self._nc = None

    def __enter__(self) -> CanonicalFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the open dataset: the copy reopens the same file on first read."""
        return {**self.__dict__, "_nc": None, "_pid": -1}

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
        nc, identity = open_snapshot(Path(path))
    except OSError as exc:
        raise CanonicalDataError(f"{path}: not a NetCDF file ({exc})") from exc
    try:
        variable = _data_variable(nc, path)
        times = _times(nc, path)
        if times.size > 1 and not np.all(np.diff(times).astype(np.int64) > 0):
            raise CanonicalDataError(f"{path}: time is not strictly increasing")
        return CanonicalFile(
            path=Path(path),
            variable=variable,
            units=_units(nc, variable, path),
            times=times,
            timestep_s=_timestep(nc, times, path),
            grid=_grid(nc),
            sequence=np.asarray(nc["sequence"][:]) if "sequence" in nc.variables else None,
            attrs={k: nc.getncattr(k) for k in nc.ncattrs()},
            identity=identity,
            max_rate=file_max_rate(nc, path),
            _nc=nc,
        )
    except BaseException:
        nc.close()
        raise


def _times(nc: netCDF4.Dataset, path: Path) -> np.ndarray:
    """The ``time`` variable as ``datetime64[s]``; refused when missing, masked or not finite."""
    if "time" not in nc.variables:
        raise CanonicalDataError(f"{path}: no time variable")
    values = np.ma.asarray(nc["time"][:])
    if np.ma.getmaskarray(values).any() or not np.isfinite(values.filled(0)).all():
        raise CanonicalDataError(f"{path}: time has missing or non-finite (NaN) values")
    return np.asarray(values, dtype=np.int64).astype("datetime64[s]")


def _data_variable(nc: netCDF4.Dataset, path: Path) -> str:
    for name in (cf.RAIN, cf.INTENSITY):
        if name in nc.variables and nc[name].dimensions == ("time", "y", "x"):
            return name
    raise CanonicalDataError(
        f"{path}: not a canonical nowcast file (needs rainfall_rate or intensity (time, y, x); "
        f"found: {', '.join(nc.variables) or 'no variables'}); convert it with `nowcast ingest`"
    )


def _units(nc: netCDF4.Dataset, variable: str, path: Path) -> str:
    """The data variable's units; a rain rate must be in mm h-1, never converted on reading."""
    units = str(getattr(nc[variable], "units", ""))
    if variable == cf.RAIN and not is_mm_per_hour(units):
        raise CanonicalDataError(
            f"{path}: {variable} is in {units or 'no units'!r}, not mm h-1; "
            "a canonical file holds mm h-1 (ingest the original data again)"
        )
    return units


def file_max_rate(nc: netCDF4.Dataset, path: Path) -> float:
    """``nowcast_max_rate`` (mm h-1), or the default for files written without it."""
    if MAX_RATE_ATTR not in nc.ncattrs():
        return DEFAULT_MAX_RATE
    try:
        return check_max_rate(float(nc.getncattr(MAX_RATE_ATTR)))
    except (ConfigError, TypeError, ValueError):
        raise CanonicalDataError(
            f"{path}: {MAX_RATE_ATTR} is {nc.getncattr(MAX_RATE_ATTR)!r}, not a rate > 0 mm h-1"
        ) from None


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
