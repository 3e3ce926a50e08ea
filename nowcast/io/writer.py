"""NetCDF writers for the canonical observation file and the forecast file.

Both follow ``../shared/design/cf-netcdf.md`` and are written frame by frame
with netCDF4 (memory stays bounded whatever the number of frames) into a
temporary file that is renamed only when complete (:mod:`nowcast.io.atomic`).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import netCDF4
import numpy as np

from nowcast import __version__
from nowcast.io import atomic, cf
from nowcast.io.grid import Grid


def _epoch_seconds(time: np.datetime64) -> int:
    return int(np.datetime64(time, "s").astype(np.int64))


def _cell_bounds(centres: np.ndarray) -> np.ndarray:
    """``(n, 2)`` cell edges from cell centres of a regular axis."""
    step = centres[1] - centres[0] if centres.size > 1 else 1.0
    return np.stack([centres - step / 2, centres + step / 2], axis=1)


def define_grid(nc: netCDF4.Dataset, grid: Grid, with_latlon: bool = True) -> bool:
    """Create ``y``/``x`` (+ bounds), ``crs`` and optional ``lat``/``lon``.

    Returns:
        True when ``lat``/``lon`` were written (projected grids only).
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
    from nowcast.io.projection import latlon

    lat, lon = latlon(grid)
    for name, values, attrs in (("lat", lat, cf.LAT_ATTRS), ("lon", lon, cf.LON_ATTRS)):
        var = nc.createVariable(name, "f4", ("y", "x"), zlib=True, complevel=4)
        var.setncatts(attrs)
        var[:] = values
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


class _AtomicNetcdf:
    """Shared open/commit/discard logic of the two writers."""

    def __init__(self, path: Path, overwrite: bool) -> None:
        atomic.check_output(path, overwrite)
        self.path = path
        self._tmp = atomic.temporary_path(path)
        self.nc = netCDF4.Dataset(self._tmp, "w", format="NETCDF4")

    def __enter__(self) -> _AtomicNetcdf:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()

    def finish(self) -> None:
        """Close and move the file onto its final name."""
        self.nc.close()
        atomic.commit(self._tmp, self.path)

    def abort(self) -> None:
        """Close and delete the temporary file."""
        if self.nc.isopen():
            self.nc.close()
        atomic.discard(self._tmp)


class CanonicalWriter(_AtomicNetcdf):
    """Streams frames into a canonical observation file (see ``io/canonical.py``).

    Frames are appended along an unlimited ``time`` dimension, one chunk per
    frame. The caller passes frames in any order; :meth:`reorder` is used by
    ingest when they arrive unsorted.
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
    ) -> None:
        super().__init__(path, overwrite)
        self.variable = variable
        self.count = 0
        nc = self.nc
        nc.createDimension("time", None)
        has_latlon = define_grid(nc, grid)
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
            complevel=4,
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
        i = self.count
        nc = self.nc
        nc["time"][i] = _epoch_seconds(time)
        if "time_bnds" in nc.variables and bounds is not None:
            nc["time_bnds"][i, :] = [_epoch_seconds(bounds[0]), _epoch_seconds(bounds[1])]
        if "sequence" in nc.variables:
            nc["sequence"][i] = -1 if sequence is None else sequence
        nc[self.variable][i, :, :] = np.ma.masked_invalid(values.astype(np.float32, copy=False))
        self.count += 1

    def set_attributes(self, **attrs: Any) -> None:
        """Add global attributes (e.g. the time step once it is known)."""
        self.nc.setncatts({k: v for k, v in attrs.items() if v is not None})


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
        storage = {"zlib": True, "complevel": 4, "shuffle": True, "chunksizes": (1, ny, nx)}
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
