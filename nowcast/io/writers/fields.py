"""The forecast file's fields stored as ready-made chunks, compressed in a few threads.

netCDF-C compresses in the calling thread, one chunk after the other (zlib
level 4: about 50 ms for a 765 x 700 field, 5 s for a 20-member ensemble),
and is not thread-safe. So the forecast writer
(:class:`~nowcast.io.writers.forecast.ForecastWriter`) lets netCDF-C define
the file only, and :class:`FieldStore` stores every 2-D field as the one chunk
it has, made by :func:`~nowcast.io.writers.chunks.compress_frame` exactly as the
canonical writer's frames are, through h5py's direct chunk write.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import h5py
import numpy as np

from nowcast.io.writers.chunks import compress_frame

#: A field to store: variable name, index along its leading dimensions, ``(ny, nx)`` values.
Field = tuple[str, tuple[int, ...], np.ndarray]
#: A field ready to compress: dataset, chunk offset, values, whether packed (int16).
_Job = tuple[Any, tuple[int, ...], np.ndarray, bool]


class FieldStore:
    """Stores 2-D fields, one chunk each, in the variables of a file netCDF-C defined.

    Every variable is ``(*leading, y, x)`` with chunks ``(1, ..., 1, ny, nx)``
    and netCDF-C's shuffle + deflate filters; an int16 variable holds packed
    rates (:func:`~nowcast.io.writers.chunks.pack_frame`), any other float32.
    With ``threads`` > 1 the fields of one :meth:`store` are compressed by
    that many threads (zlib, ISA-L and numpy release the GIL) while the
    calling thread, the only one that touches the file, writes their chunks
    in the order given: the file's bytes do not depend on thread timing.

    Args:
        h5: The file, open read-write.
        threads: Threads that compress; 1: the calling thread compresses.
    """

    def __init__(self, h5: h5py.File, threads: int) -> None:
        self._h5 = h5
        self._variables: dict[str, tuple[Any, bool]] = {}
        self._pool = (
            ThreadPoolExecutor(threads, thread_name_prefix="nowcast-compress")
            if threads > 1
            else None
        )

    def store(self, fields: Iterable[Field]) -> None:
        """Compress ``fields`` (NaN = no coverage) and store each as its chunk.

        With threads, each field goes to them as soon as ``fields`` yields it,
        and all are taken before the first chunk is written: a generator can
        compute the last fields (probabilities) while the first are compressed.
        Memory then holds the chunks of one call; without threads, one chunk.
        """
        jobs = (self._job(*field) for field in fields)
        chunks = map(_compress, jobs) if self._pool is None else self._pool.map(_compress, jobs)
        for data, offset, (filter_mask, payload) in chunks:
            data.id.write_direct_chunk(offset, payload, filter_mask)

    def _job(self, name: str, index: tuple[int, ...], values: np.ndarray) -> _Job:
        """What :func:`_compress` needs of a field, the dataset looked up once per variable.

        Raises:
            ValueError: ``values`` are not ``(ny, nx)``: h5py would store any bytes.
        """
        if name not in self._variables:
            data = self._h5[name]
            self._variables[name] = (data, data.dtype == np.int16)
        data, packed = self._variables[name]
        if values.shape != data.chunks[-2:]:
            raise ValueError(
                f"{name}: a field of shape {data.chunks[-2:]} expected, got {values.shape}"
            )
        return data, (*index, 0, 0), values, packed

    def close(self) -> None:
        """Stop the threads: fields not started are dropped, those being compressed finish."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def _compress(job: _Job) -> tuple[Any, tuple[int, ...], tuple[int, bytes]]:
    """A field's dataset and chunk offset, and its chunk (any thread)."""
    data, offset, values, packed = job
    return data, offset, compress_frame(values, packed)
