"""Small builders shared by tests: grids, frames, canonical files, run settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nowcast.config import RunConfig, merge
from nowcast.io.grid import Frame, Grid
from nowcast.io.projection import cf_grid_mapping
from nowcast.io.readers.registry import Reader
from nowcast.io.writers import CanonicalWriter
from nowcast.presets import apply_preset

LAEA = "+proj=laea +lat_0=52 +lon_0=5 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
T0 = np.datetime64("2024-06-01T12:00:00", "s")
"""Time of the first frame :func:`write_canonical` writes by default."""
STEP_S = 300
"""Default cadence of test files and checkpoints, seconds."""


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


def read_every_file(reader: Reader, files: Sequence[Path]) -> dict[str, Any]:
    """One frame from each real file: ``files``, their :func:`frame_stats` and the ``first`` frame.

    The real-data tests read a whole data set once per module and check the
    statistics the data README gives for it.
    """
    stats = []
    first = None
    for path in files:
        (frame,) = reader.frames(path)
        first = first or frame
        stats.append(frame_stats(frame, path.name))
    return {"files": list(files), "stats": stats, "first": first}


def write_canonical(
    path: Path,
    fields: np.ndarray,
    grid: Grid | None = None,
    *,
    times: Sequence[np.datetime64] | None = None,
    variable: str = "rainfall_rate",
    timestep_s: int = STEP_S,
    sequence: Sequence[int] | None = None,
    max_rate: float | None = None,
) -> Path:
    """Write ``fields`` ``(n, ny, nx)`` as a canonical file with the production writer.

    Args:
        path: The file to write (its folder must exist).
        fields: Frames in the units of ``variable``; NaN = no coverage.
        grid: Their grid; by default :func:`laea_grid` of the frames' size.
        times: One time per frame; by default one every ``timestep_s`` from :data:`T0`.
        variable: Canonical variable (``rainfall_rate`` or ``intensity``).
        timestep_s: The file's nominal cadence, seconds.
        sequence: Moving MNIST sequence index of each frame, if any.
        max_rate: The file's ``nowcast_max_rate`` (mm h-1); None writes none (500 when read).
    """
    if grid is None:
        grid = laea_grid(*fields.shape[1:])
    if times is None:
        times = [T0 + np.timedelta64(k * timestep_s, "s") for k in range(len(fields))]
    with CanonicalWriter(
        path, grid, variable, with_sequence=sequence is not None, history="test"
    ) as writer:
        for k, (time, values) in enumerate(zip(times, fields, strict=True)):
            writer.append(time, values, sequence=None if sequence is None else sequence[k])
        writer.set_attributes(nowcast_timestep_seconds=np.int32(timestep_s))
        if max_rate is not None:
            writer.set_attributes(nowcast_max_rate=np.float64(max_rate))
    return path


def tiny_config(
    variable: str = "rainfall_rate",
    model: str = "encoder_forecaster",
    train: Mapping[str, object] | None = None,
) -> RunConfig:
    """The ``tiny`` preset for ``variable`` (with its transform) and ``model``.

    As it is (``train`` None) it describes the untrained checkpoints of the
    forecast and evaluation tests: 4 in, 4 out, 8-channel layers, 4x4 patches.
    Given ``train`` (train-section settings, ``{}`` for none), it is a CPU
    training run of seconds instead: 4-channel layers, 4 steps of 4 samples
    per epoch, 4 validation samples, 30 % of the windows for validation and
    none for testing, in float32.
    """
    transform = "log_rain" if variable == "rainfall_rate" else "identity"
    config = merge(
        apply_preset(RunConfig(), "tiny"),
        {"model": {"name": model}, "data": {"variable": variable, "transform": transform}},
    )
    if train is None:
        return config
    return merge(
        config,
        {
            "model": {"hidden_channels": [4, 4]},
            "data": {"val_fraction": 0.3, "test_fraction": 0.0},
            "train": {
                "device": "cpu",
                "precision": "fp32",  # exact float32 on every CPU (auto is bf16 with AMX)
                "samples_per_epoch": 16,
                "val_samples": 4,
                **train,
            },
        },
    )
