"""Small builders shared by tests (grids, frames)."""

from __future__ import annotations

import numpy as np

from nowcast.io.grid import Frame, Grid
from nowcast.io.projection import cf_grid_mapping

LAEA = "+proj=laea +lat_0=52 +lon_0=5 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"


def laea_grid(ny: int = 16, nx: int = 20, cell: float = 1000.0, x0: float = -8000.0) -> Grid:
    """A small north-up LAEA grid (y decreasing), cell centres in metres."""
    x = x0 + (np.arange(nx) + 0.5) * cell
    y = 9000.0 - (np.arange(ny) + 0.5) * cell
    return Grid(x=x, y=y, crs=cf_grid_mapping(LAEA), proj4=LAEA)


def rain_frames(
    n: int, grid: Grid, *, start: str = "2024-06-01T12:00", step_s: int = 300, seed: int = 0
) -> list[Frame]:
    """``n`` frames of random rain (some NaN, some zero) every ``step_s`` seconds."""
    rng = np.random.default_rng(seed)
    t0 = np.datetime64(start, "s")
    frames = []
    for k in range(n):
        values = rng.gamma(0.5, 2.0, size=grid.shape).astype(np.float32)
        values[values < 0.3] = 0.0
        values[:2, :3] = np.nan
        time = t0 + np.timedelta64(k * step_s, "s")
        frames.append(Frame(time, values, grid, "rainfall_rate", f"frame{k}"))
    return frames


def frame_stats(frame: Frame, name: str) -> dict:
    """Per-file statistics the real-data reader tests compare with the data README."""
    v = frame.values
    return {
        "name": name,
        "time": frame.time,
        "bounds": frame.bounds,
        "shape": v.shape,
        "max": float(np.nanmax(v)),
        "min": float(np.nanmin(v)),
        "wet": float(np.mean(v > 0.1)),
        "nan": float(np.mean(np.isnan(v))),
        "grid": frame.grid,
    }
