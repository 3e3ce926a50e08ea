"""seam_ratio: about 1 without a patch grid, far from 1 with one, whatever the scale."""

from __future__ import annotations

import numpy as np
import pytest

from nowcast.synthetic.generate import synthetic_rain
from nowcast.verification.seams import seam_ratio


def test_rain_without_a_patch_grid_is_within_the_20_percent_tolerance() -> None:
    rain = synthetic_rain(4, (96, 96), seed=3)
    for patch in (2, 4, 12):
        assert 0.8 < seam_ratio(rain, patch) < 1.2


def test_blocks_of_the_patch_size_are_all_seam() -> None:
    rng = np.random.default_rng(0)
    blocks = np.kron(rng.random((2, 8, 8)), np.ones((4, 4)))  # constant 4 x 4 blocks
    assert np.isnan(seam_ratio(blocks, 4))  # no difference inside a patch at all
    noisy = blocks + 0.01 * rng.random(blocks.shape)
    assert seam_ratio(noisy, 4) > 10


def test_a_pattern_inside_every_patch_reads_below_one_and_scale_does_not_matter() -> None:
    rain = synthetic_rain(2, (64, 64), seed=5)
    stripes = np.tile(np.array([0.0, 1.0, 0.0, 0.0]), 16)  # a bump inside each 4-pixel patch
    patterned = rain + stripes[None, None, :]
    assert seam_ratio(patterned, 4) < 0.8
    assert seam_ratio(10 * patterned, 4) == pytest.approx(seam_ratio(patterned, 4))


def test_pairs_with_no_data_are_left_out() -> None:
    rain = synthetic_rain(2, (32, 32), seed=1).astype(np.float64)
    holed = rain.copy()
    holed[:, :, 5] = np.nan  # a column without coverage
    assert np.isfinite(seam_ratio(holed, 4))
    assert np.isnan(seam_ratio(np.full((8, 8), np.nan), 4))
    with pytest.raises(ValueError, match=">= 2"):
        seam_ratio(rain, 1)
