"""NetCDF writers for the canonical observation file and the forecast file.

Both follow ``../shared/design/cf-netcdf.md`` and are written frame by frame
(memory stays bounded whatever the number of frames) into a temporary file
that is renamed only when complete (:mod:`nowcast.io.atomic`). netCDF4 defines
and writes them; the canonical file's frames are compressed by
:func:`~nowcast.io.chunks.compress_frame`, in any thread, and stored as
chunks through h5py.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import h5py
import netCDF4
import numpy as np

from nowcast import __version__
from nowcast.io import atomic, cf
from nowcast.io.chunks import COMPLEVEL, chunk_blocks, compress_frame, shuffle_deflate
from nowcast.io.grid import Grid


def _epoch_seconds(time: np.datetime64) -> int:
    return int(np.datetime64(time, "s").astype(np.int64))


def _cell_bounds(centres: np.ndarray) -> np.ndarray:
    """``(n, 2)`` cell edges from cell centres of a regular axis."""
    step = centres[1] - centres[0] if centres.size > 1 else 1.0
    return np.stack([centres - step / 2, centres + step / 2], axis=1)


def define_grid(
    nc: netCDF4.Dataset, grid: Grid, with_latlon: bool = True, fill_latlon: bool = True
) -> bool:
    """Create ``y``/``x`` (+ bounds), ``crs`` and optional ``lat``/``lon``.

    With ``fill_latlon=False`` the ``lat``/``lon`` variables are created but
    left empty (see :meth:`CanonicalWriter.store_latlon`).

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


def _define_time(nc: netCDF4.Dataset, name: str, dims: tuple[str, ...], long_name: str) -> Any:
    var = nc.createVariable(name, "i8", dims)
    attrs = {**cf.TIME_ATTRS, "long_name": long_name}
    if not dims:
        del attrs["axis"]  # only the time coordinate variable carries axis T
    var.setncatts(attrs)
    return var


def _global_attrs(source: str, history: str, extra: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "Conventions": cf.CONVENTIONS,
        "source": source,
        "history": history,
        "references": "https://github.com/nowcast/nowcast (docs/data-formats.md)",
    }
    attrs.update({k: v for k, v in extra.items() if v is not None and v != ""})
    return attrs


_Writer = TypeVar("_Writer", bound="_AtomicNetcdf")


class _AtomicNetcdf:
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


#: What netCDF-C leaves in ``time_bnds`` rows never written (its default int64 fill).
_NO_BOUND = int(netCDF4.default_fillvals["i8"])


