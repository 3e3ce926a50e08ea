"""The observed frames a forecast starts from, whatever file they come in.

``forecast`` accepts a canonical file or raw radar files; both end up as an
:class:`Observations` object that reads frames by index on demand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from nowcast.errors import InputError
from nowcast.io.canonical import open_canonical
from nowcast.io.grid import Grid
from nowcast.io.ingest.pipeline import expand_sources, read_frames
from nowcast.io.readers.registry import ReaderOptions


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
    """

    times: np.ndarray
    grid: Grid
    variable: str
    timestep_s: int
    source: str
    read: Callable[[np.ndarray], np.ndarray]
    sequence: np.ndarray | None = None


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
        )
    return _from_raw(paths, fmt)


def _from_raw(paths: Sequence[Path], fmt: str) -> Observations:
    frames = sorted(read_frames(paths, fmt, ReaderOptions()), key=lambda f: f.time)
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


def select_inputs(
    obs: Observations, in_len: int, timestep_s: int, at: np.datetime64 | None = None
) -> np.ndarray:
    """Indices of the ``in_len`` frames ending at the last frame at or before ``at``.

    The frames must be exactly ``timestep_s`` apart (and in one sequence).

    Raises:
        InputError: too few frames, or frames missing in the needed stretch
            (the message names the missing times).
    """
    times = obs.times
    last = times.size - 1 if at is None else int(np.searchsorted(times, at, side="right")) - 1
    if last < 0:
        raise InputError(f"no frame at or before {at}Z in {obs.source}")
    if last + 1 < in_len:
        raise InputError(
            f"{obs.source} has {last + 1} frame(s) up to {times[last]}Z; "
            f"the model needs {in_len} input frames"
        )
    end = times[last]
    wanted = end - np.arange(in_len - 1, -1, -1) * np.timedelta64(timestep_s, "s")
    found = np.searchsorted(times, wanted)
    found = np.minimum(found, times.size - 1)
    missing = [str(t) + "Z" for t, i in zip(wanted, found, strict=True) if times[i] != t]
    if missing:
        raise InputError(
            f"the model needs {in_len} frames every {timestep_s} s ending {end}Z; "
            f"missing: {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else "")
        )
    if obs.sequence is not None and len(set(obs.sequence[found].tolist())) > 1:
        raise InputError(f"the {in_len} input frames ending {end}Z span two sequences")
    return found
