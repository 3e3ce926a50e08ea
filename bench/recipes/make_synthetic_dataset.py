"""Write a canonical training file of synthetic rain sequences (for the bundled model).

    python bench/recipes/make_synthetic_dataset.py OUT.nc [--sequences 60] [--frames 40]
        [--size 128] [--seed 1000] [--lifetime-scale 1]

The file is made by :func:`nowcast.synthetic.training_set.write_training_set`
(independent sequences of varied grid spacing and cadence, one a day apart).
Nothing here is derived from real radar data.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nowcast.synthetic.training_set import TrainingSet, write_training_set


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
    write_training_set(
        args.output,
        TrainingSet(args.sequences, args.frames, args.size, args.seed, args.lifetime_scale),
        overwrite=args.overwrite,
        history=f"python bench/recipes/make_synthetic_dataset.py {args.output} --sequences "
        f"{args.sequences} --frames {args.frames} --size {args.size} --seed {args.seed}"
        f" --lifetime-scale {args.lifetime_scale:g}",
    )
    print(f"wrote {args.output}: {args.sequences} sequences x {args.frames} frames")


if __name__ == "__main__":
    main()