class CanonicalWriter(_AtomicNetcdf):
    """Streams frames into a canonical observation file (see ``io/canonical.py``).

    netCDF-C defines the whole file (dimensions, variables, attributes,
    storage: zlib level 4, shuffle, one chunk per frame) and writes
    everything but the frames, which go into the data variable's chunks
    directly through h5py, already compressed by :func:`~nowcast.io.chunks.compress_frame`: a
    shuffle + deflate chunk that HDF5's filters read back,
    made outside netCDF-C, which is not thread-safe, so that several threads
    can compress frames at once (``nowcast.io.ingest``). The file is closed
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
        self._h5: h5py.File | None = None
        try:
            self._define(grid, variable, with_bounds, with_sequence, source, history, title)
            self.nc.close()
            self._h5 = h5py.File(self._tmp, "r+")
            self._data = self._h5[variable]
        except BaseException:
            self.abort()
            raise

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
        time = _define_time(nc, "time", ("time",), "observation time")
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
            _global_attrs(
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
            else (_epoch_seconds(bounds[0]), _epoch_seconds(bounds[1]))
        )
        return self._reserve_epoch(
            _epoch_seconds(time), epoch_bounds, -1 if sequence is None else sequence
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

    def compress_latlon(
        self, values: tuple[np.ndarray, np.ndarray]
    ) -> list[tuple[str, tuple[int, ...], tuple[int, bytes]]]:
        """``(lat, lon)`` as ``(name, offset, chunk)`` items for :meth:`store_latlon_chunks`.

        Compressed with the filters netCDF-C gave the variables (shuffle +
        deflate); any thread may do this while frames are being written.
        """
        items = []
        for name, array in zip(("lat", "lon"), values, strict=True):
            dataset = self._h5[name]
            for offset, block in chunk_blocks(array, dataset.chunks, dataset.fillvalue):
                items.append((name, offset, shuffle_deflate(block)))
        return items

    def store_latlon_chunks(
        self, items: list[tuple[str, tuple[int, ...], tuple[int, bytes]]]
    ) -> None:
        """Store what :meth:`compress_latlon` made (after the frames, for a reproducible file)."""
        with self._lock:
            for name, offset, (filter_mask, payload) in items:
                self._h5[name].id.write_direct_chunk(offset, payload, filter_mask)
        self._latlon_pending = False

    def chunk(self, index: int) -> tuple[int, bytes]:
        """The stored frame ``index`` as :func:`~nowcast.io.chunks.compress_frame` returned it."""
        filter_mask, payload = self._data.id.read_direct_chunk((index, 0, 0))
        return int(filter_mask), bytes(payload)

    def copy_into(self, target: CanonicalWriter, order: Sequence[int]) -> None:
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
        if self._h5 is not None:
            self._h5.close()
        self.nc = netCDF4.Dataset(self._tmp, "a")
        nc = self.nc
        if self._times:
            nc["time"][:] = np.asarray(self._times, dtype=np.int64)
            if self._bounds is not None:
                nc["time_bnds"][:, :] = np.asarray(self._bounds, dtype=np.int64)
            if self._sequences is not None:
                nc["sequence"][:] = np.asarray(self._sequences, dtype=np.int32)
        nc.setncatts(self._attrs)
        super().finish()

    def abort(self) -> None:
        """Close and delete the temporary file."""
        if self._h5 is not None and self._h5.id.valid:
            self._h5.close()
        super().abort()

    def set_attributes(self, **attrs: Any) -> None:
        """Add global attributes (e.g. the time step once known); written at :meth:`finish`."""
        self._attrs.update({k: v for k, v in attrs.items() if v is not None})


class ForecastWriter(_AtomicNetcdf):
    """Writes a forecast file exactly as cf-netcdf.md section 2 lays it out.

    The file is defined up front (fixed ``time`` of ``len(valid_times)``) and
    filled one lead time at a time with :meth:`write_step`, so a forecast on a
    continental grid never needs all lead times in memory at once.
    """

    def __init__(
        self,
        path: Path,
        grid: Grid,
        variable: str,
        reference_time: np.datetime64,
        valid_times: np.ndarray,
        *,
        overwrite: bool = False,
        pack: bool = False,
        source: str = "",
        history: str = "",
        comment: str = "",
        provenance: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(path, overwrite)
        self.variable = variable
        nc = self.nc
        nc.createDimension("time", len(valid_times))
        has_latlon = define_grid(nc, grid)
        _define_time(nc, "time", ("time",), "forecast valid time")[:] = [
            _epoch_seconds(t) for t in valid_times
        ]
        ref = _define_time(nc, "forecast_reference_time", (), "time of the last observation used")
        ref.standard_name = "forecast_reference_time"
        ref[...] = _epoch_seconds(reference_time)
        period = nc.createVariable("forecast_period", "i4", ("time",))
        period.setncatts(
            {"standard_name": "forecast_period", "long_name": "lead time", "units": "seconds"}
        )
        period[:] = [_epoch_seconds(t) - _epoch_seconds(reference_time) for t in valid_times]
        self._define_data(grid, variable, pack, has_latlon)
        nc.setncatts(
            _global_attrs(
                source,
                history,
                {
                    "title": "Precipitation nowcast",
                    "comment": comment,
                    **(provenance or {}),
                },
            )
        )

    def _define_data(self, grid: Grid, variable: str, pack: bool, has_latlon: bool) -> None:
        ny, nx = grid.shape
        storage = {"zlib": True, "complevel": COMPLEVEL, "shuffle": True, "chunksizes": (1, ny, nx)}
        if pack:
            data = self.nc.createVariable(
                variable, "i2", ("time", "y", "x"), fill_value=cf.PACKED_FILL_VALUE, **storage
            )
            data.scale_factor = cf.PACKED_SCALE
            data.add_offset = np.float32(0.0)
        else:
            data = self.nc.createVariable(
                variable, "f4", ("time", "y", "x"), fill_value=cf.FILL_VALUE, **storage
            )
            data.valid_min = np.float32(0.0)
        attrs = dict(cf.VARIABLE_ATTRS[variable])
        attrs["long_name"] = "Nowcast of " + str(attrs["long_name"]).lower()
        data.setncatts(attrs)
        coords = ["forecast_period", "forecast_reference_time"] + (["lat", "lon"] * has_latlon)
        data.coordinates = " ".join(coords)
        if grid.is_projected:
            data.grid_mapping = "crs"

    def write_step(self, index: int, values: np.ndarray) -> None:
        """Write lead time ``index`` (NaN = no coverage; packed values clipped to int16 range)."""
        values = values.astype(np.float32, copy=False)
        if self.nc[self.variable].dtype == np.int16:
            values = np.minimum(values, float(cf.PACKED_SCALE) * np.iinfo(np.int16).max)
        missing = np.isnan(values)
        self.nc[self.variable][index, :, :] = np.ma.masked_array(
            np.where(missing, 0.0, values), mask=missing
        )
