"""A plain pySTEPS STEPS ensemble nowcast, written as a pySTEPS user would write it.

Reads the last 3 frames of a canonical NetCDF file (``rainfall_rate(time, y,
x)``, mm h-1, NaN = no coverage) with xarray, converts them to dBR
(threshold 0.1 mm h-1, zero value -15 dBR), fits Lucas-Kanade optical flow
on them, runs ``pysteps.nowcasts.steps.forecast`` with its defaults (as
pySTEPS' ``plot_steps_nowcast.py`` example and nowcast's ``steps`` baseline
do: ``precip_thr`` -10 dBR, ``kmperpixel`` and ``timestep`` from the file's
grid spacing and cadence, one worker, a fixed seed), converts the members
back to mm h-1 (below 0.1 mm h-1 -> 0; rain pySTEPS advects in from outside
the grid -> 0; no coverage in the last frame -> NaN) and writes, zlib-
compressed on the same grid:

- ``rainfall_rate(realization, time, y, x)``: the members;
- ``rainfall_rate_deterministic(time, y, x)``: their mean;
- ``probability_of_rainfall_rate_above_threshold(threshold, time, y, x)``: the
  fraction of members at or above 0.1, 1 and 5 mm h-1.

These are the variables ``nowcast forecast FILE --members M --probabilities
0.1,1,5`` writes, so that both sides of ``forecast_vs_pysteps.py --members M``
make the same product. It is that script's reference side: a whole process,
imports and I/O included, as a user runs it.

Run: ``python bench/speed/pysteps_steps.py IN.nc OUT.nc [--steps 12] [--members 20]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr
from pysteps import motion, nowcasts
from pysteps.utils import transformation

VARIABLE = "rainfall_rate"
#: STEPS' default AR(2) model needs ``ar_order + 1`` frames.
IN_FRAMES = 3
#: The seed of pySTEPS' example: the same members on every run.
SEED = 24
#: Exceedance thresholds, mm h-1: those of the nowcast command it is compared with.
THRESHOLDS = (0.1, 1.0, 5.0)
COMPLEVEL = 4


def grid_km(x: xr.DataArray) -> float:
    """Grid spacing in km for STEPS' ``kmperpixel``.

    Canonical files give projected grids in metres; a pixel grid (``units``
    "1") has no physical spacing and is taken as 1 km per pixel, as nowcast's
    ``steps`` baseline does.
    """
    spacing = abs(float(x[1] - x[0]))
    return spacing / 1000.0 if x.attrs.get("units") == "m" else 1.0


def nowcast(
    rain: np.ndarray, steps: int, members: int, timestep_min: float, pixel_km: float
) -> np.ndarray:
    """STEPS members from ``rain`` (3, ny, nx; mm h-1): float32 (members, steps, ny, nx)."""
    dbr, metadata = transformation.dB_transform(rain, threshold=0.1, zerovalue=-15.0)
    # NaN (no coverage) is masked by Lucas-Kanade, but STEPS needs finite input.
    velocity = motion.get_method("LK")(dbr, verbose=False)
    dbr[~np.isfinite(dbr)] = metadata["zerovalue"]
    forecast = nowcasts.get_method("steps")(
        dbr,
        velocity,
        steps,
        n_ens_members=members,
        precip_thr=metadata["threshold"],
        kmperpixel=pixel_km,
        timestep=timestep_min,
        num_workers=1,
        seed=SEED,
    )
    # One member at a time, so that converting back adds one member's
    # temporaries to pySTEPS' own float64 output, not the whole ensemble's.
    rate = np.empty(forecast.shape, dtype=np.float32)
    for m, member in enumerate(forecast):
        rate[m], _ = transformation.dB_transform(member, metadata, inverse=True)
    rate[np.isnan(rate)] = 0.0
    rate[..., ~np.isfinite(rain[-1])] = np.nan
    return rate


def main(argv: list[str] | None = None) -> None:
    """Read, nowcast and write (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", type=Path, help="canonical NetCDF file (rainfall_rate)")
    parser.add_argument("output", type=Path, help="forecast NetCDF file to write")
    parser.add_argument("--steps", type=int, default=12, help="lead times (default 12)")
    parser.add_argument("--members", type=int, default=20, help="ensemble members (default 20)")
    args = parser.parse_args(argv)

    with xr.open_dataset(args.input) as ds:
        obs = ds[VARIABLE].isel(time=slice(-IN_FRAMES, None)).load()
    times = obs["time"].values
    step = times[-1] - times[-2]
    rate = nowcast(
        obs.values.astype(np.float64),
        args.steps,
        args.members,
        timestep_min=step / np.timedelta64(1, "m"),
        pixel_km=grid_km(obs["x"]),
    )

    coverage = np.isfinite(rate[0, 0])
    probability = np.stack([(rate >= t).mean(axis=0, dtype=np.float32) for t in THRESHOLDS])
    probability[..., ~coverage] = np.nan
    lead_times = times[-1] + step * np.arange(1, args.steps + 1)
    space = ("time", "y", "x")
    out = xr.Dataset(
        {
            VARIABLE: (
                ("realization", *space),
                rate,
                {"units": "mm h-1", "long_name": "STEPS ensemble rainfall rate (pySTEPS)"},
            ),
            f"{VARIABLE}_deterministic": (
                space,
                rate.mean(axis=0),
                {"units": "mm h-1", "long_name": "STEPS ensemble mean rainfall rate (pySTEPS)"},
            ),
            f"probability_of_{VARIABLE}_above_threshold": (
                ("threshold", *space),
                probability,
                {"units": "1", "long_name": "fraction of members at or above the threshold"},
            ),
        },
        coords={
            "realization": np.arange(args.members, dtype=np.int32),
            "threshold": ("threshold", np.array(THRESHOLDS, np.float32), {"units": "mm h-1"}),
            "time": lead_times,
            "y": obs["y"],
            "x": obs["x"],
        },
    )
    # One chunk per frame (member, threshold and lead time), as nowcast writes them.
    encoding = {
        name: {"zlib": True, "complevel": COMPLEVEL, "chunksizes": (1,) * (var.ndim - 2) + frame}
        for name, var in out.data_vars.items()
        for frame in [rate.shape[-2:]]
    }
    out.to_netcdf(args.output, encoding=encoding)


if __name__ == "__main__":
    main()
