"""Window starts never span gaps or sequences; splits never share frames."""

from __future__ import annotations

import numpy as np
import pytest

from nowcast.data.windows import split_by_sequence, split_by_time, valid_window_starts

STEP = 300


def _times(steps: list[int]) -> np.ndarray:
    return np.datetime64("2024-06-01T00:00:00") + np.array(steps) * np.timedelta64(STEP, "s")


def _frames(starts: np.ndarray, window: int) -> list[set[int]]:
    """Frame indices of each window; ``starts`` are indices or (index, time_stride) pairs."""
    pairs = starts if starts.ndim == 2 else np.stack([starts, np.ones_like(starts)], 1)
    return [{int(i + k * s) for k in range(window)} for i, s in pairs]


def test_no_gaps_gives_every_start() -> None:
    starts = valid_window_starts(_times(list(range(10))), 4, STEP)
    assert starts.tolist() == list(range(7))
    assert starts.dtype == np.int64


def test_windows_never_cross_a_gap() -> None:
    # frames 0-4 at steps 0-4, then a missing step, then frames 5-9 at steps 6-10
    times = _times([0, 1, 2, 3, 4, 6, 7, 8, 9, 10])
    assert valid_window_starts(times, 3, STEP).tolist() == [0, 1, 2, 5, 6, 7]


def test_integer_seconds_work_like_datetimes() -> None:
    seconds = np.array([0, 1, 2, 3, 4, 6, 7, 8, 9, 10]) * STEP
    times = _times([0, 1, 2, 3, 4, 6, 7, 8, 9, 10])
    np.testing.assert_array_equal(
        valid_window_starts(seconds, 3, STEP), valid_window_starts(times, 3, STEP)
    )


def test_windows_never_cross_sequences() -> None:
    times = _times(list(range(12)))  # contiguous in time, but three sequences of 4
    sequence = np.repeat([7, 8, 9], 4)
    starts = valid_window_starts(times, 3, STEP, sequence=sequence)
    assert starts.tolist() == [0, 1, 4, 5, 8, 9]


def test_time_stride_steps_over_frames_and_needs_exact_spacing() -> None:
    times = _times([0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12])  # step 7 missing
    starts = valid_window_starts(times, 3, STEP, time_stride=2)
    # window i uses frames i, i+2, i+4: each pair exactly 600 s apart
    assert starts.tolist() == [0, 1, 2, 7]
    for i in starts:
        idx = [i, i + 2, i + 4]
        assert np.all(np.diff(times[idx]).astype(int) == 2 * STEP)


def test_stride_keeps_every_nth_valid_start() -> None:
    starts = valid_window_starts(_times(list(range(10))), 2, STEP, stride=3)
    assert starts.tolist() == [0, 3, 6]


def test_too_short_gives_nothing() -> None:
    assert valid_window_starts(_times([0, 1, 2]), 4, STEP).size == 0


def test_time_split_blocks_are_ordered_and_share_no_frame() -> None:
    times = _times(list(range(100)))
    window = 6
    starts = valid_window_starts(times, window, STEP)
    pairs = np.concatenate(
        [
            np.stack([starts, np.ones_like(starts)], 1),
            np.stack(
                [s := valid_window_starts(times, window, STEP, time_stride=2), np.full_like(s, 2)],
                1,
            ),
        ]
    )
    splits = split_by_time(times, pairs, window, (0.6, 0.2, 0.2))
    used = {name: set().union(*_frames(s, window)) for name, s in splits.items()}
    assert not used["train"] & used["val"]
    assert not used["val"] & used["test"]
    assert not used["train"] & used["test"]
    assert max(used["train"]) < min(used["val"]) and max(used["val"]) < min(used["test"])
    # blocks are [0, 60), [60, 80), [80, 100) frames; straddling windows dropped
    assert max(used["train"]) == 59 and min(used["val"]) == 60 and max(used["test"]) == 99
    assert sum(len(s) for s in splits.values()) < len(pairs)


def test_time_split_with_zero_fractions() -> None:
    times = _times(list(range(20)))
    starts = valid_window_starts(times, 4, STEP)
    splits = split_by_time(times, starts, 4, (1.0, 0.0, 0.0))
    assert splits["train"].tolist() == starts.tolist()
    assert splits["val"].size == 0 and splits["test"].size == 0


def test_fractions_must_sum_to_one() -> None:
    with pytest.raises(ValueError, match="summing to 1"):
        split_by_time(_times([0, 1]), np.array([0]), 1, (0.5, 0.2, 0.2))


def test_sequence_split_keeps_whole_sequences_together() -> None:
    sequence = np.repeat(np.arange(10), 5)
    times = _times(list(range(50)))
    starts = valid_window_starts(times, 3, STEP, sequence=sequence)
    splits = split_by_sequence(sequence, starts, (0.6, 0.2, 0.2))
    owners = {name: set(sequence[s].tolist()) for name, s in splits.items()}
    assert [len(owners[n]) for n in ("train", "val", "test")] == [6, 2, 2]
    assert not owners["train"] & owners["val"] and not owners["val"] & owners["test"]
    assert sum(len(s) for s in splits.values()) == len(starts)
    # contiguous blocks of sequence ids: train 0-5, val 6-7, test 8-9
    assert owners == {"train": set(range(6)), "val": {6, 7}, "test": {8, 9}}
