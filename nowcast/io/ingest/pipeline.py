"""Raw files -> one canonical NetCDF file (the ``nowcast ingest`` pipeline).

Frames are streamed from the readers into :class:`CanonicalWriter` one at a
time, so memory does not grow with the number of files. Every frame is
checked against the first (same grid, same variable, no duplicate time).
Reading runs in the calling thread while worker threads compress the frames
already read and another computes lat/lon (:class:`ParallelWriter`).

This module runs the pipeline; its stages live in
:mod:`nowcast.io.ingest.sources` (input files and their readers),
:mod:`nowcast.io.ingest.checks` (what the frames must agree on, time order
and step) and :mod:`nowcast.io.ingest.parallel` (the compressing and lat/lon
threads). ``expand_sources`` and ``read_frames`` are re-exported for callers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import wait
from pathlib import Path

import numpy as np

from nowcast.errors import InputError
from nowcast.io.grid import Frame
from nowcast.io.ingest.checks import FrameChecker, frame_order, is_sorted, nominal_step
from nowcast.io.ingest.parallel import ParallelWriter, latlon_in_background
from nowcast.io.ingest.sources import expand_sources, read_frames
from nowcast.io.ingest.summary import DatasetSummary, FrameStats
from nowcast.io.plausible import IMPLAUSIBLE_ATTR, MAX_RATE_ATTR
from nowcast.io.readers.registry import ReaderOptions
from nowcast.io.writers import CanonicalWriter
from nowcast.io.writers.atomic import check_output
from nowcast.io.writers.targets import raise_write_error

__all__ = ["expand_sources", "ingest", "read_frames"]


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

    Values beyond ``options.max_rate`` become no data and are counted
    (:mod:`nowcast.io.plausible`); the file records both.

    Raises:
        InputError: unreadable input or a wholly implausible frame (unless
            ``skip_bad``), no input, no frames.
        CanonicalDataError: mixed grids/variables/quantities, duplicate times.
        OutputExistsError: ``output`` exists and ``overwrite`` is False.
        OutputError: ``output`` is one of the inputs, is not a regular file,
            or cannot be written (folder, permissions, disk full).
    """
    options = options or ReaderOptions()
    paths = expand_sources(sources)
    check_output(output, overwrite, paths)  # before reading: a bad output fails at once
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
    checker = FrameChecker(first)
    stats = FrameStats()
    parallel = ParallelWriter(_open_writer(output, first, overwrite, paths, history))
    latlon = latlon_in_background(parallel.writer, first.grid)
    try:
        times, sequences = _write_all(parallel, first, frames, checker, stats)
        writer = parallel.close(stats)
        if latlon is not None:
            writer.store_latlon_chunks(latlon.result())
    except BaseException as exc:
        if latlon is not None:
            wait([latlon])  # it reads the file about to be deleted
        parallel.abort()
        raise_write_error(output, exc)
        raise
    try:
        step = nominal_step(times, sequences, first)
        if not is_sorted(times, sequences):
            writer = _reordered(writer, output, first, paths, history, times, sequences)
        writer.set_attributes(
            nowcast_timestep_seconds=np.int32(step),
            nowcast_clipped_negative_values=np.int64(stats.clipped),
            **{
                IMPLAUSIBLE_ATTR: np.int64(stats.implausible),
                MAX_RATE_ATTR: np.float64(options.max_rate),
            },
        )
        writer.finish()
    except BaseException as exc:
        writer.fail(exc)
        raise
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
        max_rate=options.max_rate,
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
        latlon_later=True,
    )


def _write_all(
    writer: ParallelWriter,
    first: Frame,
    rest: Iterator[Frame],
    checker: FrameChecker,
    stats: FrameStats,
) -> tuple[list[np.datetime64], list[int]]:
    """Check and queue every frame; count its implausible values in ``stats``."""
    times: list[np.datetime64] = []
    sequences: list[int] = []
    for frame in _chain(first, rest):
        checker.check(frame)
        stats.implausible += frame.implausible
        writer.append(frame.time, frame.values, frame.bounds, frame.sequence)
        times.append(frame.time)
        sequences.append(-1 if frame.sequence is None else frame.sequence)
    return times, sequences


def _chain(first: Frame, rest: Iterator[Frame]) -> Iterator[Frame]:
    yield first
    yield from rest


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
    written one after another, each in time order. The compressed chunks are
    copied as they are, not decompressed and compressed again.
    """
    target = _open_writer(output, first, False, paths, history)
    try:
        if target.needs_latlon:
            from nowcast.io.projection import latlon

            target.store_latlon(latlon(first.grid))  # cached since the first writer
        staged.copy_into(target, frame_order(times, sequences))
    except BaseException:
        target.abort()
        raise
    staged.abort()
    return target
