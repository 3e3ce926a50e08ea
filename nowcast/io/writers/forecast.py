"""The forecast file: its writer, filled one lead time at a time, and its one reader.

:class:`ForecastWriter` writes docs/forecast.md section 4 (valid times, reference
time, lead times, optionally packed int16 data) entirely through netCDF4; it
shares the grid and attribute layout with the canonical writer
(:mod:`nowcast.io.writers.layout`) and nothing else. :func:`read_forecast` reads
such a file back (or a CF forecast of another tool), for ``nowcast evaluate`` and
the forecast plot, so the layout is known in this module alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

from nowcast.errors import InputError
from nowcast.io import cf
from nowcast.io.grid import Grid
from nowcast.io.readers.cf import coords as cf_coords
from nowcast.io.readers.cf.field import attr
from nowcast.io.writers.chunks import COMPLEVEL
from nowcast.io.writers.file import AtomicNetcdf
from nowcast.io.writers.layout import define_grid, define_time, epoch_seconds, global_attrs


class ForecastWriter(AtomicNetcdf):
    """Writes a forecast file exactly as docs/forecast.md section 4 lays it out.

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
        with self.removed_on_error():  # e.g. Ctrl-C while lat/lon are computed
            nc = self.nc
            nc.createDimension("time", len(valid_times))
            has_latlon = define_grid(nc, grid)
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
                    },
                )
            )

    def _define_data(self, grid: Grid, variable: str, pack: bool, has_latlon: bool) -> None:
        ny, nx = grid.shape
        # Packed: int16 codes of cf.PACKED_SCALE mm h-1; else float32 rates.
        dtype, fill = ("i2", cf.PACKED_FILL_VALUE) if pack else ("f4", cf.FILL_VALUE)
        data = self.nc.createVariable(
            variable,
            dtype,
            ("time", "y", "x"),
            fill_value=fill,
            zlib=True,
            complevel=COMPLEVEL,
            shuffle=True,
            chunksizes=(1, ny, nx),
        )
        if pack:
            data.scale_factor = cf.PACKED_SCALE
            data.add_offset = np.float32(0.0)
        else:
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
    """

    variable: str
    units: str
    fields: np.ndarray
    valid_times: np.ndarray
    reference_time: np.datetime64 | None
    grid: Grid

    def reference(self, timestep_s: int) -> np.datetime64:
        """The reference time, else one ``timestep_s`` (seconds) before the first valid time."""
        if self.reference_time is not None:
            return self.reference_time
        return self.valid_times[0] - np.timedelta64(timestep_s, "s")


def read_forecast(path: Path) -> ForecastFile:
    """Read a CF forecast file, written by :class:`ForecastWriter` or by another tool.

    The forecast is the first ``(time, y, x)`` variable with a rain-rate standard name, or
    named like one (or ``intensity``); packed values are unpacked.

    Raises:
        InputError: when the file is not NetCDF, holds no such variable, or its times
            or x/y coordinates cannot be read (no units, NaN, no projection).
    """
    try:
        nc = netCDF4.Dataset(path)
    except OSError as exc:
        raise InputError(f"{path}: not a NetCDF file ({exc})") from None
    with nc:
        name = _forecast_variable(nc, path)
        var = nc[name]
        try:
            grid, order = _grid(nc, var)
            reference = (
                _times(nc["forecast_reference_time"])[0]
                if "forecast_reference_time" in nc.variables
                else None
            )
            valid_times = _times(nc[var.dimensions[order[0]]])
        except (ValueError, IndexError) as exc:
            raise InputError(f"{path}: {exc}") from None
        return ForecastFile(
            variable=name,
            units=str(getattr(var, "units", "")),
            fields=np.ma.filled(var[:].astype(np.float32), np.nan).transpose(order),
            valid_times=valid_times,
            reference_time=reference,
            grid=grid,
        )


def _forecast_variable(nc: netCDF4.Dataset, path: Path) -> str:
    for name, var in nc.variables.items():
        if getattr(var, "standard_name", None) in cf.RATE_STANDARD_NAMES or name in (
            *cf.FALLBACK_RATE_NAMES,
            cf.INTENSITY,
        ):
            if len(var.dimensions) == 3:
                return name
    raise InputError(
        f"{path}: no rainfall_rate (time, y, x) variable (found: {', '.join(nc.variables)})"
    )


def _times(var: Any) -> np.ndarray:
    """A CF time variable's values as 1-D ``datetime64[s]`` (UTC, no time zone)."""
    return cf_coords.decode_time(var, var[:]).reshape(-1)


def _grid(nc: netCDF4.Dataset, var: Any) -> tuple[Grid, tuple[int, int, int]]:
    """The grid of a ``(time, y, x)`` variable, and the axis order that gives that layout.

    With a ``grid_mapping`` the x, y and time dimensions are found as the CF reader
    finds them (any order, km or m); without one, the last two dimensions are y and x.
    """
    dims = list(var.dimensions)
    if attr(var, "grid_mapping"):
        layout = cf_coords.layout(nc, var)
        time = next(d for d in dims if d not in (layout.x, layout.y))
        order = (dims.index(time), dims.index(layout.y), dims.index(layout.x))
        return cf_coords.grid(nc, var, layout), order
    y, x = (_pixel_axis(nc, dim) for dim in dims[1:])
    return Grid(x=x, y=y), (0, 1, 2)


def _pixel_axis(nc: netCDF4.Dataset, dim: str) -> np.ndarray:
    """A coordinate without a projection: its stored values, else the indices ``0 .. n-1``."""
    coord = nc.variables.get(dim)
    if coord is None or coord.dimensions != (dim,):
        return np.arange(len(nc.dimensions[dim]), dtype=np.float64)
    return np.asarray(np.ma.filled(coord[:], np.nan), dtype=np.float64)
