"""The canonical observation file's writer: frames stored as ready-made chunks, in any thread.

:class:`CanonicalWriter` lets netCDF-C define the file and stores the frames'
chunks itself through h5py (compressed by :mod:`nowcast.io.writers.chunks`), so that
ingest can compress frames in several threads; its reserve/store, lat/lon,
reordering and late-attribute logic is its own and lives here, apart from the
forecast writer.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

from nowcast import __version__
from nowcast.io import cf
from nowcast.io.grid import Grid
from nowcast.io.writers.chunks import (
    COMPLEVEL,
    Chunk,
    compress_frame,
    latlon_chunks,
    store_chunks,
)
from nowcast.io.writers.file import AtomicNetcdf
from nowcast.io.writers.layout import define_grid, define_time, epoch_seconds, global_attrs

#: What netCDF-C leaves in ``time_bnds`` rows never written (its default int64 fill).
_NO_BOUND = int(netCDF4.default_fillvals["i8"])


class CanonicalWriter(AtomicNetcdf):
    """Streams frames into a canonical observation file (see ``io/canonical.py``).

    netCDF-C defines the whole file (dimensions, variables, attributes,
    storage: zlib level 4, shuffle, one chunk per frame) and writes
    everything but the frames, which go into the data variable's chunks
    directly through h5py, already compressed by :func:`~.chunks.compress_frame`: a
    shuffle + deflate chunk that HDF5's filters read back,
    made outside netCDF-C, which is not thread-safe, so that several threads
    can compress frames at once (``nowcast.io.ingest.parallel``). The file is closed
    by h5py and reopened by netCDF-C at :meth:`finish` for the times and the
    late global attributes.

    Frames are appended along the unlimited ``time`` dimension in any order;
    ingest reorders them (:meth:`copy_into`) when they arrive unsorted. With
    ``latlon_later``, the lat/lon variables are left empty for
    :meth:`store_latlon` (ingest computes them in another thread while frames
    are written); by default they are computed when the file is created.
    """

    def __init__(
        self,
        path: Path,
        grid: Grid,
        variable: str,
        *,
        overwrite: bool = False,
        with_bounds: bool = False,
        with_sequence: bool = False,
        source: str = "",
        history: str = "",
        title: str = "Radar precipitation observations",
        latlon_later: bool = False,
    ) -> None:
        super().__init__(path, overwrite)
        self.variable = variable
        self._latlon_later = latlon_later
        self._latlon_pending = False
        self._times: list[int] = []
        self._bounds: list[tuple[int, int]] | None = [] if with_bounds else None
        self._sequences: list[int] | None = [] if with_sequence else None
        self._attrs: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._stored = 0
        with self.removed_on_error():
            self._define(grid, variable, with_bounds, with_sequence, source, history, title)
            self._data = self.open_hdf5()[variable]

    @property
    def needs_latlon(self) -> bool:
        """True while lat/lon left for later (``latlon_later``) are still to be stored."""
        return self._latlon_pending

    @property
    def count(self) -> int:
        """Frames appended (or reserved) so far."""
        return len(self._times)

    def _define(
        self,
        grid: Grid,
        variable: str,
        with_bounds: bool,
        with_sequence: bool,
        source: str,
        history: str,
        title: str,
    ) -> None:
        """Create the dimensions, variables and attributes of the canonical layout."""
        nc = self.nc
        nc.createDimension("time", None)
        has_latlon = define_grid(nc, grid, fill_latlon=not self._latlon_later)
        self._latlon_pending = has_latlon and self._latlon_later
        time = define_time(nc, "time", ("time",), "observation time")
        if with_bounds:
            if "nv" not in nc.dimensions:
                nc.createDimension("nv", 2)
            time.bounds = "time_bnds"
            nc.createVariable("time_bnds", "i8", ("time", "nv"))
        coords = []
        if with_sequence:
            seq = nc.createVariable("sequence", "i4", ("time",))
            seq.long_name = "index of the independent sequence this frame belongs to"
            seq.units = "1"
            coords.append("sequence")
        if has_latlon:
            coords += ["lat", "lon"]
        ny, nx = grid.shape
        data = nc.createVariable(
            variable,
            "f4",
            ("time", "y", "x"),
            zlib=True,
            complevel=COMPLEVEL,
            shuffle=True,
            chunksizes=(1, ny, nx),
            fill_value=cf.FILL_VALUE,
        )
        data.setncatts(cf.VARIABLE_ATTRS[variable])
        data.valid_min = np.float32(0.0)
        if variable == cf.INTENSITY:
            data.valid_max = np.float32(1.0)
        if coords:
            data.coordinates = " ".join(coords)
        if grid.is_projected:
            data.grid_mapping = "crs"
        nc.setncatts(
            global_attrs(
                f"nowcast {__version__} ingest; {source}",
                history,
                {
                    "title": title,
                },
            )
        )

    def append(
        self,
        time: np.datetime64,
        values: np.ndarray,
        bounds: tuple[np.datetime64, np.datetime64] | None = None,
        sequence: int | None = None,
    ) -> None:
        """Write one frame (NaN = no coverage) at the next time index."""
        self.store_chunk(self.reserve(time, bounds, sequence), compress_frame(values))

    def reserve(
        self,
        time: np.datetime64,
        bounds: tuple[np.datetime64, np.datetime64] | None = None,
        sequence: int | None = None,
    ) -> int:
        """Take the next time index for a frame whose chunk :meth:`store_chunk` stores later."""
        epoch_bounds = (
            (_NO_BOUND, _NO_BOUND)
            if bounds is None
            else (epoch_seconds(bounds[0]), epoch_seconds(bounds[1]))
        )
        return self._reserve_epoch(
            epoch_seconds(time), epoch_bounds, -1 if sequence is None else sequence
        )

    def _reserve_epoch(self, time_s: int, bounds_s: tuple[int, int], sequence: int) -> int:
        """:meth:`reserve` with the time and bounds already in epoch seconds (-1: no sequence)."""
        self._times.append(time_s)
        if self._bounds is not None:
            self._bounds.append(bounds_s)
        if self._sequences is not None:
            self._sequences.append(sequence)
        return len(self._times) - 1

    def store_chunk(self, index: int, chunk: tuple[int, bytes]) -> None:
        """Store the compressed frame ``chunk`` at ``index`` (any thread).

        Stored in index order, the file's bytes are the same on every run.
        """
        filter_mask, payload = chunk
        with self._lock:
            if index >= self._data.shape[0]:
                self._data.resize(index + 1, axis=0)
            self._data.id.write_direct_chunk((index, 0, 0), payload, filter_mask)
            self._stored += 1

    def store_latlon(self, values: tuple[np.ndarray, np.ndarray]) -> None:
        """Store ``(lat, lon)`` left out at creation (``latlon_later``)."""
        self.store_latlon_chunks(self.compress_latlon(values))

    def compress_latlon(self, values: tuple[np.ndarray, np.ndarray]) -> list[Chunk]:
        """``(lat, lon)`` as chunks for :meth:`store_latlon_chunks` (any thread, frames or not)."""
        assert self.h5 is not None, "lat/lon chunks are compressed before the file is closed"
        return latlon_chunks(self.h5, values)

    def store_latlon_chunks(self, items: list[Chunk]) -> None:
        """Store what :meth:`compress_latlon` made (after the frames, for a reproducible file)."""
        assert self.h5 is not None, "lat/lon chunks are stored before the file is closed"
        with self._lock:
            store_chunks(self.h5, items)
        self._latlon_pending = False

    def chunk(self, index: int) -> tuple[int, bytes]:
        """The stored frame ``index`` as :func:`~.chunks.compress_frame` returned it."""
        filter_mask, payload = self._data.id.read_direct_chunk((index, 0, 0))
        return int(filter_mask), bytes(payload)

    def copy_into(self, target: CanonicalWriter, order: Sequence[int] | np.ndarray) -> None:
        """Append this file's frames ``order`` to ``target``, chunks copied as stored."""
        for i in order:
            bounds = self._bounds[i] if self._bounds is not None else (_NO_BOUND, _NO_BOUND)
            sequence = self._sequences[i] if self._sequences is not None else -1
            index = target._reserve_epoch(self._times[i], bounds, sequence)
            target.store_chunk(index, self.chunk(int(i)))

    def finish(self) -> None:
        """Write the times and late attributes with netCDF-C; close and rename.

        Raises:
            RuntimeError: when a reserved frame was never stored.
        """
        if self._stored != self.count:
            raise RuntimeError(f"{self.count - self._stored} reserved frame(s) never stored")
        if self._latlon_pending:
            raise RuntimeError("lat/lon were left for later and never stored")
        if self.h5 is not None:
            self.h5.close()
        self.nc = netCDF4.Dataset(self.tmp, "a")
        nc = self.nc
        if self._times:
            nc["time"][:] = np.asarray(self._times, dtype=np.int64)
            if self._bounds is not None:
                nc["time_bnds"][:, :] = np.asarray(self._bounds, dtype=np.int64)
            if self._sequences is not None:
                nc["sequence"][:] = np.asarray(self._sequences, dtype=np.int32)
        nc.setncatts(self._attrs)
        super().finish()

    def set_attributes(self, **attrs: Any) -> None:
        """Add global attributes (e.g. the time step once known); written at :meth:`finish`."""
        self._attrs.update({k: v for k, v in attrs.items() if v is not None})
