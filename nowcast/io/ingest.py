"""Raw files -> one canonical NetCDF file (the ``nowcast ingest`` pipeline).

Frames are streamed from the readers into :class:`CanonicalWriter` one at a
time, so memory does not grow with the number of files. Every frame is
checked against the first (same grid, same variable, no duplicate time).
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nowcast.errors import CanonicalDataError, InputError
from nowcast.io.grid import Frame, Grid
from nowcast.io.readers import Reader, ReaderOptions, detect_reader, get_reader
from nowcast.io.writer import CanonicalWriter

#: mm h-1 above which a pixel counts as wet in the reports.
WET_THRESHOLD = 0.1


@dataclass
class FrameStats:
    """Running statistics over the frames of a dataset (no frame is kept)."""

    frames: int = 0
    wet_sum: float = 0.0
    nan_sum: float = 0.0
    max_value: float = float("nan")
    clipped: int = 0

    def add(self, values: np.ndarray) -> None:
        """Account for one frame (after clipping)."""
        self.frames += 1
        self.wet_sum += float(np.count_nonzero(values > WET_THRESHOLD)) / values.size
        self.nan_sum += float(np.count_nonzero(np.isnan(values))) / values.size
        if np.isfinite(values).any():
            self.max_value = float(np.fmax(self.max_value, np.nanmax(values)))

    @property
    def wet_fraction(self) -> float:
        """Mean over frames of the fraction of pixels above :data:`WET_THRESHOLD`."""
        return self.wet_sum / self.frames if self.frames else float("nan")

    @property
    def nan_fraction(self) -> float:
        """Mean over frames of the fraction of no-coverage pixels."""
        return self.nan_sum / self.frames if self.frames else float("nan")


@dataclass
class DatasetSummary:
    """What ``ingest`` and ``info`` print about a canonical dataset."""

    path: Path
    variable: str
    units: str
    times: np.ndarray
    timestep_s: int
    grid: Grid
    stats: FrameStats
    sequences: int | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    files: int = 0

    @property
    def gaps(self) -> list[tuple[np.datetime64, np.datetime64]]:
        """(last frame before, first frame after) for every missing stretch of time."""
        if self.sequences or self.times.size < 2:
            return []
        steps = np.diff(self.times).astype(np.int64)
        return [(self.times[i], self.times[i + 1]) for i in np.nonzero(steps > self.timestep_s)[0]]


def expand_sources(sources: Sequence[str]) -> list[Path]:
    """Files, directories (searched recursively) and glob patterns -> sorted file list.

    Raises:
        InputError: when a source matches nothing, or nothing at all is found.
    """
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p)))
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(source):
            matches = sorted(Path(p) for p in glob.glob(source, recursive=True))
            found.extend(p for p in matches if p.is_file())
        else:
            raise InputError(f"{source}: no such file or directory")
    if not found:
        raise InputError(f"no input files found in {', '.join(sources)}")
    return list(dict.fromkeys(found))


def _hidden(path: Path) -> bool:
    return path.name.startswith(".")


def read_frames(
    paths: Sequence[Path],
    fmt: str = "auto",
    options: ReaderOptions | None = None,
    skipped: list[tuple[str, str]] | None = None,
    on_file: Callable[[Path], None] | None = None,
) -> Iterator[Frame]:
    """Yield the frames of every file in ``paths``.

    Args:
        paths: Input files.
        fmt: A reader name or ``auto`` (detect by content, per file).
        options: Reader options (Z-R, Moving MNIST generation).
        skipped: When given, unreadable files are appended as ``(path, reason)``
            and skipped instead of raising.
        on_file: Called after each file (progress).
    """
    fixed: Reader | None = None if fmt == "auto" else get_reader(fmt, options)
    for path in paths:
        try:
            reader = fixed or detect_reader(path, options)
            yield from reader.frames(path)
        except InputError as exc:
            if skipped is None:
                raise
            skipped.append((str(path), str(exc)))
        if on_file:
            on_file(path)


class _FrameChecker:
    """Refuses frames that do not belong with the first one."""

    def __init__(self, first: Frame) -> None:
        self.first = first
        self.seen: dict[tuple[int | None, np.datetime64], str] = {}

    def check(self, frame: Frame) -> None:
        first = self.first
        if frame.variable != first.variable:
            raise CanonicalDataError(
                f"{frame.source} holds {frame.variable} but {first.source} holds {first.variable}"
            )
        quantity, first_quantity = frame.extra.get("quantity"), first.extra.get("quantity")
        if quantity != first_quantity:
            raise CanonicalDataError(
                f"mixed quantities: {frame.source} is {quantity}, "
                f"{first.source} is {first_quantity}"
            )
        if not frame.grid.same_as(first.grid):
            raise CanonicalDataError(
                f"{frame.source} is on a different grid ({frame.grid.describe()}) "
                f"than {first.source} ({first.grid.describe()})"
            )
        key = (frame.sequence, frame.time)
        if key in self.seen:
            raise CanonicalDataError(
                f"duplicate time {frame.time}Z in {frame.source} and {self.seen[key]}"
            )
        self.seen[key] = frame.source


def ingest(
    sources: Sequence[str],
    output: Path,
    *,
    fmt: str = "auto",
    options: ReaderOptions | None = None,
    overwrite: bool = False,
    skip_bad: bool = False,
    history: str = "",
    on_file: Callable[[Path], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> DatasetSummary:
    """Read ``sources`` and write the canonical file ``output`` atomically.

    Raises:
        InputError: unreadable input (unless ``skip_bad``), no input, no frames.
        CanonicalDataError: mixed grids/variables/quantities, duplicate times.
        OutputExistsError: ``output`` exists and ``overwrite`` is False.
    """
    paths = expand_sources(sources)
    if on_start:
        on_start(len(paths))
    skipped: list[tuple[str, str]] | None = [] if skip_bad else None
    frames = read_frames(paths, fmt, options, skipped, on_file)
    first = next(frames, None)
    if first is None:
        reasons = "; ".join(reason for _, reason in (skipped or [])[:3])
        raise InputError(
            f"no readable frames in {len(paths)} file(s)" + (f": {reasons}" if reasons else "")
        )
    checker = _FrameChecker(first)
    stats = FrameStats()
    writer = _open_writer(output, first, overwrite, paths, history)
    try:
        times, sequences = _write_all(writer, first, frames, checker, stats)
        step = _nominal_step(times, sequences, first)
        writer.set_attributes(
            nowcast_timestep_seconds=np.int32(step),
            nowcast_clipped_negative_values=np.int64(stats.clipped),
        )
        if not _is_sorted(times, sequences):
            writer = _reordered(writer, output, first, paths, history, times, sequences)
    except BaseException:
        writer.abort()
        raise
    writer.finish()
    return DatasetSummary(
        path=output,
        variable=first.variable,
        units=_units(first.variable),
        times=np.sort(np.asarray(times)),
        timestep_s=step,
        grid=first.grid,
        stats=stats,
        sequences=len(set(sequences)) if first.sequence is not None else None,
        skipped=skipped or [],
        files=len(paths),
    )


def _units(variable: str) -> str:
    from nowcast.io.cf import VARIABLE_UNITS

    return VARIABLE_UNITS[variable]


def _open_writer(
    output: Path, first: Frame, overwrite: bool, paths: Sequence[Path], history: str
) -> CanonicalWriter:
    listing = (
        paths[0].name
        if len(paths) == 1
        else f"{len(paths)} files, {paths[0].name} .. {paths[-1].name}"
    )
    return CanonicalWriter(
        output,
        first.grid,
        first.variable,
        overwrite=overwrite,
        with_bounds=first.bounds is not None,
        with_sequence=first.sequence is not None,
        source=f"read from {listing}",
        history=history,
        title="Moving MNIST sequences"
        if first.sequence is not None
        else "Radar precipitation observations",
    )


def _write_all(
    writer: CanonicalWriter,
    first: Frame,
    rest: Iterator[Frame],
    checker: _FrameChecker,
    stats: FrameStats,
) -> tuple[list[np.datetime64], list[int]]:
    times: list[np.datetime64] = []
    sequences: list[int] = []
    for frame in _chain(first, rest):
        checker.check(frame)
        values = frame.values.astype(np.float32, copy=True)
        negative = values < 0
        stats.clipped += int(np.count_nonzero(negative))
        values[negative] = 0.0
        stats.add(values)
        writer.append(frame.time, values, frame.bounds, frame.sequence)
        times.append(frame.time)
        sequences.append(-1 if frame.sequence is None else frame.sequence)
    return times, sequences


def _chain(first: Frame, rest: Iterator[Frame]) -> Iterator[Frame]:
    yield first
    yield from rest


def _order(times: Sequence[np.datetime64], sequences: Sequence[int]) -> np.ndarray:
    keys = np.asarray(times).astype(np.int64)
    return np.lexsort((keys, np.asarray(sequences)))


def _is_sorted(times: Sequence[np.datetime64], sequences: Sequence[int]) -> bool:
    order = _order(times, sequences)
    strictly = np.all(np.diff(np.asarray(times).astype(np.int64)) > 0)
    return bool(np.array_equal(order, np.arange(len(order))) and strictly)


def _nominal_step(times: Sequence[np.datetime64], sequences: Sequence[int], first: Frame) -> int:
    """The most common positive interval between consecutive frames, in seconds."""
    order = _order(times, sequences)
    ordered = np.asarray(times).astype(np.int64)[order]
    steps = np.diff(ordered)
    steps = steps[steps > 0]
    if steps.size:
        values, counts = np.unique(steps, return_counts=True)
        return int(values[np.argmax(counts)])
    if first.bounds is not None and first.bounds[1] == first.time:
        return int((first.bounds[1] - first.bounds[0]).astype(np.int64))
    raise InputError(
        "a single frame without an accumulation window ending at its time: "
        "cannot tell the time step; ingest at least two frames"
    )


def _reordered(
    staged: CanonicalWriter,
    output: Path,
    first: Frame,
    paths: Sequence[Path],
    history: str,
    times: Sequence[np.datetime64],
    sequences: Sequence[int],
) -> CanonicalWriter:
    """Copy the staged frames into a new writer in time order; return the new writer.

    Time must increase strictly within the file; Moving MNIST sequences are
    written one after another, each in time order.
    """
    ordered = _order(times, sequences)
    target = _open_writer(output, first, False, paths, history)
    src = staged.nc
    has_bounds = "time_bnds" in src.variables
    try:
        for i in ordered:
            bounds = tuple(src["time_bnds"][i].astype("datetime64[s]")) if has_bounds else None
            values = np.ma.filled(src[staged.variable][i].astype(np.float32), np.nan)
            seq = int(sequences[i]) if first.sequence is not None else None
            target.append(np.datetime64(int(src["time"][i]), "s"), values, bounds, seq)
        provenance = {k: src.getncattr(k) for k in src.ncattrs() if k.startswith("nowcast_")}
        target.set_attributes(**provenance)
    except BaseException:
        target.abort()
        raise
    staged.abort()
    return target
