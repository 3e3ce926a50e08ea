"""A plain pySTEPS extrapolation nowcast, written as a pySTEPS user would write it.

Reads the last 5 frames of a canonical NetCDF file (``rainfall_rate(time, y,
x)``, mm h-1, NaN = no coverage) with xarray, converts them to dBR
(threshold 0.1 mm h-1, zero value -15 dBR), fits Lucas-Kanade optical flow
on the last 3 frames, extrapolates the last frame semi-Lagrangian ``--steps``
times (NaN kept as no coverage), converts back to mm h-1 (below 0.1 mm h-1
-> 0) and writes the forecast on the same grid to a zlib-compressed NetCDF.

This is the reference side of ``forecast_vs_pysteps.py``: a whole process,
imports and I/O included, as a user runs it.

Run: ``python bench/speed/pysteps_extrapolation.py IN.nc OUT.nc [--steps 12]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr
from pysteps import extrapolation, motion
from pysteps.utils import transformation

VARIABLE = "rainfall_rate"
IN_FRAMES = 5
MOTION_FRAMES = 3


def nowcast(rain: np.ndarray, steps: int) -> np.ndarray:
    """Extrapolate the last of ``rain`` (T, ny, nx; mm h-1) ``steps`` times; (steps, ny, nx)."""
    dbr, metadata = transformation.dB_transform(rain, threshold=0.1, zerovalue=-15.0)
    velocity = motion.get_method("LK")(dbr[-MOTION_FRAMES:], verbose=False)
    extrapolate = extrapolation.get_method("semilagrangian")
    # NaN (no coverage) stays NaN; pixels advected in from outside the grid are NaN too.
    forecast = extrapolate(dbr[-1], velocity, steps, allow_nonfinite_values=True)
    rate, _ = transformation.dB_transform(forecast, metadata, inverse=True)
    return rate


def main(argv: list[str] | None = None) -> None:
    """Read, nowcast and write (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", type=Path, help="canonical NetCDF file (rainfall_rate)")
    parser.add_argument("output", type=Path, help="forecast NetCDF file to write")
    parser.add_argument("--steps", type=int, default=12, help="lead times (default 12)")
    args = parser.parse_args(argv)

    with xr.open_dataset(args.input) as ds:
        obs = ds[VARIABLE].isel(time=slice(-IN_FRAMES, None)).load()
    rain = obs.values.astype(np.float64)
    rate = nowcast(rain, args.steps)

    times = obs["time"].values
    step = times[-1] - times[-2]
    lead_times = times[-1] + step * np.arange(1, args.steps + 1)
    out = xr.Dataset(
        {
            VARIABLE: (
                ("time", "y", "x"),
                rate.astype(np.float32),
                {"units": "mm h-1", "long_name": "extrapolated rainfall rate (pySTEPS)"},
            )
        },
        coords={"time": lead_times, "y": obs["y"], "x": obs["x"]},
    )
    encoding = {VARIABLE: {"zlib": True, "complevel": 4, "chunksizes": (1, *rate.shape[1:])}}
    out.to_netcdf(args.output, encoding=encoding)


if __name__ == "__main__":
    main()
