"""Raw files -> one canonical NetCDF file (the ``nowcast ingest`` pipeline).

Frames are streamed from the readers into :class:`CanonicalWriter` one at a
time, so memory does not grow with the number of files. Every frame is
checked against the first (same grid, same variable, no duplicate time).
Reading runs in the calling thread while worker threads compress the frames
already read and another computes lat/lon (:class:`_ParallelWriter`).
"""

from __future__ import annotations

import glob
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np

from nowcast.errors import CanonicalDataError, InputError
from nowcast.io.chunks import compress_frame
from nowcast.io.grid import Frame, Grid
from nowcast.io.readers import Reader, ReaderOptions, detect_reader, get_reader
from nowcast.io.summary import DatasetSummary, FrameCounts, FrameStats, frame_counts
from nowcast.io.writer import CanonicalWriter


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

    With ``auto``, the reader detected for one file is tried first on the
    next (a series is nearly always one format), which saves opening every
    file once per candidate format. A file it cannot read goes through the
    full detection, exactly as if nothing had been reused, so mixed formats
    are read (or refused) as before and a bad file gets detection's error.

    Args:
        paths: Input files.
        fmt: A reader name or ``auto`` (detect by content, per file).
        options: Reader options (Z-R, Moving MNIST generation).
        skipped: When given, unreadable files are appended as ``(path, reason)``
            and skipped instead of raising.
        on_file: Called after each file (progress).
    """
    fixed: Reader | None = None if fmt == "auto" else get_reader(fmt, options)
    last: list[Reader] = []
    for path in paths:
        try:
            if fixed is not None:
                yield from fixed.frames(path)
            else:
                yield from _detected_frames(path, options, last)
        except InputError as exc:
            if skipped is None:
                raise
            skipped.append((str(path), str(exc)))
        if on_file:
            on_file(path)


def _detected_frames(
    path: Path, options: ReaderOptions | None, last: list[Reader]
) -> Iterator[Frame]:
    """The frames of ``path``: by ``last[0]`` when it reads the file, else by detection.

    ``last`` holds the reader of the previous file (empty at first) and is
    updated to the reader that read this one. The reused reader counts as
    having read the file once it yields its first frame (or finishes
    without error); before that, any InputError sends the file through
    :func:`detect_reader`.
    """
    if last:
        frames = last[0].frames(path)
        try:
            first = next(frames, None)
        except InputError:
            pass
        else:
            if first is not None:
                yield first
                yield from frames
            return
    reader = detect_reader(path, options)
    last[:] = [reader]
    yield from reader.frames(path)


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
    parallel = _ParallelWriter(_open_writer(output, first, overwrite, paths, history))
    latlon = _latlon_in_background(parallel.writer, first.grid)
    try:
        times, sequences = _write_all(parallel, first, frames, checker)
        writer = parallel.close(stats)
        if latlon is not None:
            writer.store_latlon_chunks(latlon.result())
    except BaseException:
        if latlon is not None:
            wait([latlon])  # it reads the file about to be deleted
        parallel.abort()
        raise
    try:
        step = _nominal_step(times, sequences, first)
        if not _is_sorted(times, sequences):
            writer = _reordered(writer, output, first, paths, history, times, sequences)
        writer.set_attributes(
            nowcast_timestep_seconds=np.int32(step),
            nowcast_clipped_negative_values=np.int64(stats.clipped),
        )
        writer.finish()
    except BaseException:
        writer.abort()
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


def _latlon_in_background(
    writer: CanonicalWriter, grid: Grid
) -> Future[list[tuple[str, tuple[int, ...], tuple[int, bytes]]]] | None:
    """Compute and compress the grid's lat/lon in a thread; None when the file has none.

    pyproj releases the GIL while it transforms (0.05-0.25 s on radar grids)
    and zlib while it compresses, so this runs beside reading and writing
    the frames instead of before or after them. The caller stores the
    result (:meth:`CanonicalWriter.store_latlon_chunks`) after the frames, so
    the file's layout does not depend on thread timing.
    """
    if not writer.needs_latlon:
        return None
    from nowcast.io.projection import latlon

    def compute_and_compress() -> list[tuple[str, tuple[int, ...], tuple[int, bytes]]]:
        _lower_priority()
        return writer.compress_latlon(latlon(grid))

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nowcast-latlon")
    future = pool.submit(compute_and_compress)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return future


class _ParallelWriter:
    """Feeds a :class:`CanonicalWriter` whose frames are compressed by worker threads.

    The main thread reads and checks frames and takes each one's time index
    (:meth:`CanonicalWriter.reserve`); ``workers`` threads clip, count and
    compress them (:func:`compress_frame`: zlib and numpy release the GIL)
    and store the chunks in frame order (whoever finishes the next frame
    stores it and any that wait behind it), so the file's bytes do not depend
    on thread timing. Compressing is most of the
    cost of writing, so ingest takes about the time of reading, or of
    compressing spread over the cores, instead of their sum. Frames wait in
    a queue of at most ``2 * workers``, so memory stays bounded whatever the
    number of files.

    An error in a worker is raised in the main thread by the next
    :meth:`append` or by :meth:`close`; after an error anywhere the caller
    calls :meth:`abort`, which stops the workers and deletes the temporary file.
    """

    def __init__(self, writer: CanonicalWriter, workers: int = 0) -> None:
        self.writer = writer
        count = workers or max(1, min(4, os.cpu_count() or 1))
        self._queue: queue.Queue[tuple[int, np.ndarray] | None] = queue.Queue(maxsize=2 * count)
        self._error: BaseException | None = None
        self._counts: dict[int, FrameCounts] = {}
        self._finished: dict[int, tuple[int, bytes]] = {}  # compressed, waiting for their turn
        self._next = 0
        self._order_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"nowcast-compress-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        _lower_priority()
        try:
            while (item := self._queue.get()) is not None:
                index, values = item
                self._counts[index], chunk = _clip_count_compress(values)
                self._store_in_order(index, chunk)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self._error = self._error or exc
            while self._queue.get() is not None:  # never leave the main thread blocked
                pass

    def _store_in_order(self, index: int, chunk: tuple[int, bytes]) -> None:
        with self._order_lock:
            self._finished[index] = chunk
            while self._next in self._finished:
                self.writer.store_chunk(self._next, self._finished.pop(self._next))
                self._next += 1

    def append(
        self,
        time: np.datetime64,
        values: np.ndarray,
        bounds: tuple[np.datetime64, np.datetime64] | None,
        sequence: int | None,
    ) -> None:
        """Queue one frame (NaN = no coverage); ``values`` must not be changed afterwards.

        A worker copies it, clips negative rates to 0 (counted), counts it for
        the report (:meth:`close`) and compresses it.
        """
        if self._error is not None:
            raise self._error
        self._queue.put((self.writer.reserve(time, bounds, sequence), values))

    def close(self, stats: FrameStats) -> CanonicalWriter:
        """Wait until every queued frame is stored; add them to ``stats`` in frame order.

        Returns:
            The (still open) writer.
        """
        self._stop()
        if self._error is not None:
            raise self._error
        for index in range(self.writer.count):
            stats.add_counts(self._counts.pop(index))
        return self.writer

    def abort(self) -> None:
        """Stop the workers and delete the temporary file."""
        self._stop()
        self.writer.abort()

    def _stop(self) -> None:
        for thread in self._threads:
            if thread.is_alive():
                self._queue.put(None)
        for thread in self._threads:
            thread.join()


def _clip_count_compress(values: np.ndarray) -> tuple[FrameCounts, tuple[int, bytes]]:
    """Clip a copy of ``values`` at 0, count it (:func:`frame_counts`) and compress it."""
    values = np.array(values, dtype=np.float32)
    negative = values < 0
    clipped = int(np.count_nonzero(negative))
    if clipped:
        values[negative] = 0.0
    return frame_counts(values, clipped), compress_frame(values)


def _lower_priority() -> None:
    """Lower the calling thread's scheduling priority (Linux; elsewhere nothing).

    Workers then take the cores the reading thread leaves: on a machine with
    fewer cores than threads, reading, the one part that cannot run in
    parallel, is not slowed down by compression that can wait in the queue.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


def _write_all(
    writer: _ParallelWriter,
    first: Frame,
    rest: Iterator[Frame],
    checker: _FrameChecker,
) -> tuple[list[np.datetime64], list[int]]:
    times: list[np.datetime64] = []
    sequences: list[int] = []
    for frame in _chain(first, rest):
        checker.check(frame)
        writer.append(frame.time, frame.values, frame.bounds, frame.sequence)
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
    written one after another, each in time order. The compressed chunks are
    copied as they are, not decompressed and compressed again.
    """
    target = _open_writer(output, first, False, paths, history)
    try:
        if target.needs_latlon:
            from nowcast.io.projection import latlon

            target.store_latlon(latlon(first.grid))  # cached since the first writer
        staged.copy_into(target, _order(times, sequences))
    except BaseException:
        target.abort()
        raise
    staged.abort()
    return target
