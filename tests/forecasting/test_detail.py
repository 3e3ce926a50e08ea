"""The sub-block detail of a working grid, advected along the motion (forecasting.detail)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nowcast.forecasting.detail import (
    coverage_window,
    detail_along,
    fine_displacements,
    fine_velocity,
    moved_detail,
    persistence_factor,
    sub_block_detail,
)
from nowcast.forecasting.ensemble import moved_observations


def test_block_constant_fields_have_no_detail_and_a_spike_does() -> None:
    flat = np.full((1, 12, 12), 2.0, dtype=np.float32)
    assert not sub_block_detail(flat, 3).any()
    spike = flat.copy()
    spike[0, 4, 4] = 11.0
    detail = sub_block_detail(spike, 3)
    assert detail[0, 4, 4] > 5.0  # the core stands out of its 3 x 3 block mean (3 mm/h)
    assert detail.dtype == np.float32


def test_nan_pixels_carry_no_detail() -> None:
    frames = np.ones((1, 6, 6), dtype=np.float32)
    frames[0, :, :2] = np.nan
    assert np.isfinite(sub_block_detail(frames, 3)).all()


@pytest.mark.parametrize(("current", "expected"), [(1.0, 1.0), (0.5, 0.5), (-1.0, 0.0), (3.0, 1.0)])
def test_persistence_factor_is_the_clipped_regression(current: float, expected: float) -> None:
    previous = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    assert persistence_factor(previous, current * previous) == pytest.approx(expected)
    assert persistence_factor(np.zeros(3, dtype=np.float32), previous) == 0.0


def test_fine_velocity_counts_pixels_not_blocks() -> None:
    velocity = torch.ones(1, 2, 4, 4)
    fine = fine_velocity(velocity, 3, (11, 12))
    assert fine.shape == (1, 2, 11, 12)
    assert torch.allclose(fine, torch.full_like(fine, 3.0))


def test_steady_detail_is_kept_and_moves_with_the_rain() -> None:
    frames = np.zeros((2, 12, 12), dtype=np.float32)
    frames[:, 4, 4] = 9.0  # the same core in both frames: rho = 1 without motion
    still, rho = moved_detail(frames, torch.zeros(1, 2, 4, 4), 3, 3)
    assert still.shape == (3, 12, 12)
    assert still.dtype == np.float32
    assert rho == pytest.approx(1.0)
    for lead in range(3):
        np.testing.assert_allclose(still[lead], sub_block_detail(frames[-1:], 3)[0], atol=1e-5)
    east = torch.zeros(1, 2, 4, 4)
    east[:, 0] = 1.0 / 3.0  # one pixel per step to the east
    frames[0] = np.roll(frames[1], -1, axis=1)  # it came from one pixel to the west
    moved, rho = moved_detail(frames, east, 3, 2)
    assert rho > 0.9  # the moved core still predicts the next frame (up to interpolation)
    assert np.unravel_index(np.argmax(moved[1]), moved[1].shape) == (4, 6)


def test_fading_detail_has_a_small_rho_but_is_moved_undamped() -> None:
    frames = np.zeros((2, 12, 12), dtype=np.float32)
    frames[0, 4, 4] = 9.0
    frames[1, 4, 4] = 4.5  # the core halved in one step: rho = 0.5
    moved, rho = moved_detail(frames, torch.zeros(1, 2, 4, 4), 3, 2)
    assert rho == pytest.approx(0.5)
    np.testing.assert_allclose(moved[1], sub_block_detail(frames[-1:], 3)[0], atol=1e-5)


def test_the_coverage_window_is_the_bounding_box_of_the_covered_pixels() -> None:
    covered = np.zeros((9, 12), dtype=bool)
    assert coverage_window(covered) is None  # nothing covered: the whole grid
    covered[2, 5] = covered[6, 3] = True
    assert coverage_window(covered) == (slice(2, 7), slice(3, 6))
    covered[0, 0] = covered[8, 11] = True
    assert coverage_window(covered) is None  # the whole grid


def test_moving_only_the_covered_window_gives_the_whole_grids_values_there() -> None:
    rng = np.random.default_rng(5)
    frames = rng.gamma(0.5, 2.0, (3, 40, 45)).astype(np.float32)  # (T, ny, nx)
    frames[:, :8] = np.nan  # no coverage in the first rows and last columns
    frames[:, :, 37:] = np.nan
    frames[:2, 10:14, 20:25] = 30.0  # the frame before the last covers a bit more
    velocity = torch.from_numpy(rng.normal(0.0, 0.6, (1, 2, 14, 15)).astype(np.float32))
    steps, factor = 4, 3
    window = coverage_window(np.isfinite(frames[-1]))
    assert window == (slice(8, 40), slice(0, 37))

    whole = fine_displacements(velocity, factor, (40, 45), steps)
    part = fine_displacements(velocity, factor, (40, 45), steps, window)
    first = whole[0]
    detail, rho = detail_along(frames, whole, factor)
    detail_w, rho_w = detail_along(frames, part, factor, window, first)
    moved = moved_observations(frames, whole, steps)
    moved_w = moved_observations(frames, part, steps, window, first)

    assert part.shape == (steps, 1, 2, 32, 37)
    torch.testing.assert_close(part, whole[..., 8:, :37], rtol=0, atol=0)
    assert rho_w == rho and 0 < rho < 1
    np.testing.assert_array_equal(detail_w[:, 8:, :37], detail[:, 8:, :37])
    assert not detail_w[:, :8].any() and not detail_w[:, :, 37:].any()
    np.testing.assert_array_equal(moved_w.last[:, 8:, :37], moved.last[:, 8:, :37])
    np.testing.assert_array_equal(moved_w.previous, moved.previous)
