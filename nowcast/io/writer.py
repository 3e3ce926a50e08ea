"""NetCDF writers for the canonical observation file and the forecast file.

Both follow ``../shared/design/cf-netcdf.md`` and are written frame by frame
(memory stays bounded whatever the number of frames) into a temporary file
that is renamed only when complete (:mod:`nowcast.io.atomic`). netCDF4 defines
and writes them; the canonical file's frames are compressed by
:func:`~nowcast.io.chunks.compress_frame`, in any thread, and stored as
chunks through h5py.

The code lives in :mod:`nowcast.io.writer_layout` (the CF layout both files
share), :mod:`nowcast.io.writer_file` (the atomic temporary file),
:mod:`nowcast.io.writer_canonical` (:class:`CanonicalWriter`) and
:mod:`nowcast.io.writer_forecast` (:class:`ForecastWriter`); this module keeps
the names callers import.
"""

from __future__ import annotations

from nowcast.io.writer_canonical import CanonicalWriter
from nowcast.io.writer_forecast import ForecastWriter
from nowcast.io.writer_layout import define_grid

__all__ = ["CanonicalWriter", "ForecastWriter", "define_grid"]
