"""Fractions Skill Score: pySTEPS agreement, hand values, pooling and NaN handling."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from nowcast.errors import ConfigError, InputError
from nowcast.verification.fss import FractionsSkillScore, scales_to_pixels, window_counts

with contextlib.redirect_stdout(io.StringIO()):
    from pysteps.verification.spatialscores import fss, fss_accum, fss_compute, fss_init

THRESHOLDS = (0.5, 2.0, 8.0)
SCALES = (1, 3, 5, 11, 31)


def _rain(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random rain rates (mm h-1), about half dry."""
    return np.where(rng.random(shape) < 0.5, 0.0, rng.gamma(0.6, 5.0, shape))


def test_single_fields_match_pysteps() -> None:
    rng = np.random.default_rng(1)
    fc, ob = _rain(rng, (40, 48)), _rain(rng, (40, 48))
    acc = FractionsSkillScore(THRESHOLDS, SCALES, n_leads=1)
    acc.update(0, fc, ob)
    ours = acc.scores()[0]
    for k, thr in enumerate(THRESHOLDS):
        for s, side in enumerate(SCALES):
            assert ours[k, s] == pytest.approx(fss(fc, ob, thr, side), abs=1e-9, rel=1e-9)


def test_pooled_fields_match_pysteps_accumulation() -> None:
    rng = np.random.default_rng(2)
    fields = [(_rain(rng, (24, 30)), _rain(rng, (24, 30))) for _ in range(3)]
    acc = FractionsSkillScore(THRESHOLDS, SCALES, n_leads=1)
    for fc, ob in fields:
        acc.update(0, fc, ob)
    for k, thr in enumerate(THRESHOLDS):
        for s, side in enumerate(SCALES):
            ref = fss_init(thr, side)
            for fc, ob in fields:
                fss_accum(ref, fc, ob)
            assert acc.scores()[0, k, s] == pytest.approx(fss_compute(ref), abs=1e-9, rel=1e-9)
            assert acc.sum_fo[0, k, s] == pytest.approx(ref["sum_fct_obs"], rel=1e-12)


def test_sparse_events_cropped_box_matches_pysteps() -> None:
    # few events, one on the grid edge: the sums are computed on the event box only
    rng = np.random.default_rng(8)
    fc = np.zeros((50, 60))
    ob = np.zeros((50, 60))
    fc[20:23, 30:34] = 6.0
    ob[24:26, 33:36] = 7.0
    ob[0, 59] = 9.0
    fc[45, 2] = 3.0 + rng.random()
    acc = FractionsSkillScore([2.0, 8.0], SCALES, n_leads=1)
    acc.update(0, fc, ob)
    for k, thr in enumerate((2.0, 8.0)):
        for s, side in enumerate(SCALES):
            ref = fss(fc, ob, thr, side)
            assert acc.scores()[0, k, s] == pytest.approx(ref, abs=1e-9, rel=1e-9)


def test_window_larger_than_field_matches_pysteps() -> None:
    rng = np.random.default_rng(3)
    fc, ob = _rain(rng, (9, 13)), _rain(rng, (9, 13))
    acc = FractionsSkillScore([1.0], [41], n_leads=1)
    acc.update(0, fc, ob)
    assert acc.scores()[0, 0, 0] == pytest.approx(fss(fc, ob, 1.0, 41), abs=1e-9)


def test_window_counts_equal_the_zero_padded_uniform_filter() -> None:
    events = np.random.default_rng(4).random((17, 23)) > 0.6
    for side, counts in zip((1, 3, 7, 25), window_counts(events, (1, 3, 7, 25)), strict=True):
        ref = uniform_filter(events.astype(float), side, mode="constant", cval=0.0) * side**2
        np.testing.assert_allclose(counts, ref, atol=1e-9)


def test_hand_computed_displaced_event() -> None:
    # one event pixel, displaced by two columns on a 1x3 grid
    fc = np.array([[1.0, 0.0, 0.0]])
    ob = np.array([[0.0, 0.0, 1.0]])
    acc = FractionsSkillScore([1.0], [1, 3], n_leads=1)
    acc.update(0, fc, ob)
    # n=1: no overlap -> 0. n=3: Pf = [1,1,0]/9, Po = [0,1,1]/9 -> 2*(1/81) / (4/81)
    np.testing.assert_allclose(acc.scores()[0, 0], [0.0, 0.5])
    np.testing.assert_allclose(acc.sum_ff[0, 0], [1.0, 2 / 81])


