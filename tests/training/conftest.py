"""Data shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np

T0 = 1_700_000_000


def write_blob_canonical(
    path: Path, n: int = 30, size: int = 32, variable: str = "rainfall_rate"
) -> Path:
    """A blob drifting right and down: ``n`` frames of ``size`` x ``size``, 300 s apart."""
    yy, xx = np.mgrid[0:size, 0:size]
    frames = [
        5 * np.exp(-((yy - 8 - 0.5 * t) ** 2 + (xx - 4 - 0.7 * t) ** 2) / 20) for t in range(n)
    ]
    with netCDF4.Dataset(path, "w") as nc:
        for dim, length in (("time", n), ("y", size), ("x", size)):
            nc.createDimension(dim, length)
        nc.createVariable("time", "i8", ("time",))[:] = T0 + 300 * np.arange(n)
        nc.createVariable("y", "f8", ("y",))[:] = np.arange(size)
        nc.createVariable("x", "f8", ("x",))[:] = np.arange(size)
        data = nc.createVariable(variable, "f4", ("time", "y", "x"), fill_value=np.float32(-9999))
        data.units = "mm h-1" if variable == "rainfall_rate" else "1"
        data[:] = np.stack(frames).astype(np.float32)
        nc.nowcast_timestep_seconds = np.int32(300)
    return path
