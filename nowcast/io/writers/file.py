"""The atomic NetCDF file under both writers: open a temporary file, rename it when complete.

Both writers are context managers over a netCDF4 dataset written beside its
target and moved onto it only when complete (:mod:`nowcast.io.writers.atomic`), or
deleted on error; :class:`AtomicNetcdf` holds that lifecycle once.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TypeVar

import netCDF4

from nowcast.io.writers import atomic

_Writer = TypeVar("_Writer", bound="AtomicNetcdf")


class AtomicNetcdf:
    """Shared open/commit/discard logic of the two writers."""

    def __init__(self, path: Path, overwrite: bool) -> None:
        atomic.check_output(path, overwrite)
        self.path = path
        self._tmp = atomic.temporary_path(path)
        self.nc = netCDF4.Dataset(self._tmp, "w", format="NETCDF4")

    def __enter__(self: _Writer) -> _Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.finish()
        except BaseException:
            self.abort()
            raise

    def finish(self) -> None:
        """Close and move the file onto its final name."""
        self.nc.close()
        atomic.commit(self._tmp, self.path)

    def abort(self) -> None:
        """Close and delete the temporary file."""
        if self.nc.isopen():
            self.nc.close()
        atomic.discard(self._tmp)
