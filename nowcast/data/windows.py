"""Which windows of consecutive frames are valid, and how they are split.

A *window* is ``in_len + out_len`` frames taken every ``time_stride`` frames.
The canonical file may have gaps (missing frames) and, for Moving MNIST,
independent sequences side by side; a window never spans either. A window is
identified by its first frame index, or by an ``(index, time_stride)`` pair
when several time strides are mixed (an ``(N, 2)`` int64 array, the format
:class:`~nowcast.data.dataset.CanonicalWindows` takes).

Splits keep train, validation and test windows apart: no frame is shared
between two splits, so validation scores are not inflated by frames the model
was trained on.
"""

from __future__ import annotations

import numpy as np

from nowcast.io.splits import SPLIT_FRACTIONS, block_sizes

SPLITS = ("train", "val", "test")


def _seconds(times: np.ndarray) -> np.ndarray:
    """Times as int64 seconds since 1970 (datetime64 or integer seconds)."""
    times = np.asarray(times)
    if np.issubdtype(times.dtype, np.datetime64):
        return times.astype("datetime64[s]").astype(np.int64)
    return times.astype(np.int64)


def valid_window_starts(
    times: np.ndarray,
    window: int,
    timestep_s: int,
    sequence: np.ndarray | None = None,
    stride: int = 1,
    time_stride: int = 1,
) -> np.ndarray:
    """Indices ``i`` whose frames ``i, i+s, ..., i+(window-1)*s`` form a clean window.

    Consecutive frames of the window (``s = time_stride``) must be exactly
    ``s * timestep_s`` seconds apart and, when ``sequence`` is given, belong
    to the same sequence, so a window never spans a gap or two sequences.

    Args:
        times: ``(n,)`` frame times, datetime64 or int64 seconds, increasing.
        window: Frames per window (``in_len + out_len``).
        timestep_s: Nominal cadence of the data, seconds.
        sequence: ``(n,)`` sequence id of each frame, or ``None``.
        stride: Keep every ``stride``-th valid start.
        time_stride: Frame step inside the window (temporal sub-sampling).

    Returns:
        ``(m,)`` int64 start indices, increasing.
    """
    if window < 1 or stride < 1 or time_stride < 1:
        raise ValueError(
            f"window, stride and time_stride must be >= 1, got {window}, {stride}, {time_stride}"
        )
    seconds = _seconds(times)
    n = seconds.size
    span = (window - 1) * time_stride
    if n <= span:
        return np.zeros(0, dtype=np.int64)
    # pair_ok[j]: frames j and j + time_stride are one clean step apart.
    pair_ok = seconds[time_stride:] - seconds[:-time_stride] == time_stride * timestep_s
    if sequence is not None:
        seq = np.asarray(sequence)
        pair_ok &= seq[time_stride:] == seq[:-time_stride]
    valid = np.ones(n - span, dtype=bool)
    for k in range(window - 1):
        valid &= pair_ok[k * time_stride : k * time_stride + n - span]
    return np.flatnonzero(valid).astype(np.int64)[::stride]


def _first_last(starts: np.ndarray, window_span: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last frame index of each window (starts: indices or pairs)."""
    starts = np.asarray(starts, dtype=np.int64)
    if starts.ndim == 2:
        index, time_stride = starts[:, 0], starts[:, 1]
    else:
        index, time_stride = starts, np.ones_like(starts)
    return index, index + (window_span - 1) * time_stride


def _check_fractions(fractions: tuple[float, float, float]) -> None:
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(
            f"split fractions must be 3 non-negative numbers summing to 1: {fractions}"
        )


def split_by_time(
    times: np.ndarray,
    starts: np.ndarray,
    window_span: int,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
) -> dict[str, np.ndarray]:
    """Split windows into contiguous time blocks, train | val | test.

    The time line from the first to the last frame is cut at the given
    fractions; a window belongs to a split when its first and last frame lie
    in that split's block. Windows that straddle a cut are dropped (the
    buffer), so no frame appears in windows of two splits.

    Args:
        times: ``(n,)`` frame times, datetime64 or int64 seconds, increasing.
        starts: ``(m,)`` start indices or ``(m, 2)`` ``(index, time_stride)`` pairs.
        window_span: Frames per window (``in_len + out_len``).
        fractions: Shares of the time line for train, val and test.

    Returns:
        ``{"train", "val", "test"}`` -> the rows of ``starts`` in each split.
    """
    _check_fractions(fractions)
    seconds = _seconds(times)
    starts = np.asarray(starts, dtype=np.int64)
    if seconds.size == 0 or starts.shape[0] == 0:
        return dict.fromkeys(SPLITS, starts[:0])
    # The time line [t0, t1 + 1 s): the last frame's instant belongs to it, so a
    # zero fraction gives an empty block.
    t0, length = seconds[0], seconds[-1] + 1 - seconds[0]
    cuts = t0 + length * np.cumsum(fractions[:2])
    first, last = _first_last(starts, window_span)
    block_first = np.searchsorted(cuts, seconds[first], side="right")
    block_last = np.searchsorted(cuts, seconds[last], side="right")
    keep = block_first == block_last
    return {name: starts[keep & (block_first == i)] for i, name in enumerate(SPLITS)}


def split_by_sequence(
    sequence_ids: np.ndarray,
    starts: np.ndarray,
    fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
) -> dict[str, np.ndarray]:
    """Split windows so that each whole sequence goes to one split (Moving MNIST).

    Sequences are dealt out in contiguous blocks of sequence ids, in the given
    proportions (test takes the remainder). ``nowcast ingest`` writes Moving
    MNIST sequences generated from digit files in the same blocks with
    disjoint digit pools, so with the default fractions no digit of a test
    sequence is seen in training.

    Args:
        sequence_ids: ``(n,)`` sequence id of each frame.
        starts: ``(m,)`` start indices or ``(m, 2)`` ``(index, time_stride)`` pairs;
            windows must not span sequences (see :func:`valid_window_starts`).
        fractions: Shares of the sequences for train, val and test.

    Returns:
        ``{"train", "val", "test"}`` -> the rows of ``starts`` in each split.
    """
    _check_fractions(fractions)
    sequence_ids = np.asarray(sequence_ids)
    starts = np.asarray(starts, dtype=np.int64)
    unique = np.unique(sequence_ids)
    groups = np.split(unique, np.cumsum(block_sizes(unique.size, fractions))[:2])
    first = starts[:, 0] if starts.ndim == 2 else starts
    of_window = sequence_ids[first]
    return {
        name: starts[np.isin(of_window, group)] for name, group in zip(SPLITS, groups, strict=True)
    }
