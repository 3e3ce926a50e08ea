"""The atomic NetCDF file under both writers: open a temporary file, rename it when complete.

Both writers are context managers over a netCDF4 dataset written beside its
target and moved onto it only when complete, or deleted on error: the life
cycle of :class:`~nowcast.io.writers.atomic.AtomicOutput`, which
:class:`AtomicNetcdf` extends with the dataset and, once netCDF-C has defined
the file, the h5py handle through which both store their fields' chunks.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import netCDF4

from nowcast.errors import OutputError, first_line
from nowcast.io.writers import atomic


class AtomicNetcdf(atomic.AtomicOutput):
    """A netCDF4 dataset opened on the temporary file; closed before the rename or removal.

    Attributes:
        h5: The file reopened by h5py (:meth:`open_hdf5`), None before.
    """

    def __init__(self, path: Path, overwrite: bool) -> None:
        atomic.check_output(path, overwrite)
        self.h5: h5py.File | None = None
        super().__init__(path, overwrite=overwrite)
        with self.removed_on_error():
            self.nc = netCDF4.Dataset(self.tmp, "w", format="NETCDF4")

    def open_hdf5(self) -> h5py.File:
        """Close the defined dataset and reopen the temporary file with h5py, read-write.

        netCDF-C and h5py never have the file open at once: each keeps its own
        cache of it.
        """
        self.nc.close()
        self.h5 = h5py.File(self.tmp, "r+")
        return self.h5

    def close(self) -> None:
        """Close the h5py handle and the dataset, whichever is open."""
        try:
            if self.h5 is not None and self.h5.id.valid:
                self.h5.close()
        finally:
            if hasattr(self, "nc") and self.nc.isopen():
                self.nc.close()

    def fail(self, exc: BaseException) -> None:
        """As :meth:`AtomicOutput.fail`; netCDF-C's own errors are write failures too.

        netCDF-C reports a full disk or a file size limit only as
        ``NetCDF: HDF error`` (a ``RuntimeError`` without ``errno``), mostly
        when the dataset is closed and its cache written out.
        """
        super().fail(exc)
        if isinstance(exc, RuntimeError) and str(exc).startswith("NetCDF:"):
            raise OutputError(
                f"cannot write {self.path}: {first_line(exc)} "
                "(a full disk or a file size limit, most likely)"
            ) from exc
