"""The atomic NetCDF file under both writers: open a temporary file, rename it when complete.

Both writers are context managers over a netCDF4 dataset written beside its
target and moved onto it only when complete, or deleted on error: the life
cycle of :class:`~nowcast.io.writers.atomic.AtomicOutput`, which
:class:`AtomicNetcdf` extends with the dataset.
"""

from __future__ import annotations

from pathlib import Path

import netCDF4

from nowcast.io.writers import atomic


class AtomicNetcdf(atomic.AtomicOutput):
    """A netCDF4 dataset opened on the temporary file; closed before the rename or removal."""

    def __init__(self, path: Path, overwrite: bool) -> None:
        atomic.check_output(path, overwrite)
        super().__init__(path)
        self.nc = netCDF4.Dataset(self.tmp, "w", format="NETCDF4")

    def finish(self) -> None:
        """Close and move the file onto its final name."""
        self.nc.close()
        super().finish()

    def abort(self) -> None:
        """Close and delete the temporary file."""
        if self.nc.isopen():
            self.nc.close()
        super().abort()
