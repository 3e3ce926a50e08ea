"""The observed frames that forecasts start from and are scored against, and the start times.

Observations come from a canonical file (read lazily) or from raw radar files (read through
the ingest readers); :class:`Observations` reads frames by index on demand. Forecasting (its
inputs, the blend calibration) and verification (the scored start times) both choose start
times here, so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from nowcast.data.windows import valid_window_starts
from nowcast.errors import InputError
from nowcast.io.canonical import open_canonical
from nowcast.io.grid import Grid
from nowcast.io.ingest.pipeline import expand_sources, read_frames
from nowcast.io.plausible import DEFAULT_MAX_RATE


@dataclass
class Observations:
    """Observed frames on one grid, in time order.

    Attributes:
        times: ``datetime64[s]`` frame times, strictly increasing.
        grid: The frames' grid.
        variable: Canonical variable name.
        timestep_s: Nominal cadence, seconds.
        source: Description for messages and ``history``.
        read: ``read(indices) -> float32 (n, ny, nx)`` with NaN = no coverage.
        sequence: Sequence index per frame (Moving MNIST) or ``None``.
        max_rate: Largest plausible rate, mm h-1 (the canonical file's, else the
            default): ``read`` never returns more, and forecasts are clipped to it.
    """

    times: np.ndarray
    grid: Grid
    variable: str
    timestep_s: int
    source: str
    read: Callable[[np.ndarray], np.ndarray]
    sequence: np.ndarray | None = None
    max_rate: float = DEFAULT_MAX_RATE


def _is_canonical(path: Path) -> bool:
    try:
        with netCDF4.Dataset(path) as nc:
            return "nowcast_timestep_seconds" in nc.ncattrs()
    except OSError:
        return False


def load_observations(sources: Sequence[str], fmt: str = "auto") -> Observations:
    """A canonical file (read lazily) or raw files (read through the ingest readers, in memory).

    Raises:
        InputError: unreadable input, mixed grids or duplicate times.
    """
    paths = expand_sources(sources)
    if len(paths) == 1 and fmt in ("auto", "cf") and _is_canonical(paths[0]):
        data = open_canonical(paths[0])

        def read(indices: np.ndarray) -> np.ndarray:
            indices = np.asarray(indices)
            if indices.size and np.all(np.diff(indices) == 1):  # one read for a run of frames
                return data.read(int(indices[0]), int(indices[-1]) + 1)
            return np.stack([data.read(int(i), int(i) + 1)[0] for i in indices])

        return Observations(
            data.times,
            data.grid,
            data.variable,
            data.timestep_s,
            str(paths[0]),
            read,
            data.sequence,
            data.max_rate,
        )
    return _from_raw(paths, fmt)


def _from_raw(paths: Sequence[Path], fmt: str) -> Observations:
    frames = sorted(read_frames(paths, fmt), key=lambda f: f.time)  # default reader options
    first = frames[0]
    for frame in frames[1:]:
        if not frame.grid.same_as(first.grid):
            raise InputError(f"{frame.source} is on a different grid than {first.source}")
    times = np.array([f.time for f in frames], dtype="datetime64[s]")
    if np.any(np.diff(times).astype(np.int64) <= 0):
        raise InputError("duplicate frame times in the input files")
    stack = np.stack(
        [np.maximum(f.values, 0, where=np.isfinite(f.values), out=f.values) for f in frames]
    )
    step = int(np.median(np.diff(times).astype(np.int64))) if times.size > 1 else 0
    if step == 0 and first.bounds is not None:
        step = int((first.bounds[1] - first.bounds[0]).astype(np.int64))
    source = (
        paths[0].name
        if len(paths) == 1
        else f"{len(paths)} files ({paths[0].name} .. {paths[-1].name})"
    )
    return Observations(
        times, first.grid, first.variable, step, source, lambda idx: stack[np.asarray(idx)]
    )


def valid_starts(obs: Observations, in_len: int, steps: int) -> np.ndarray:
    """Start times: indices of the last input frame of every clean forecast window.

    A window has ``in_len`` inputs and ``steps`` observed leads, all at the nominal cadence
    and within one sequence.
    """
    first = valid_window_starts(obs.times, in_len + steps, obs.timestep_s, sequence=obs.sequence)
    return np.asarray(first, dtype=np.int64) + in_len - 1


def restrict_period(
    obs: Observations,
    starts: np.ndarray,
    steps: int,
    begin: np.datetime64 | None,
    end: np.datetime64 | None,
) -> np.ndarray:
    """Keep the starts whose whole forecast lies in the period ``begin`` .. ``end``.

    The forecast time (last input frame) must be at or after ``begin`` and the last
    verifying frame at or before ``end``.
    """
    keep = np.ones(starts.size, dtype=bool)
    if begin is not None:
        keep &= obs.times[starts] >= begin
    if end is not None:
        keep &= obs.times[np.minimum(starts + steps, obs.times.size - 1)] <= end
    return starts[keep]


def thin_starts(starts: np.ndarray, max_starts: int) -> np.ndarray:
    """At most ``max_starts`` starts, evenly spread over the period (0 = all)."""
    if max_starts <= 0 or starts.size <= max_starts:
        return starts
    pick = np.unique(np.linspace(0, starts.size - 1, max_starts).round().astype(int))
    return starts[pick]
