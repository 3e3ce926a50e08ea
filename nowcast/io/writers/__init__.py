"""NetCDF writers for the canonical observation file and the forecast file.

Both follow the layout rules of docs/data-formats.md and are written frame by frame
(memory stays bounded whatever the number of frames) into a temporary file
that is renamed only when complete (:mod:`nowcast.io.writers.atomic`). netCDF4 defines
them; their frames and fields are compressed by
:func:`~nowcast.io.writers.chunks.compress_frame`, in any thread, and stored as
chunks through h5py.

The code lives in :mod:`nowcast.io.writers.layout` (the CF layout both files
share), :mod:`nowcast.io.writers.file` (the atomic temporary file),
:mod:`nowcast.io.writers.canonical` (:class:`CanonicalWriter`),
:mod:`nowcast.io.writers.forecast` (:class:`ForecastWriter`) and
:mod:`nowcast.io.writers.fields` (its fields' chunks); this module keeps
the names callers import.
"""

from __future__ import annotations

from nowcast.io.writers.canonical import CanonicalWriter
from nowcast.io.writers.forecast import ForecastWriter
from nowcast.io.writers.layout import define_grid

__all__ = ["CanonicalWriter", "ForecastWriter", "define_grid"]
