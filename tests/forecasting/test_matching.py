"""Probability matching: the forecast's ranking, the target's values, nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nowcast.forecasting.matching import match_field, match_values, stable_order


def test_the_wettest_key_gets_the_largest_value() -> None:
    keys = np.array([3.0, 1.0, 2.0, 0.5])
    target = np.array([10.0, 0.0, 30.0, 20.0])

    out = match_values(keys, target)

    np.testing.assert_array_equal(out, [30.0, 10.0, 20.0, 0.0])
    assert out.dtype == np.float32


@settings(max_examples=50, deadline=None)
@given(
    keys=st.lists(st.floats(-100.0, 100.0, width=32), min_size=1, max_size=60),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_result_is_exactly_the_targets_values_in_the_keys_order(
    keys: list[float], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    key = np.asarray(keys, dtype=np.float32)
    target = rng.gamma(0.5, 2.0, size=key.size).astype(np.float32)
    target[rng.random(key.size) < 0.3] = 0.0

    out = match_values(key, target)

    np.testing.assert_array_equal(np.sort(out), np.sort(target))  # the same multiset
    # The order of the keys is kept: a larger key never gets a smaller value.
    order = np.argsort(key, kind="stable")
    assert np.all(np.diff(out[order]) >= 0)


def test_equal_keys_are_ranked_by_position() -> None:
    out = match_values(np.zeros(4), np.array([4.0, 1.0, 3.0, 2.0]))

    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0, 4.0])


def test_tie_break_orders_equal_keys_only() -> None:
    covered = np.ones((2, 3), dtype=bool)
    keys = np.array([[0.0, 0.0, 0.0], [2.0, 1.0, 0.0]], dtype=np.float32)
    tie_break = np.array([[5.0, 9.0, 1.0], [0.0, 0.0, 7.0]], dtype=np.float32)
    target = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], dtype=np.float32)

    out = match_field(keys, target, covered, tie_break=tie_break)

    # Keys 2 > 1 > the four zeros, ranked among themselves by the tie-break (9 > 7 > 5 > 1).
    np.testing.assert_array_equal(out, [[1.0, 3.0, 0.0], [5.0, 4.0, 2.0]])
    without = match_field(keys, target, covered)  # by position: (0,0), (0,1), (0,2), (1,2)
    np.testing.assert_array_equal(without, [[0.0, 1.0, 2.0], [5.0, 4.0, 3.0]])


@pytest.mark.parametrize("small", [1e-10, 1e-6, 1e-3])
def test_tie_break_never_reverses_distinct_small_keys(small: float) -> None:
    keys = np.array([[0.0, small, 2 * small]], dtype=np.float32)
    tie_break = np.array([[100.0, 50.0, 0.0]], dtype=np.float32)
    target = np.array([[0.0, 1.0, 2.0]], dtype=np.float32)

    out = match_field(keys, target, np.ones((1, 3), dtype=bool), tie_break=tie_break)

    np.testing.assert_array_equal(out, [[0.0, 1.0, 2.0]])


def test_a_constant_tie_break_keeps_the_order_by_position() -> None:
    covered = np.ones((1, 4), dtype=bool)
    keys = np.zeros((1, 4), dtype=np.float32)
    target = np.array([[3.0, 2.0, 1.0, 0.0]], dtype=np.float32)

    out = match_field(keys, target, covered, tie_break=np.full((1, 4), 7.0))

    np.testing.assert_array_equal(out, [[0.0, 1.0, 2.0, 3.0]])


def test_pixels_without_coverage_are_nan_and_give_no_value() -> None:
    keys = np.array([[1.0, 5.0], [3.0, 2.0]], dtype=np.float32)
    target = np.array([[10.0, 99.0], [20.0, 30.0]], dtype=np.float32)
    covered = np.array([[True, False], [True, True]])

    out = match_field(keys, target, covered)

    assert out.dtype == np.float32
    assert np.isnan(out[0, 1]) and np.isfinite(out[covered]).all()
    np.testing.assert_array_equal(out[covered], [10.0, 30.0, 20.0])  # 99 is not given out


def test_nothing_covered_is_all_nan() -> None:
    out = match_field(
        np.ones((2, 2)), np.ones((2, 2)), np.zeros((2, 2), dtype=bool), np.ones((2, 2))
    )

    assert out.shape == (2, 2) and np.isnan(out).all()


def test_keys_and_target_of_different_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"keys \(3,\) and target \(4,\) differ in size"):
        match_values(np.zeros(3), np.zeros(4))


# infinities, -0.0 and subnormals included; frequent ties
_FLOATS32 = st.one_of(st.sampled_from([-0.0, 0.0, 1.0]), st.floats(width=32, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_FLOATS32, st.sampled_from([-1.5, -0.0, 0.0, 2.0, 7.0])), max_size=60))
def test_stable_order_is_the_order_of_lexsort(pairs: list[tuple[float, float]]) -> None:
    primary = np.array([p for p, _ in pairs], dtype=np.float32)
    secondary = np.array([s for _, s in pairs], dtype=np.float32)

    np.testing.assert_array_equal(
        stable_order(secondary, primary), np.lexsort((secondary, primary))
    )
    np.testing.assert_array_equal(stable_order(primary), np.argsort(primary, kind="stable"))


def test_stable_order_ties_negative_zero_with_zero_and_keeps_position() -> None:
    keys = np.array([0.0, -0.0, -1.0, 0.0, -0.0], dtype=np.float32)

    np.testing.assert_array_equal(stable_order(keys), [2, 0, 1, 3, 4])


def test_stable_order_of_other_dtypes_is_lexsort() -> None:
    keys = np.array([1e-300, 0.0, -1e-300])  # float64: distinct values float32 would merge

    np.testing.assert_array_equal(stable_order(keys), [2, 1, 0])
