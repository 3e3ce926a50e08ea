"""Tiny canonical NetCDF files written with netCDF4, for the data-stage tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import netCDF4
import numpy as np
import pytest

T0 = 1_700_000_000  # seconds since 1970, a multiple of 300


def encoded_values(n: int, ny: int, nx: int) -> np.ndarray:
    """Frame t, pixel (y, x) holds ``t * 10000 + y * 100 + x``: every value says where it is."""
    t, y, x = np.meshgrid(np.arange(n), np.arange(ny), np.arange(nx), indexing="ij")
    return (t * 10000 + y * 100 + x).astype(np.float32)


def write_canonical(
    path: Path,
    values: np.ndarray,
    times_s: np.ndarray,
    variable: str = "rainfall_rate",
    sequence: np.ndarray | None = None,
    timestep_s: int = 300,
) -> Path:
    """Write the canonical layout: ``variable(time, y, x)``, int64 time, optional sequence."""
    n, ny, nx = values.shape
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.createDimension("time", n)
        nc.createDimension("y", ny)
        nc.createDimension("x", nx)
        time = nc.createVariable("time", "i8", ("time",))
        time.units = "seconds since 1970-01-01 00:00:00"
        time[:] = times_s
        nc.createVariable("y", "f8", ("y",))[:] = np.arange(ny)
        nc.createVariable("x", "f8", ("x",))[:] = np.arange(nx)
        data = nc.createVariable(variable, "f4", ("time", "y", "x"), fill_value=np.float32(-9999))
        data.units = "mm h-1" if variable == "rainfall_rate" else "1"
        data[:] = np.ma.masked_invalid(values)
        if sequence is not None:
            nc.createVariable("sequence", "i4", ("time",))[:] = sequence
        nc.nowcast_timestep_seconds = np.int32(timestep_s)
    return path


@pytest.fixture
def canonical(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``canonical(n=30, ny=32, nx=32, gaps=(), nan_frames=(), ...) -> path``."""

    def make(
        n: int = 30,
        ny: int = 32,
        nx: int = 32,
        gaps: tuple[int, ...] = (),
        nan_frames: tuple[int, ...] = (),
        sequence: np.ndarray | None = None,
        variable: str = "rainfall_rate",
        name: str = "canonical.nc",
    ) -> Path:
        steps = np.arange(n)
        for gap in gaps:  # one missing frame before index `gap`
            steps[gap:] += 1
        values = encoded_values(n, ny, nx)
        for t in nan_frames:
            values[t, : ny // 2] = np.nan
        return write_canonical(
            tmp_path / name, values, T0 + 300 * steps, variable=variable, sequence=sequence
        )

    return make
