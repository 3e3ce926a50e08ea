"""The forecast file: its writer, filled one lead time at a time, and its one reader.

:class:`ForecastWriter` writes docs/forecast.md section 5 (valid times, reference
time, lead times, optionally packed int16 data, optionally ensemble members and
probabilities): netCDF4 defines it, :class:`~nowcast.io.writers.fields.FieldStore`
stores the fields' chunks; it shares the grid and attribute layout with the
canonical writer (:mod:`nowcast.io.writers.layout`), and how chunks are made.
:func:`read_forecast` reads such a file back (or a CF forecast of another tool),
for ``nowcast evaluate`` and the forecast plot, so the layout is known in this
module alone, with its ensemble part in :mod:`nowcast.io.writers.ensemble`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

from nowcast.errors import InputError
from nowcast.io import cf
from nowcast.io.grid import Grid
from nowcast.io.projection import latlon
from nowcast.io.readers.cf import coords as cf_coords
from nowcast.io.readers.cf.field import attr
from nowcast.io.writers import ensemble
from nowcast.io.writers.chunks import COMPLEVEL, compress_threads, latlon_chunks, store_chunks
from nowcast.io.writers.fields import FieldStore
from nowcast.io.writers.file import AtomicNetcdf
from nowcast.io.writers.layout import define_grid, define_time, epoch_seconds, global_attrs


class ForecastWriter(AtomicNetcdf):
    """Writes a forecast file exactly as docs/forecast.md section 5 lays it out.

    The file is defined up front (fixed ``time`` of ``len(valid_times)``) by
    netCDF-C and filled one lead time at a time with :meth:`write_step`, so a
    forecast on a continental grid never needs all lead times in memory at
    once; each 2-D field is one chunk, made as netCDF-C would (zlib, or ISA-L
    with the ``fast`` extra) and stored through h5py, an ensemble's in a few
    threads (:class:`~nowcast.io.writers.fields.FieldStore`).

    With ``members`` > 0 it is an ensemble file ("Ensemble forecasts"): ``variable``
    gets a ``realization`` dimension, the deterministic field goes to
    ``<variable>_deterministic``, and for each of ``thresholds`` (in the variable's
    units) ``probability_of_<variable>_above_threshold`` is computed from the members.
    Without members the file is exactly the deterministic one.

    Args:
        members: Number of equally likely members; 0 for a deterministic forecast.
        thresholds: Probability thresholds (need ``members``; stored sorted).
        ensemble_method: How the members were made (``nowcast_ensemble_method``).
        deterministic_long_name: How the deterministic field was made (its ``long_name``).
        deterministic_is_mean: Whether that field is the member mean
            (adds ``cell_methods = "realization: mean"``).

    Raises:
        ValueError: thresholds without members, or other invalid ensemble options
            (:func:`~nowcast.io.writers.ensemble.ensemble_spec`), before any file is made.
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
        members: int = 0,
        thresholds: Sequence[float] = (),
        ensemble_method: str = "",
        deterministic_long_name: str = "",
        deterministic_is_mean: bool = False,
    ) -> None:
        self.ensemble = ensemble.ensemble_spec(
            members, thresholds, ensemble_method, deterministic_long_name, deterministic_is_mean
        )
        super().__init__(path, overwrite)
        self.variable = variable
        with self.removed_on_error():  # e.g. Ctrl-C while lat/lon are computed
            nc = self.nc
            if self.ensemble is not None:
                ensemble.define_coordinates(nc, self.ensemble, variable)
            nc.createDimension("time", len(valid_times))
            has_latlon = define_grid(nc, grid, fill_latlon=False)  # stored below, compressed here
            define_time(nc, "time", ("time",), "forecast valid time")[:] = [
                epoch_seconds(t) for t in valid_times
            ]
            ref = define_time(
                nc, "forecast_reference_time", (), "time of the last observation used"
            )
            ref.standard_name = "forecast_reference_time"
            ref[...] = epoch_seconds(reference_time)
            period = nc.createVariable("forecast_period", "i4", ("time",))
            period.setncatts(
                {"standard_name": "forecast_period", "long_name": "lead time", "units": "seconds"}
            )
            period[:] = [epoch_seconds(t) - epoch_seconds(reference_time) for t in valid_times]
            self._define_data(grid, variable, pack, has_latlon)
            nc.setncatts(
                global_attrs(
                    source,
                    history,
                    {
                        "title": "Precipitation nowcast",
                        "comment": comment,
                        **(provenance or {}),
                        **ensemble.global_attrs(self.ensemble),
                    },
                )
            )
            threads = 1 if self.ensemble is None else compress_threads()
            h5 = self.open_hdf5()
            self._fields = FieldStore(h5, threads)
            if has_latlon:
                store_chunks(h5, latlon_chunks(h5, latlon(grid)))

    def _define_data(self, grid: Grid, variable: str, pack: bool, has_latlon: bool) -> None:
        attrs = dict(cf.VARIABLE_ATTRS[variable])
        attrs["long_name"] = "Nowcast of " + str(attrs["long_name"]).lower()
        coords = ["forecast_period", "forecast_reference_time"] + (["lat", "lon"] * has_latlon)
        placing = {"coordinates": " ".join(coords)}
        if grid.is_projected:
            placing["grid_mapping"] = "crs"
        if self.ensemble is None:
            self._define_rain(variable, ("time",), grid.shape, pack, {**attrs, **placing})
            return
        self._define_rain(
            variable, (cf.REALIZATION, "time"), grid.shape, pack, {**attrs, **placing}
        )
        self._define_rain(
            variable + cf.DETERMINISTIC_SUFFIX,
            ("time",),
            grid.shape,
            pack,
            {**ensemble.deterministic_attrs(attrs, self.ensemble), **placing},
        )
        if self.ensemble.thresholds.size:
            ensemble.define_probability(self.nc, variable, grid.shape, placing)

    def _define_rain(
        self,
        name: str,
        leading: tuple[str, ...],
        shape: tuple[int, int],
        pack: bool,
        attrs: dict[str, Any],
    ) -> None:
        """A rain variable ``(*leading, y, x)``, one chunk per 2-D field."""
        # Packed: int16 codes of cf.PACKED_SCALE mm h-1; else float32 rates.
        dtype, fill = ("i2", cf.PACKED_FILL_VALUE) if pack else ("f4", cf.FILL_VALUE)
        data = self.nc.createVariable(
            name,
            dtype,
            (*leading, "y", "x"),
            fill_value=fill,
            zlib=True,
            complevel=COMPLEVEL,
            shuffle=True,
            chunksizes=(*(1 for _ in leading), *shape),
        )
        if pack:
            data.scale_factor = cf.PACKED_SCALE
            data.add_offset = np.float32(0.0)
        else:
            data.valid_min = np.float32(0.0)
        data.setncatts(attrs)

    def write_step(self, index: int, values: np.ndarray, members: np.ndarray | None = None) -> None:
        """Write lead time ``index`` (NaN = no coverage; packed values clipped to int16 range).

        Args:
            index: The lead time, ``0 .. len(valid_times)-1``.
            values: ``(ny, nx)`` deterministic field, in the variable's units.
            members: ``(members, ny, nx)`` member fields of an ensemble file (required
                there, refused otherwise); the probabilities are computed from these
                values as given, before any packing.

        Raises:
            ValueError: members missing, unexpected or of the wrong shape.
        """
        spec = self.ensemble
        if spec is None:
            if members is not None:
                raise ValueError("members given to a writer made without members")
            self._fields.store([(self.variable, (index,), values)])
            return
        wanted = (spec.members, *values.shape)
        if members is None or members.shape != wanted:
            got = None if members is None else members.shape
            raise ValueError(f"members of shape {wanted} expected, got {got}")
        self._fields.store(ensemble.fields(self.variable, spec, index, values, members))

    def close(self) -> None:
        """Stop the compressing threads, then close the file."""
        try:
            if hasattr(self, "_fields"):
                self._fields.close()
        finally:
            super().close()


