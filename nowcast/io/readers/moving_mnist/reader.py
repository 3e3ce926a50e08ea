"""The two Moving MNIST readers: the published ``.npy`` sequences and IDX digit files.

Two readers share one frame layout:

* :class:`MovingMnistNpyReader` (``mnist-npy``) reads the official
  ``mnist_test_seq.npy``: ``uint8`` of shape ``(T, N, 64, 64)``, time-major.
  The file is memory-mapped, so the 819 MB array never sits in RAM.
* :class:`MnistIdxReader` (``mnist-idx``) reads an IDX digit file (the MNIST
  distribution format, gzip or raw) and generates Moving MNIST sequences from
  it with :func:`~nowcast.io.readers.moving_mnist.generate.iter_moving_mnist`.

Both yield sequence after sequence, frame after frame, as ``intensity`` in
``[0, 1]`` (``uint8 / 255``) on a pixel grid. Times are synthetic: frame ``t``
of sequence ``n`` is valid at ``EPOCH + (n * (T + 1) + t) * timestep_s``, i.e.
one step is skipped between sequences so that a sequence boundary is also a
gap in the time axis (windowing code never joins two sequences).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nowcast.errors import ConfigError, InputError
from nowcast.io.cf import INTENSITY
from nowcast.io.grid import Frame, Grid
from nowcast.io.readers.moving_mnist.generate import block_digit_pools, iter_moving_mnist
from nowcast.io.readers.registry import ReaderOptions
from nowcast.io.splits import block_sizes

#: Valid time of frame 0 of sequence 0 (the time axis is synthetic).
EPOCH = np.datetime64("2000-01-01T00:00:00", "s")
#: Canvas side of generated sequences, pixels.
CANVAS = 64

_NPY_MAGIC = b"\x93NUMPY"
_GZIP_MAGIC = b"\x1f\x8b"
_IDX_IMAGE_MAGIC = 2051
_IDX_HEADER_BYTES = 16


def sequence_times(sequence: int, n_frames: int, timestep_s: int) -> np.ndarray:
    """Synthetic valid times of one sequence, ``datetime64[s]`` of shape ``(n_frames,)``.

    One step is left empty after every sequence, so consecutive sequences are
    separated by a time gap of ``2 * timestep_s``.
    """
    first = sequence * (n_frames + 1)
    steps = np.arange(first, first + n_frames, dtype=np.int64) * int(timestep_s)
    return EPOCH + steps.astype("timedelta64[s]")


def pixel_grid(size_y: int, size_x: int) -> Grid:
    """A grid of pixel indices (no CRS), as used for all Moving MNIST frames."""
    return Grid(x=np.arange(size_x, dtype=np.float64), y=np.arange(size_y, dtype=np.float64))


def _sequence_frames(
    sequence: np.ndarray, index: int, timestep_s: int, grid: Grid, source: str
) -> Iterator[Frame]:
    """Yield the frames of one ``uint8`` sequence ``(T, H, W)`` as ``[0, 1]`` intensity."""
    times = sequence_times(index, sequence.shape[0], timestep_s)
    for t in range(sequence.shape[0]):
        values = np.asarray(sequence[t], dtype=np.float32) / np.float32(255.0)
        yield Frame(
            time=times[t],
            values=values,
            grid=grid,
            variable=INTENSITY,
            source=source,
            sequence=index,
        )


# --------------------------------------------------------------------------- npy


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype] | None:
    """Shape and dtype of a ``.npy`` file, or None when the file is not ``.npy``.

    Only the header is parsed: ``np.load`` with ``mmap_mode`` maps the data
    without reading it.
    """
    try:
        with open(path, "rb") as handle:
            if handle.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
                return None
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, SyntaxError, TypeError):
        return None
    shape, dtype = tuple(int(n) for n in array.shape), array.dtype
    del array
    return shape, dtype


def _is_sequence_layout(shape: tuple[int, ...], dtype: np.dtype) -> bool:
    """True for ``uint8`` ``(T, N, H, W)`` with square, non-empty frames."""
    return dtype == np.uint8 and len(shape) == 4 and shape[2] == shape[3] and min(shape) > 0


class MovingMnistNpyReader:
    """Reader for ``mnist_test_seq.npy``-style files: ``uint8 (T, N, H, H)``, time-major."""

    name = "mnist-npy"
    description = "Moving MNIST sequences, .npy uint8 (T, N, 64, 64) as in mnist_test_seq.npy"

    def __init__(self, options: ReaderOptions) -> None:
        self.options = options

    def can_open(self, path: Path) -> bool:
        """True when ``path`` is a ``.npy`` file holding a 4-D ``uint8`` sequence array."""
        header = _npy_header(Path(path))
        return header is not None and _is_sequence_layout(*header)

    def frames(self, path: Path) -> Iterator[Frame]:
        """Yield frame ``t`` of sequence ``n`` for ``n`` in order, then ``t`` in order.

        Raises:
            InputError: when the file is not a 4-D ``uint8`` ``.npy`` array.
        """
        path = Path(path)
        array = self._open(path)
        grid = pixel_grid(array.shape[2], array.shape[3])
        for n in range(array.shape[1]):
            yield from _sequence_frames(array[:, n], n, self.options.timestep_s, grid, str(path))

    @staticmethod
    def _open(path: Path) -> np.ndarray:
        """Memory-map the array read-only, checking the Moving MNIST layout."""
        header = _npy_header(path)
        if header is None:
            raise InputError(f"{path}: not a readable .npy file")
        if not _is_sequence_layout(*header):
            shape, dtype = header
            raise InputError(
                f"{path}: expected uint8 (T, N, H, H) Moving MNIST array, got {dtype} {shape}"
            )
        try:
            array: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot memory-map .npy file ({exc})") from exc
        return array


# --------------------------------------------------------------------------- IDX


def _read_head(path: Path, n_bytes: int) -> bytes:
    """First ``n_bytes`` of the (possibly gzip-compressed) content of ``path``."""
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == _GZIP_MAGIC
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as handle:
        return bytes(handle.read(n_bytes))


def _idx_header(head: bytes) -> tuple[int, int, int, int] | None:
    """``(magic, count, rows, cols)`` from the first 16 bytes, or None when too short."""
    if len(head) < _IDX_HEADER_BYTES:
        return None
    magic, count, rows, cols = (int(v) for v in np.frombuffer(head[:16], ">i4"))
    return magic, count, rows, cols


def read_idx_images(path: Path) -> np.ndarray:
    """Read an IDX image file (gzip-compressed or raw) into ``uint8 (n, rows, cols)``.

    The IDX format is the MNIST distribution format: big-endian int32 magic
    ``2051``, image count, rows and columns, then the pixels row-major.

    Raises:
        InputError: when the file is unreadable, has another magic number, or
            its size does not match its header.
    """
    path = Path(path)
    try:
        data = _read_head(path, -1)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: cannot read IDX file ({exc})") from exc
    header = _idx_header(data)
    if header is None:
        raise InputError(f"{path}: too short for an IDX header ({len(data)} bytes)")
    magic, count, rows, cols = header
    if magic != _IDX_IMAGE_MAGIC:
        raise InputError(f"{path}: not an IDX image file (magic {magic}, expected 2051)")
    if min(count, rows, cols) <= 0:
        raise InputError(f"{path}: IDX header has empty dimensions ({count}, {rows}, {cols})")
    expected = _IDX_HEADER_BYTES + count * rows * cols
    if len(data) != expected:
        raise InputError(
            f"{path}: IDX size mismatch: header needs {expected} bytes, file has {len(data)}"
        )
    pixels = np.frombuffer(data, dtype=np.uint8, offset=_IDX_HEADER_BYTES)
    return pixels.reshape(count, rows, cols).copy()


class MnistIdxReader:
    """Reader that turns an IDX digit file into generated Moving MNIST frames."""

    name = "mnist-idx"
    description = "MNIST IDX digit images (gzip or raw), animated as Moving MNIST sequences"

    def __init__(self, options: ReaderOptions) -> None:
        self.options = options

    def can_open(self, path: Path) -> bool:
        """True when ``path`` starts with an IDX image header (magic 2051)."""
        try:
            header = _idx_header(_read_head(Path(path), _IDX_HEADER_BYTES))
        except (OSError, EOFError, zlib.error):
            return False
        return header is not None and header[0] == _IDX_IMAGE_MAGIC and min(header[1:]) > 0

    def frames(self, path: Path) -> Iterator[Frame]:
        """Yield ``options.sequences`` x ``options.frames`` generated frames, sequence by sequence.

        Sequences come in contiguous train | val | test blocks
        (:data:`~nowcast.io.splits.SPLIT_FRACTIONS`), each drawing its digits from its own
        disjoint pool of digit images.

        Raises:
            InputError: when the IDX file is unreadable or its digits exceed 64 px.
            ConfigError: for non-positive ``sequences``/``frames`` or a negative seed.
        """
        opts = self.options
        if opts.sequences <= 0 or opts.frames <= 0 or opts.seed < 0:
            raise ConfigError(
                "Moving MNIST needs sequences > 0, frames > 0 and seed >= 0, got "
                f"{opts.sequences}, {opts.frames}, {opts.seed}"
            )
        path = Path(path)
        digits = read_idx_images(path)
        if max(digits.shape[1:]) > CANVAS:
            raise InputError(f"{path}: digits of {digits.shape[1:]} exceed the {CANVAS} px canvas")
        grid = pixel_grid(CANVAS, CANVAS)
        pools = block_digit_pools(digits.shape[0], opts.seed)
        first = 0
        for size, pool in zip(block_sizes(opts.sequences), pools, strict=True):
            if size == 0:
                continue
            # A distinct seed per block keeps the blocks' motions independent.
            block = iter_moving_mnist(
                digits, size, opts.frames, opts.seed + first, CANVAS, pool=pool
            )
            for n, (sequence, _) in enumerate(block, start=first):
                yield from _sequence_frames(sequence, n, opts.timestep_s, grid, str(path))
            first += size
