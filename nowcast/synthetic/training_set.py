"""A canonical training file of independent synthetic rain sequences.

Each sequence is a run of :func:`~nowcast.synthetic.generate.synthetic_rain`
with its own seed, grid spacing (0.5-2 km) and cadence (5, 10 or 15 minutes),
so a network sees the range of pixel displacements per step that real radars
of 0.5-2 km and 5-15 minute cadence produce. The frames are written on one
nominal 1 km / 5 minute grid (a network sees pixels and steps, nothing else),
one sequence a day apart, so training windows never cross sequences. This is
how the bundled model's data was made, and what ``nowcast train`` writes
when it is given no data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nowcast.io.writers import CanonicalWriter
from nowcast.synthetic.generate import synthetic_grid, synthetic_rain

#: Pixel sizes (km) and cadences (s) a sequence draws from; repeats weigh the draw.
PIXEL_KM = (0.5, 1.0, 1.0, 2.0)
CADENCE_S = (300, 300, 600, 900)
#: Valid time of the first frame of the first sequence.
START = np.datetime64("2024-01-01T00:00:00")


@dataclass(frozen=True)
class TrainingSet:
    """The sequences of a training file.

    Attributes:
        sequences: Independent sequences; sequence ``k`` uses seed ``seed + k``.
        frames: Frames per sequence.
        size: Side of the square grid, pixels.
        seed: Seed of the first sequence and of the spacing and cadence draws.
        lifetime_scale: Factor on how long texture and cells live
            (:func:`~nowcast.synthetic.generate.synthetic_rain`).
    """

    sequences: int
    frames: int
    size: int
    seed: int
    lifetime_scale: float = 1.0


def write_training_set(
    path: Path, spec: TrainingSet, *, overwrite: bool = False, history: str = ""
) -> Path:
    """Write the sequences of ``spec`` into one canonical file.

    Args:
        path: Output file (written atomically).
        spec: What to generate.
        overwrite: Replace an existing file.
        history: The file's ``history`` attribute.

    Returns:
        ``path``.

    Raises:
        OutputExistsError: when ``path`` exists and ``overwrite`` is False.
    """
    rng = np.random.default_rng(spec.seed)
    size = spec.size
    with CanonicalWriter(
        path,
        synthetic_grid((size, size), 1.0),
        "rainfall_rate",
        overwrite=overwrite,
        source="nowcast synthetic rain generator (nowcast.synthetic.training_set)",
        history=history,
        title="Synthetic rain sequences for training",
    ) as writer:
        for k in range(spec.sequences):
            pixel_km = float(rng.choice(PIXEL_KM))
            cadence = int(rng.choice(CADENCE_S))
            rain = synthetic_rain(
                spec.frames,
                (size, size),
                seed=spec.seed + k,
                timestep_s=cadence,
                pixel_km=pixel_km,
                lifetime_scale=spec.lifetime_scale,
            )
            first = START + np.timedelta64(k, "D")
            for i, frame in enumerate(rain):
                writer.append(first + np.timedelta64(300 * i, "s"), frame)
        writer.set_attributes(nowcast_timestep_seconds=np.int32(300))
    return path