@dataclass(frozen=True)
class ForecastFile:
    """What :func:`read_forecast` finds in a forecast file.

    Attributes:
        variable: Name of the forecast variable (``rainfall_rate``, ``intensity`` ...).
        units: Its ``units`` attribute, ``""`` when it has none.
        fields: ``float32 (time, y, x)`` forecast fields; NaN = no coverage. Rows and
            columns are as stored (a south-up file stays south-up): ``grid`` says which way.
        valid_times: ``datetime64[s]`` valid time of each field.
        reference_time: The ``forecast_reference_time`` (the last observation used), or
            None when the file has none (forecasts of other tools).
        grid: The fields' grid: x/y cell centres in metres and the projection when the
            variable has a ``grid_mapping``; else the stored x/y values (pixel indices,
            ``0 .. n-1`` when the file has no coordinate variables) and no projection.
        members: ``float32 (members, time, y, x)`` member fields of an ensemble file
            (rows and columns as ``fields``); None for a deterministic forecast.
        thresholds: The file's probability thresholds (float64, in ``units``, as
            stored); empty when it has none.
        notes: What the reader had to make up (a member mean as deterministic field).
    """

    variable: str
    units: str
    fields: np.ndarray
    valid_times: np.ndarray
    reference_time: np.datetime64 | None
    grid: Grid
    members: np.ndarray | None = None
    thresholds: np.ndarray = field(default_factory=lambda: np.empty(0))
    notes: tuple[str, ...] = ()

    @property
    def member_count(self) -> int:
        """Number of ensemble members; 0 for a deterministic forecast."""
        return 0 if self.members is None else int(self.members.shape[0])

    def reference(self, timestep_s: int) -> np.datetime64:
        """The reference time, else one ``timestep_s`` (seconds) before the first valid time."""
        if self.reference_time is not None:
            return self.reference_time
        return self.valid_times[0] - np.timedelta64(timestep_s, "s")


