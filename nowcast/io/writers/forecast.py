"""The forecast file's writer: defined up front, filled one lead time at a time.

:class:`ForecastWriter` writes cf-netcdf.md section 2 (valid times, reference
time, lead times, optionally packed int16 data) entirely through netCDF4; it
shares the grid and attribute layout with the canonical writer
(:mod:`nowcast.io.writers.layout`) and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nowcast.io import cf
from nowcast.io.grid import Grid
from nowcast.io.writers.chunks import COMPLEVEL
from nowcast.io.writers.file import AtomicNetcdf
from nowcast.io.writers.layout import define_grid, define_time, epoch_seconds, global_attrs


class ForecastWriter(AtomicNetcdf):
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
        define_time(nc, "time", ("time",), "forecast valid time")[:] = [
            epoch_seconds(t) for t in valid_times
        ]
        ref = define_time(nc, "forecast_reference_time", (), "time of the last observation used")
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