def test_no_events_is_nan_and_forecast_only_is_zero() -> None:
    acc = FractionsSkillScore([1.0], [1, 5], n_leads=2)
    acc.update(0, np.zeros((6, 6)), np.zeros((6, 6)))
    acc.update(1, np.full((6, 6), 3.0), np.zeros((6, 6)))
    scores = acc.scores()
    assert np.isnan(scores[0]).all()
    np.testing.assert_array_equal(scores[1], 0.0)


def test_pooling_equals_a_concatenation_separated_by_nan() -> None:
    rng = np.random.default_rng(5)
    fields = [(_rain(rng, (20, 20)), _rain(rng, (20, 20))) for _ in range(3)]
    pooled = FractionsSkillScore(THRESHOLDS, SCALES, n_leads=1)
    for fc, ob in fields:
        pooled.update(0, fc, ob)
    # a NaN gap of half the largest window is "no event" for the fractions and
    # is excluded from the sums, so it acts exactly as the zero padding of each field
    gap = np.full((20, max(SCALES) // 2), np.nan)
    fc_cat = np.hstack([part for fc, _ in fields for part in (fc, gap)])
    ob_cat = np.hstack([part for _, ob in fields for part in (ob, gap)])
    concat = FractionsSkillScore(THRESHOLDS, SCALES, n_leads=1)
    concat.update(0, fc_cat, ob_cat)
    np.testing.assert_allclose(concat.scores(), pooled.scores(), rtol=1e-12)
    assert concat.n_valid[0] == pooled.n_valid[0] == 3 * 400


def test_nan_pixels_no_event_and_excluded_from_sums() -> None:
    rng = np.random.default_rng(6)
    fc, ob = _rain(rng, (30, 30)), _rain(rng, (30, 30))
    fc[rng.random(fc.shape) < 0.1] = np.nan
    ob[:4] = np.nan
    valid = np.isfinite(fc) & np.isfinite(ob)
    acc = FractionsSkillScore([2.0], [5], n_leads=1)
    acc.update(0, fc, ob)
    pf = uniform_filter((np.nan_to_num(fc, nan=0.0) >= 2.0).astype(float), 5, mode="constant")
    po = uniform_filter((np.nan_to_num(ob, nan=0.0) >= 2.0).astype(float), 5, mode="constant")
    expected = 2 * np.sum((pf * po)[valid]) / (np.sum(pf[valid] ** 2) + np.sum(po[valid] ** 2))
    assert acc.scores()[0, 0, 0] == pytest.approx(expected, rel=1e-12)
    # pySTEPS keeps the NaN pixels in the sums, so it differs here (documented)
    assert abs(fss(fc, ob, 2.0, 5) - expected) > 1e-6


def test_merge_stacks_and_persistence() -> None:
    rng = np.random.default_rng(7)
    frame = _rain(rng, (16, 16))
    stack = np.repeat(frame[None], 3, 0)
    acc = FractionsSkillScore([1.0, 4.0], [1, 3], n_leads=2)
    acc.update_all(np.stack([stack, stack]), np.stack([stack, stack]))
    other = FractionsSkillScore([1.0, 4.0], [1, 3], n_leads=2)
    other.update(1, frame, frame)
    acc.merge(other)
    np.testing.assert_allclose(acc.scores(), 1.0)
    np.testing.assert_allclose(acc.overall(), 1.0)
    assert acc.n_valid.tolist() == [3 * 256, 4 * 256]
    base_rate = np.mean(frame >= 1.0)
    assert acc.useful_fss()[0, 0] == pytest.approx(0.5 + base_rate / 2)


def test_scales_to_pixels() -> None:
    assert scales_to_pixels([1, 2, 4, 10, 0.2], 1000.0) == [1, 3, 5, 11, 1]
    assert scales_to_pixels([10, 40], 500.0) == [21, 81]
    assert scales_to_pixels([5], 2000.0) == [3]
    with pytest.raises(ConfigError):
        scales_to_pixels([0.0], 1000.0)
    with pytest.raises(ConfigError):
        scales_to_pixels([10.0], -1.0)


def test_invalid_inputs() -> None:
    for bad in ([2], [0], [3.5], []):
        with pytest.raises(ConfigError):
            FractionsSkillScore([1.0], bad, n_leads=1)
    acc = FractionsSkillScore([1.0], [3], n_leads=1)
    with pytest.raises(InputError, match="2-D"):
        acc.update(0, np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="cannot merge"):
        acc.merge(FractionsSkillScore([1.0], [5], n_leads=1))
