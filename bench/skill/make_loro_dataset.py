"""Stack canonical files of several radars into one training file (leave-one-radar-out).

    python bench/skill/make_loro_dataset.py OUT.nc knmi.nc bom-cscn.nc [--block-km 3]

Training reads one canonical file, and radars have different grids, so each
set is cut to the bounding box of its coverage, padded with NaN (no coverage,
masked in the loss) to a common size, and written on a pixel grid. Each set
keeps its own frame order and gaps, relabelled at a nominal 5-minute step and
a day apart from the previous set, so no training window mixes two radars.
The network only sees pixels and steps; the radars keep their own cadence and
resolution (5 or 6 minutes, 0.5 or 1 km), which is the variety we want.

``--block-km`` trains for a working grid (``nowcast forecast --scale-km``):
each set is first averaged over blocks of about that size, as the forecast
will average its inputs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from nowcast.forecasting.scale import block_factor, block_mean
from nowcast.io.canonical import CanonicalFile, open_canonical
from nowcast.io.grid import Grid
from nowcast.io.writers import CanonicalWriter

NOMINAL_STEP_S = 300


def coverage_box(data: CanonicalFile) -> tuple[slice, slice]:
    """Rows and columns holding data in any of the first frames (the radar's footprint)."""
    covered = np.isfinite(data.read(0, min(len(data), 4))).any(axis=0)
    rows, cols = np.nonzero(covered.any(axis=1))[0], np.nonzero(covered.any(axis=0))[0]
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def main() -> None:
    """Write the stacked file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("inputs", type=Path, nargs="+")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--block-km", type=float, default=0.0, help="working grid (0 = native)")
    args = parser.parse_args()
    sets = [open_canonical(p) for p in args.inputs]
    boxes = [coverage_box(d) for d in sets]
    factors = [block_factor(d.grid, args.block_km) for d in sets]
    ny = max(-(-(b[0].stop - b[0].start) // f) for b, f in zip(boxes, factors, strict=True))
    nx = max(-(-(b[1].stop - b[1].start) // f) for b, f in zip(boxes, factors, strict=True))
    grid = Grid(x=np.arange(nx, dtype=float), y=np.arange(ny, dtype=float))
    names = ", ".join(p.name for p in args.inputs)
    with CanonicalWriter(
        args.output,
        grid,
        "rainfall_rate",
        overwrite=args.overwrite,
        source=f"stacked radar sets: {names} (bench/skill/make_loro_dataset.py)",
        history="python bench/skill/make_loro_dataset.py "
        + " ".join(map(str, args.inputs))
        + (f" --block-km {args.block_km:g}" if args.block_km > 0 else ""),
        title="Radar sets stacked for leave-one-radar-out training",
    ) as writer:
        start = np.datetime64("2000-01-01T00:00:00")
        for data, (rows, cols), factor in zip(sets, boxes, factors, strict=True):
            steps = (data.times - data.times[0]).astype(np.int64) // data.timestep_s
            for i, step in enumerate(steps):
                frame = np.full((ny, nx), np.nan, dtype=np.float32)
                part = block_mean(data.read(i, i + 1)[:, rows, cols], factor)[0]
                frame[: part.shape[0], : part.shape[1]] = part
                writer.append(start + np.timedelta64(int(step) * NOMINAL_STEP_S, "s"), frame)
            start += np.timedelta64(int(steps[-1]) * NOMINAL_STEP_S, "s") + np.timedelta64(1, "D")
        writer.set_attributes(nowcast_timestep_seconds=np.int32(NOMINAL_STEP_S))
    print(f"wrote {args.output}: {sum(len(d) for d in sets)} frames of {ny} x {nx}")


if __name__ == "__main__":
    main()