def read_forecast(path: Path) -> ForecastFile:
    """Read a CF forecast file, written by :class:`ForecastWriter` or by another tool.

    The forecast is the first ``(time, y, x)`` variable with a rain-rate standard name, or
    named like one (or ``intensity``); packed values are unpacked. A 4-D such variable
    comes first: an ensemble, whose extra dimension (any name, any position) must have
    a coordinate with ``standard_name = "realization"``. Its deterministic field is
    ``<variable>_deterministic``, else (files of other tools) the member mean, noted.

    Raises:
        InputError: when the file is not NetCDF, holds no such variable, its 4th
            dimension is not a realization, or its times or x/y coordinates cannot be
            read (no units, NaN, no projection).
    """
    try:
        nc = netCDF4.Dataset(path)
    except OSError as exc:
        raise InputError(f"{path}: not a NetCDF file ({exc})") from None
    with nc:
        name = _forecast_variable(nc, path)
        var = nc[name]
        members = ensemble.realization_dim(nc, var, path) if var.ndim == 4 else None
        try:
            grid, order = _grid(nc, var, members)
            reference = (
                _times(nc["forecast_reference_time"])[0]
                if "forecast_reference_time" in nc.variables
                else None
            )
            valid_times = _times(nc[var.dimensions[order[-3]]])
        except (ValueError, IndexError) as exc:
            raise InputError(f"{path}: {exc}") from None
        found = ForecastFile(
            variable=name,
            units=str(getattr(var, "units", "")),
            fields=_values(var).transpose(order),
            valid_times=valid_times,
            reference_time=reference,
            grid=grid,
        )
        if members is None:
            return found
        dims = tuple(var.dimensions[i] for i in order[1:])
        return _with_members(nc, found, dims, path)


def _with_members(
    nc: netCDF4.Dataset, found: ForecastFile, dims: tuple[str, ...], path: Path
) -> ForecastFile:
    """An ensemble read as members: ``found.fields`` are the ``(members, time, y, x)`` fields.

    ``dims`` are the member variable's time, y and x dimensions, in that order.
    """
    members, notes = found.fields, []
    name = found.variable + cf.DETERMINISTIC_SUFFIX
    var = nc.variables.get(name)
    if var is not None and sorted(var.dimensions) == sorted(dims):
        fields = _values(var).transpose([var.dimensions.index(dim) for dim in dims])
    else:
        fields = ensemble.member_mean(members)
        notes.append(
            f"{path.name}: no {name}(time, y, x); the mean of the "
            f"{members.shape[0]} members is its deterministic forecast"
        )
    return replace(
        found,
        fields=fields,
        members=members,
        thresholds=ensemble.read_thresholds(nc, found.variable, dims),
        notes=tuple(notes),
    )


def _values(var: Any) -> np.ndarray:
    """A variable's values as float32, unpacked, NaN where missing."""
    return np.ma.filled(var[:].astype(np.float32), np.nan)


def _forecast_variable(nc: netCDF4.Dataset, path: Path) -> str:
    """The rain variable: the first 4-D one (an ensemble), else the first ``(time, y, x)``."""
    found = [
        name
        for name, var in nc.variables.items()
        if var.ndim in (3, 4)
        and (
            getattr(var, "standard_name", None) in cf.RATE_STANDARD_NAMES
            or name in (*cf.FALLBACK_RATE_NAMES, cf.INTENSITY)
        )
    ]
    if not found:
        raise InputError(
            f"{path}: no rainfall_rate (time, y, x) variable (found: {', '.join(nc.variables)})"
        )
    return max(found, key=lambda name: nc[name].ndim)


def _times(var: Any) -> np.ndarray:
    """A CF time variable's values as 1-D ``datetime64[s]`` (UTC, no time zone)."""
    return cf_coords.decode_time(var, var[:]).reshape(-1)


def _grid(nc: netCDF4.Dataset, var: Any, members: str | None) -> tuple[Grid, tuple[int, ...]]:
    """The grid of a ``([members,] time, y, x)`` variable, and the axis order giving that layout.

    With a ``grid_mapping`` the x, y and time dimensions are found as the CF reader
    finds them (any order, km or m); without one, the last two dimensions other than
    ``members`` (the realization dimension, wherever it is) are y and x.
    """
    dims = list(var.dimensions)
    skip = (members,) if members else ()
    lead = tuple(dims.index(dim) for dim in skip)
    rest = [dim for dim in dims if dim not in skip]
    if attr(var, "grid_mapping"):
        layout = cf_coords.layout(nc, var, skip)
        time = next(d for d in rest if d not in (layout.x, layout.y))
        order = (*lead, dims.index(time), dims.index(layout.y), dims.index(layout.x))
        return cf_coords.grid(nc, var, layout), order
    y, x = (_pixel_axis(nc, dim) for dim in rest[1:])
    return Grid(x=x, y=y), (*lead, *(dims.index(dim) for dim in rest))


def _pixel_axis(nc: netCDF4.Dataset, dim: str) -> np.ndarray:
    """A coordinate without a projection: its stored values, else the indices ``0 .. n-1``."""
    coord = nc.variables.get(dim)
    if coord is None or coord.dimensions != (dim,):
        return np.arange(len(nc.dimensions[dim]), dtype=np.float64)
    return np.asarray(np.ma.filled(coord[:], np.nan), dtype=np.float64)
