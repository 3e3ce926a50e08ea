"""Write a canonical training file of synthetic rain sequences (for the bundled model).

    python bench/recipes/make_synthetic_dataset.py OUT.nc [--sequences 60] [--frames 40]
        [--size 128] [--seed 1000] [--lifetime-scale 1]

Each sequence is an independent run of :func:`nowcast.synthetic.generate.synthetic_rain`
with its own seed, grid spacing (0.5-2 km) and cadence (5, 10 or 15 minutes),
so the network sees the range of pixel displacements per step that real radars
of 0.5-2 km and 5-15 minute cadence produce. The frames are written on one
nominal 1 km / 5 minute grid (the network sees pixels and steps, nothing
else), one sequence a day apart, so training windows never cross sequences.
Nothing here is derived from real radar data.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from nowcast.io.writers import CanonicalWriter
from nowcast.synthetic.generate import synthetic_grid, synthetic_rain

PIXEL_KM = (0.5, 1.0, 1.0, 2.0)
CADENCE_S = (300, 300, 600, 900)


def main() -> None:
    """Parse arguments and write the file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--sequences", type=int, default=60)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument(
        "--lifetime-scale",
        type=float,
        default=1.0,
        help="factor on how long texture and cells live (docs/lab/skill-notebook.md §5)",
    )
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    grid = synthetic_grid((args.size, args.size), 1.0)
    start = np.datetime64("2024-01-01T00:00:00")
    rng = np.random.default_rng(args.seed)
    with CanonicalWriter(
        args.output,
        grid,
        "rainfall_rate",
        overwrite=args.overwrite,
        source="nowcast synthetic rain generator (bench/recipes/make_synthetic_dataset.py)",
        history=f"python bench/recipes/make_synthetic_dataset.py {args.output} --sequences "
        f"{args.sequences} --frames {args.frames} --size {args.size} --seed {args.seed}"
        f" --lifetime-scale {args.lifetime_scale:g}",
        title="Synthetic rain sequences for training",
    ) as writer:
        for k in range(args.sequences):
            pixel_km = float(rng.choice(PIXEL_KM))
            cadence = int(rng.choice(CADENCE_S))
            rain = synthetic_rain(
                args.frames,
                (args.size, args.size),
                seed=args.seed + k,
                timestep_s=cadence,
                pixel_km=pixel_km,
                lifetime_scale=args.lifetime_scale,
            )
            t0 = start + np.timedelta64(k, "D")
            for i, frame in enumerate(rain):
                writer.append(t0 + np.timedelta64(300 * i, "s"), frame)
        writer.set_attributes(nowcast_timestep_seconds=np.int32(300))
    print(f"wrote {args.output}: {args.sequences} sequences x {args.frames} frames")


if __name__ == "__main__":
    main()
