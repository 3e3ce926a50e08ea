"""HDF5 chunks made outside netCDF-C: shuffle + deflate, in any thread.

netCDF-C is not thread-safe, so both writers let netCDF-C define the file and
store the fields' chunks themselves through h5py
(:class:`~nowcast.io.writers.CanonicalWriter`,
:class:`~nowcast.io.writers.fields.FieldStore`); the chunks come from here,
ready-made as HDF5's shuffle and deflate filters would have made them, so
several threads can compress frames at once (``nowcast.io.ingest.parallel``).
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Iterator
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from nowcast.io import cf

#: zlib level of every compressed variable (docs/data-formats.md, "Layout rules").
COMPLEVEL: Final = 4
#: ISA-L's level for the chunks this module deflates itself (see :func:`deflate`).
ISAL_LEVEL = 1
#: The largest rate a packed (int16) field holds; larger ones are stored as this.
PACKED_MAX: Final = float(cf.PACKED_SCALE) * np.iinfo(np.int16).max

_isal_zlib: Any
try:
    from isal import isal_zlib as _isal_zlib
except ImportError:  # the optional "fast" extra is not installed: plain zlib
    _isal_zlib = None
_use_isal = _isal_zlib is not None


@contextlib.contextmanager
def exact_zlib() -> Iterator[None]:
    """Deflate with zlib at :data:`COMPLEVEL` inside the block, even where isal is installed.

    Files written then hold the very bytes netCDF-C writes, the same on every
    machine: ``sample_data/make_samples.py`` regenerates its files bit for bit
    this way. Set it around a whole write, not while compression threads run.
    """
    global _use_isal
    previous, _use_isal = _use_isal, False
    try:
        yield
    finally:
        _use_isal = previous


def compress_threads() -> int:
    """How many threads compress chunks at once: one per CPU, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def compress_frame(values: np.ndarray, packed: bool = False) -> tuple[int, bytes]:
    """One frame as HDF5 stores it in a shuffle + deflate chunk: ``(filter_mask, bytes)``.

    NaN becomes the ``_FillValue`` (what netCDF4 writes for masked values);
    the float32 bytes (``packed``: the int16 codes of :func:`pack_frame`) are
    shuffled (byte 0 of every value, then byte 1 ...) and deflated by
    :func:`deflate`, so HDF5's filters read the chunk back as if netCDF-C had
    written it (HDF5 keeps the deflated bytes even when they are longer:
    filter mask 0). The deflate and numpy release the GIL, so threads
    compress in parallel.
    """
    if packed:
        return shuffle_deflate(pack_frame(values), np.int16)
    data = np.array(values, dtype=np.float32)
    np.copyto(data, cf.FILL_VALUE, where=np.isnan(data))
    return shuffle_deflate(data)


def pack_frame(values: np.ndarray) -> np.ndarray:
    """Rates as the int16 codes that netCDF4 stores for them in a packed variable.

    ``scale_factor`` is :data:`cf.PACKED_SCALE`, ``add_offset`` 0 and
    ``_FillValue`` :data:`cf.PACKED_FILL_VALUE`; these are the very steps of
    netCDF4's packing of a masked float32 array (``Variable._pack``): rates
    above :data:`PACKED_MAX` become it, the rest are divided by the scale
    (float32) and rounded half to even; NaN, and whatever the division makes
    infinite, become :data:`cf.PACKED_FILL_VALUE`.
    """
    data = np.minimum(np.asarray(values, dtype=np.float32), PACKED_MAX)
    codes = np.around(data / cf.PACKED_SCALE)
    np.copyto(codes, cf.PACKED_FILL_VALUE, where=~np.isfinite(codes))
    return codes.astype(np.int16)


def shuffle_deflate(data: np.ndarray, dtype: npt.DTypeLike = np.float32) -> tuple[int, bytes]:
    """``data`` as ``dtype`` through HDF5's shuffle and deflate filters: ``(mask, bytes)``."""
    values = np.ascontiguousarray(data, dtype=dtype)
    shuffled = values.view(np.uint8).reshape(-1, values.itemsize).T
    return 0, deflate(shuffled.tobytes())


def deflate(data: bytes) -> bytes:
    """``data`` as a zlib stream, which is what HDF5's deflate filter stores and reads.

    With the ``isal`` package (the ``fast`` extra) the stream comes from
    Intel's ISA-L at :data:`ISAL_LEVEL`: about 8x faster than zlib at
    :data:`COMPLEVEL` for chunks ~7 % larger (rain frames of 700 x 700:
    1.4 vs 11.5 ms, 279 vs 260 kB), and compression is most of an ingest's
    CPU time. Without it, zlib at :data:`COMPLEVEL` gives the very bytes
    netCDF-C writes. Either way any HDF5/netCDF reader inflates the same values.
    """
    if _use_isal:
        return _isal_zlib.compress(data, ISAL_LEVEL)
    return zlib.compress(data, COMPLEVEL)


def chunk_blocks(
    array: np.ndarray, chunks: tuple[int, ...], fill: float
) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
    """``(offset, block)`` of every chunk of a 2-D ``array``; edge blocks padded with ``fill``."""
    (ny, nx), (cy, cx) = array.shape, chunks
    for i in range(0, ny, cy):
        for j in range(0, nx, cx):
            block = array[i : i + cy, j : j + cx]
            if block.shape != (cy, cx):
                padded = np.full((cy, cx), fill, dtype=np.float32)
                padded[: block.shape[0], : block.shape[1]] = block
                block = padded
            yield (i, j), block


#: A chunk ready to store: variable name, chunk offset, ``(filter mask, bytes)``.
Chunk = tuple[str, tuple[int, ...], tuple[int, bytes]]


def latlon_chunks(file: Any, values: tuple[np.ndarray, np.ndarray]) -> list[Chunk]:
    """``(lat, lon)`` as the chunks of the ``lat``/``lon`` variables netCDF-C defined in ``file``.

    Compressed with the filters netCDF-C gave the variables (shuffle +
    deflate), through :func:`deflate`: netCDF-C itself compresses them at
    zlib level 4 when it closes the file, 0.09 s for a 765 x 700 grid. Any
    thread may do this; ``file`` is an open ``h5py.File``.
    """
    items = []
    for name, array in zip(("lat", "lon"), values, strict=True):
        dataset = file[name]
        for offset, block in chunk_blocks(array, dataset.chunks, dataset.fillvalue):
            items.append((name, offset, shuffle_deflate(block)))
    return items


def store_chunks(file: Any, items: list[Chunk]) -> None:
    """Write ready-made chunks into the ``h5py.File`` ``file`` (``write_direct_chunk``)."""
    for name, offset, (filter_mask, payload) in items:
        file[name].id.write_direct_chunk(offset, payload, filter_mask)
