"""Threads that compress the ingested frames and compute lat/lon beside reading.

Kept apart from the pipeline (:mod:`nowcast.io.ingest.pipeline`) because the threads,
their queue and the ordering that keeps the file's bytes independent of
thread timing are a concern of their own: the pipeline only hands frames to
:class:`ParallelWriter` and collects the lat/lon future.
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from nowcast.io.grid import Grid
from nowcast.io.ingest.summary import FrameCounts, FrameStats, frame_counts
from nowcast.io.writers import CanonicalWriter
from nowcast.io.writers.chunks import compress_frame, compress_threads


def latlon_in_background(
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


class ParallelWriter:
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
        count = workers or compress_threads()
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
        except BaseException as exc:
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
