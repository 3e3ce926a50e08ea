"""Training samples read lazily from a canonical NetCDF file.

The file is opened on the first :meth:`CanonicalWindows.__getitem__` of each
process, so the dataset pickles into DataLoader workers and a file larger
than memory works: each sample reads only its window's frames and, with a
crop, only the cropped rows and columns. Samples use the layout ``TCHW``
(``C = 1``); the DataLoader adds ``B``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import netCDF4
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from nowcast.config import DataConfig
from nowcast.data.patches import pad_to_multiple
from nowcast.data.transforms import make_transform
from nowcast.data.windows import SPLITS, split_by_sequence, split_by_time, valid_window_starts
from nowcast.errors import CanonicalDataError, ConfigError, NowcastError
from nowcast.io.canonical import FileIdentity, file_max_rate, open_canonical, open_snapshot
from nowcast.io.plausible import sanitise, value_limit


def _as_pairs(starts: np.ndarray) -> np.ndarray:
    """``(N,)`` start indices or ``(N, 2)`` pairs -> ``(N, 2)`` ``(index, time_stride)``."""
    starts = np.asarray(starts, dtype=np.int64)
    if starts.ndim == 1:
        return np.stack([starts, np.ones_like(starts)], axis=1)
    if starts.ndim != 2 or starts.shape[1] != 2:
        raise ValueError(f"starts must be (N,) or (N, 2), got shape {starts.shape}")
    return starts


#: Decompressed-frame cache per open file (bounded: a file larger than RAM still trains).
CHUNK_CACHE_BYTES = 256 * 2**20
#: A crop must have at least this fraction of its pixels covered in the window's first
#: frame; a crop of "no coverage" teaches nothing and a batch of them has no loss at all.
MIN_CROP_COVERAGE = 0.25
#: Random crops drawn before the last one is kept (a window with too little coverage anywhere).
CROP_TRIES = 20


class CanonicalWindows(Dataset[dict[str, Tensor]]):
    """Windows of a canonical file as ``x``, ``y`` and ``mask_y`` tensors.

    Sample ``i`` is the window starting at frame ``starts[i, 0]`` with frames
    ``starts[i, 1]`` apart (its time stride). Frames go through the config's
    intensity transform; a random ``cfg.crop`` square is cut (or, with
    ``crop = 0``, the whole frame is padded to a multiple of ``patch_size``),
    drawn again while less than :data:`MIN_CROP_COVERAGE` of it is covered
    in the window's first frame (a radar's disc in a square grid, or several
    radars stacked in one file, leaves whole crops without data);
    in training, random flips and, for square samples, 90-degree rotations
    follow. The randomness of sample ``i`` depends only on ``(seed, epoch, i)``
    (validation ignores the epoch), so runs are reproducible with any number
    of workers.

    Returns per sample ``x`` ``(in_len, 1, H, W)`` float32, ``y``
    ``(out_len, 1, H, W)`` float32, ``mask_y`` ``(out_len, 1, H, W)`` bool (the
    target is a real observation: finite and not padding), and the ints
    ``start`` and ``time_stride``. NaN in ``x`` and ``y`` becomes 0.

    Args:
        path: Canonical NetCDF file.
        starts: ``(N, 2)`` ``(index, time_stride)`` pairs (see :func:`windows_for`)
            or ``(N,)`` indices at time stride 1.
        cfg: Lengths, crop, flips, variable and transform.
        patch_size: The model's patch size (crops and padding are multiples of it).
        train: Apply flips/rotations and vary the randomness with the epoch.
        seed: Base seed of the per-sample randomness.
        identity: The file the windows were cut from
            (:attr:`~nowcast.io.canonical.CanonicalFile.identity`); ``None`` = the file
            found now. Every process that opens ``path`` refuses another file (one replaced
            meanwhile), so no sample mixes two files' frames.
    """

    def __init__(
        self,
        path: Path,
        starts: np.ndarray,
        cfg: DataConfig,
        patch_size: int,
        train: bool,
        seed: int = 0,
        identity: FileIdentity | None = None,
    ) -> None:
        self.path = Path(path)
        self.identity = identity
        self.starts = _as_pairs(starts)
        self.cfg = cfg
        self.patch_size = patch_size
        self.train = train
        self.seed = seed
        self.epoch = 0
        self.transform = make_transform(cfg)
        self.shape, self.limit = self._layout()
        self._check_crop()
        self._nc: netCDF4.Dataset | None = None
        self._pid: int | None = None

    def _layout(self) -> tuple[tuple[int, int], float]:
        """``(ny, nx)`` of the variable and its largest plausible value, read once.

        The file is closed again (nothing held open); a worker that reopens it
        checks it is the same file, so the limit read here stays its limit.
        """
        try:
            nc, self.identity = open_snapshot(self.path, self.identity)
            with nc:
                if self.cfg.variable not in nc.variables:
                    raise ConfigError(
                        f"{self.path} has no variable {self.cfg.variable!r} "
                        f"(found: {', '.join(nc.variables)}); set data.variable"
                    )
                var = nc[self.cfg.variable]
                if var.dimensions != ("time", "y", "x"):
                    raise CanonicalDataError(
                        f"{self.path}: {self.cfg.variable} has dimensions {var.dimensions}, "
                        "expected (time, y, x)"
                    )
                limit = value_limit(self.cfg.variable, file_max_rate(nc, self.path))
                return (int(var.shape[1]), int(var.shape[2])), limit
        except OSError as exc:
            raise CanonicalDataError(f"{self.path}: cannot open as NetCDF ({exc})") from exc

    def _check_crop(self) -> None:
        crop, p = self.cfg.crop, self.patch_size
        if crop % p:
            raise ConfigError(
                f"data.crop must be 0 or a multiple of the patch size {p}, got {crop}"
            )
        if crop > min(self.shape):
            raise ConfigError(
                f"data.crop {crop} is larger than the grid {self.shape[0]}x{self.shape[1]}"
            )

    def set_epoch(self, epoch: int) -> None:
        """Change the random crops/flips of training samples for a new epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the open file handle (each worker opens its own)."""
        state = self.__dict__.copy()
        state["_nc"] = None
        state["_pid"] = None
        return state

    def close(self) -> None:
        """Close this process's file handle, if open."""
        if self._nc is not None and self._pid == os.getpid():
            self._nc.close()
        self._nc = None
        self._pid = None

    def _file(self) -> netCDF4.Dataset:
        """The file handle of this process, opened on first use."""
        if self._nc is None or self._pid != os.getpid():
            self._nc, _ = open_snapshot(self.path, self.identity)
            self._pid = os.getpid()
            # Windows overlap and crops are small: keep decompressed frames (one chunk
            # each) in a bounded cache instead of inflating every frame for every sample.
            self._nc[self.cfg.variable].set_var_chunk_cache(
                size=CHUNK_CACHE_BYTES, nelems=1009, preemption=0.75
            )
        return self._nc

    def _rng(self, index: int) -> np.random.Generator:
        epoch = self.epoch if self.train else 0
        return np.random.default_rng([self.seed, epoch, index])

    def _read(self, index: int, rng: np.random.Generator) -> np.ndarray:
        """The window's frames ``(T, h, w)`` in mm/h (or intensity), NaN = no data."""
        start, time_stride = (int(v) for v in self.starts[index])
        window = self.cfg.in_len + self.cfg.out_len
        stop = start + (window - 1) * time_stride + 1
        crop = self.cfg.crop
        y0, x0 = self._crop_origin(start, rng) if crop else (0, 0)
        rows = slice(y0, y0 + crop) if crop else slice(None)
        cols = slice(x0, x0 + crop) if crop else slice(None)
        return self._frames(slice(start, stop, time_stride), rows, cols)

    def _frames(self, times: slice | int, rows: slice, cols: slice) -> np.ndarray:
        """Frames of the file as float32, NaN where masked (no data) or implausible."""
        nc = self._file()
        data = nc[self.cfg.variable][times, rows, cols]
        values = np.ma.filled(np.ma.asarray(data, dtype=np.float32), np.nan)
        return sanitise(values, self.limit)

    def _crop_origin(self, start: int, rng: np.random.Generator) -> tuple[int, int]:
        """Top-left corner of a random crop covered enough in frame ``start``.

        On a fully covered grid the first draw is kept, so the crops, and the
        random numbers left for the augmentations, are those of a plain draw.
        """
        ny, nx = self.shape
        crop = self.cfg.crop
        for _ in range(CROP_TRIES):
            y0, x0 = int(rng.integers(0, ny - crop + 1)), int(rng.integers(0, nx - crop + 1))
            first = self._frames(start, slice(y0, y0 + crop), slice(x0, x0 + crop))
            if np.isfinite(first).mean() >= MIN_CROP_COVERAGE:
                break
        return y0, x0

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Sample ``index``: ``x``, ``y``, ``mask_y``, ``start``, ``time_stride``."""
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} windows")
        rng = self._rng(index)
        raw = self._read(index, rng)  # (T, h, w)
        frames = torch.from_numpy(self.transform.forward(raw)).unsqueeze(1)  # (T, 1, h, w)
        valid = torch.from_numpy(np.isfinite(raw)).unsqueeze(1)  # (T, 1, h, w)
        frames = torch.nan_to_num(frames, nan=0.0)
        frames, pads = pad_to_multiple(frames, self.patch_size)
        if pads != (0, 0):
            valid = torch.nn.functional.pad(valid, (0, pads[1], 0, pads[0]), value=False)
        frames, valid = self._augment(frames, valid, rng)
        n_in = self.cfg.in_len
        return {
            "x": frames[:n_in].contiguous(),
            "y": frames[n_in:].contiguous(),
            "mask_y": valid[n_in:].contiguous(),
            "start": int(self.starts[index, 0]),
            "time_stride": int(self.starts[index, 1]),
        }

    def _augment(
        self, frames: Tensor, valid: Tensor, rng: np.random.Generator
    ) -> tuple[Tensor, Tensor]:
        """Random flips and quarter turns of ``(T, 1, H, W)`` frames and mask (training only)."""
        flip_y, flip_x = rng.random(2) < 0.5
        turns = int(rng.integers(0, 4))
        if not (self.train and self.cfg.flips):
            return frames, valid
        dims = [d for d, flip in ((-2, flip_y), (-1, flip_x)) if flip]
        if dims:
            frames, valid = frames.flip(dims), valid.flip(dims)
        if turns and frames.shape[-1] == frames.shape[-2]:
            frames = torch.rot90(frames, turns, dims=(-2, -1))
            valid = torch.rot90(valid, turns, dims=(-2, -1))
        return frames, valid


_T = TypeVar("_T")


def from_workers(batches: Iterable[_T]) -> Iterator[_T]:
    """``batches``, with an expected error of a DataLoader worker raised again as one line.

    torch raises a worker's exception again in the main process with the worker's
    traceback as its message; a :class:`~nowcast.errors.NowcastError` (the data file
    replaced while training, say) keeps only its own message, the traceback's last line.
    """
    try:
        yield from batches
    except NowcastError as exc:
        lines = str(exc).strip().splitlines()
        if "DataLoader worker" not in lines[0]:
            raise
        own = lines[-1].removeprefix(f"{type(exc).__module__}.{type(exc).__name__}: ")
        raise type(exc)(own) from None


def windows_for(path: Path, cfg: DataConfig, split: str) -> np.ndarray:
    """Valid ``(index, time_stride)`` windows of one split of a canonical file.

    Windows hold ``cfg.in_len + cfg.out_len`` frames and never span a gap or,
    when the file has a ``sequence`` coordinate, two sequences. Files with
    sequences (Moving MNIST) are split by whole sequences in contiguous blocks
    (:func:`~nowcast.data.windows.split_by_sequence`); others by contiguous time
    blocks with a buffer (:func:`~nowcast.data.windows.split_by_time`). The time strides of
    ``cfg.time_strides`` are augmentation and apply to ``train`` only;
    ``val`` and ``test`` use the native cadence (time stride 1), the task the
    model is evaluated on.

    Args:
        path: Canonical NetCDF file.
        cfg: Lengths, stride, time strides and split fractions.
        split: ``train``, ``val`` or ``test``.

    Returns:
        ``(N, 2)`` int64 ``(index, time_stride)`` pairs.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    fractions = (1.0 - cfg.val_fraction - cfg.test_fraction, cfg.val_fraction, cfg.test_fraction)
    meta = open_canonical(path)
    if meta.variable != cfg.variable:
        raise ConfigError(f"{path} holds {meta.variable!r}, but data.variable is {cfg.variable!r}")
    window = cfg.in_len + cfg.out_len
    strides = cfg.time_strides if split == "train" else (1,)
    pairs = []
    for time_stride in strides:
        starts = valid_window_starts(
            meta.times, window, meta.timestep_s, meta.sequence, cfg.stride, time_stride
        )
        pairs.append(np.stack([starts, np.full_like(starts, time_stride)], axis=1))  # (n, 2)
    all_pairs = np.concatenate(pairs)
    if meta.sequence is not None:
        return split_by_sequence(meta.sequence, all_pairs, fractions)[split]
    return split_by_time(meta.times, all_pairs, window, fractions)[split]
