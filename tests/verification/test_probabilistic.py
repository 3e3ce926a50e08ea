"""Probabilistic scores: hand-computed cases, pySTEPS, pooling, NaN and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nowcast.errors import ConfigError, InputError
from nowcast.verification.categorical import ContingencyTable
from nowcast.verification.ensemble_formulas import (
    brier_from_counts,
    fair_crps,
    observation_ranks,
    reliability_curve,
    roc_area_from_counts,
    roc_curve_from_counts,
)
from nowcast.verification.probabilistic import EnsembleScores, check_members


def _pooled(members: np.ndarray, observed: np.ndarray, thresholds=(1.0,), seed: int = 0):
    """One lead: members ``(M, n)`` and observations ``(n,)`` in a fresh accumulator."""
    scores = EnsembleScores(thresholds, 1, members.shape[0], seed=seed)
    scores.update(0, members, observed)
    return scores


def _brute_fair_crps(members: np.ndarray, observed: np.ndarray) -> np.ndarray:
    m = members.shape[0]
    error = np.mean(np.abs(members - observed), axis=0)
    pairs = np.abs(members[:, None] - members[None]).sum(axis=(0, 1))
    return error - pairs / (2 * m * (m - 1))


# --- CRPS ---


def test_fair_crps_of_two_and_three_members_by_hand() -> None:
    # [1, 3] around 2: mean |x - y| = 1, sum_ij |xi - xj| = 4, 4 / (2 * 2 * 1) = 1.
    assert fair_crps(np.array([[1.0], [3.0]]), np.array([2.0])) == pytest.approx([0.0])
    # [0, 1, 3] and 2: 4/3 - 12 / (2 * 3 * 2) = 1/3.
    assert fair_crps(np.array([[3.0], [0.0], [1.0]]), np.array([2.0])) == pytest.approx([1 / 3])
    # Two equal members are one value: the absolute error.
    assert fair_crps(np.array([[4.0], [4.0]]), np.array([1.5])) == pytest.approx([2.5])


def test_fair_crps_equals_the_double_sum_on_random_members() -> None:
    rng = np.random.default_rng(3)
    members, observed = rng.gamma(0.5, 2.0, (7, 500)), rng.gamma(0.5, 2.0, 500)
    np.testing.assert_allclose(fair_crps(members, observed), _brute_fair_crps(members, observed))


def test_fair_crps_is_pysteps_crps_less_the_finite_ensemble_term() -> None:
    """pySTEPS' CRPS is Hersbach's (the empirical CDF): fair = it - sum|xi - xj| / (2 M^2 (M-1))."""
    probscores = pytest.importorskip("pysteps.verification.probscores")
    rng = np.random.default_rng(4)
    m = 6
    members, observed = rng.gamma(0.6, 2.0, (m, 30, 40)), rng.gamma(0.6, 2.0, (30, 40))
    scores = EnsembleScores([1.0], 1, m)
    scores.update_all(members[:, None], observed[None])
    flat = members.reshape(m, -1)
    pairs = np.abs(flat[:, None] - flat[None]).sum(axis=(0, 1))
    expected = probscores.CRPS(members, observed) - pairs.mean() / (2 * m**2 * (m - 1))
    assert scores.scores()["crps"][0] == pytest.approx(expected, rel=1e-12)


def test_one_member_has_no_fair_crps_and_members_must_be_0_or_at_least_2() -> None:
    with pytest.raises(ConfigError, match="at least 2 members"):
        fair_crps(np.ones((1, 3)), np.ones(3))
    for bad in (-1, 1):
        with pytest.raises(ConfigError, match="--members must be 0 .* or at least 2"):
            check_members(bad, "--members")
    assert check_members(0) == 0 and check_members(2) == 2
    with pytest.raises(ConfigError):
        EnsembleScores([1.0], 2, 0)


# --- Brier score, decomposition, ROC, reliability ---


def test_brier_and_decomposition_by_hand() -> None:
    # Two members, threshold 1: probabilities 0, 1, 1/2, 0; events 0, 1, 1, 1.
    members = np.array([[0.0, 2.0, 2.0, 0.0], [0.0, 2.0, 0.0, 0.0]])
    observed = np.array([0.0, 2.0, 2.0, 5.0])
    scores = _pooled(members, observed).scores()
    assert scores["brier"][0, 0] == pytest.approx((0.25 + 1.0) / 4)
    assert scores["reliability"][0, 0] == pytest.approx((2 * 0.25 + 0.25) / 4)
    assert scores["resolution"][0, 0] == pytest.approx((2 * 0.0625 + 0.0625 + 0.0625) / 4)
    assert scores["uncertainty"][0, 0] == pytest.approx(0.75 * 0.25)
    # ROC points (1, 1), (0, 2/3), (0, 1/3), (0, 0): area (1 + 2/3) / 2.
    assert scores["roc_auc"][0, 0] == pytest.approx(5 / 6)


def test_brier_equals_the_mean_squared_probability_error_and_its_parts_sum_exactly() -> None:
    rng = np.random.default_rng(5)
    members, observed = rng.gamma(0.5, 2.0, (5, 4000)), rng.gamma(0.5, 2.0, 4000)
    thresholds = (0.5, 2.0, 8.0)
    scores = _pooled(members, observed, thresholds).scores()
    for k, t in enumerate(thresholds):
        p = np.mean(members >= t, axis=0)
        assert scores["brier"][0, k] == pytest.approx(np.mean((p - (observed >= t)) ** 2))
        parts = scores["reliability"] - scores["resolution"] + scores["uncertainty"]
        assert scores["brier"][0, k] == pytest.approx(parts[0, k], abs=1e-15)


def test_roc_area_of_a_perfect_a_constant_and_a_useless_forecast() -> None:
    observed = np.array([0.0, 0.0, 3.0, 3.0, 0.0, 3.0])
    perfect = np.stack([observed, observed, observed])
    assert _pooled(perfect, observed).scores()["roc_auc"][0, 0] == 1.0
    constant = np.full((4, observed.size), 2.0)  # probability 1 everywhere: the diagonal
    assert _pooled(constant, observed).scores()["roc_auc"][0, 0] == 0.5
    rng = np.random.default_rng(6)
    noise, obs = rng.gamma(0.5, 2.0, (10, 50_000)), rng.gamma(0.5, 2.0, 50_000)
    assert _pooled(noise, obs).scores()["roc_auc"][0, 0] == pytest.approx(0.5, abs=0.01)
    backwards = np.stack([np.where(observed > 1, 0.0, 3.0)] * 2)
    assert _pooled(backwards, observed).scores()["roc_auc"][0, 0] == 0.0


def test_roc_and_brier_are_nan_without_events_or_pixels() -> None:
    scores = _pooled(np.full((3, 4), 2.0), np.zeros(4)).scores()
    assert np.isnan(scores["roc_auc"][0, 0])  # no event observed: no POD
    assert scores["brier"][0, 0] == 1.0
    empty = EnsembleScores([1.0], 1, 3).scores()
    assert np.isnan(empty["brier"][0, 0]) and np.isnan(empty["crps"][0])


def test_roc_area_equals_pysteps_with_a_probability_threshold_per_bin() -> None:
    probscores = pytest.importorskip("pysteps.verification.probscores")
    rng = np.random.default_rng(7)
    m = 8
    truth = rng.gamma(0.5, 2.0, 20_000)
    members = truth * rng.lognormal(0.0, 0.8, (m, truth.size))
    scores = _pooled(members, truth, (1.0,))
    # Thresholds k / M from linspace; a probability nudged up is not lost to rounding.
    probability = np.mean(members >= 1.0, axis=0) + 1e-9
    pofd, pod, area = probscores.ROC_curve(probability, truth, 1.0, m + 1, compute_area=True)
    assert scores.scores()["roc_auc"][0, 0] == pytest.approx(area, rel=1e-12)
    ours_pofd, ours_pod = roc_curve_from_counts(scores.forecasts[0, 0], scores.events[0, 0])
    np.testing.assert_allclose(ours_pofd[:-1], pofd)
    np.testing.assert_allclose(ours_pod[:-1], pod)


def test_reliability_curve_equals_pysteps_reldiag_with_a_bin_per_probability() -> None:
    probscores = pytest.importorskip("pysteps.verification.probscores")
    rng = np.random.default_rng(8)
    m = 6
    truth = rng.gamma(0.5, 2.0, 20_000)
    members = truth * rng.lognormal(0.0, 0.8, (m, truth.size))
    forecasts, events = _pooled(members, truth, (1.0, 4.0)).reliability()
    for k, t in enumerate((1.0, 4.0)):
        probability = np.mean(members >= t, axis=0)
        mean_p, frequency = probscores.reldiag(probability, truth, t, n_bins=m + 1, min_count=1)
        ours_p, ours_f = reliability_curve(forecasts[k], events[k])
        filled = forecasts[k] > 0
        np.testing.assert_allclose(ours_f[filled], np.asarray(frequency)[filled])
        np.testing.assert_allclose(ours_p[filled], np.asarray(mean_p)[filled])


def test_a_deterministic_forecast_is_one_member_matching_the_contingency_table() -> None:
    rng = np.random.default_rng(9)
    forecast, observed = rng.gamma(0.5, 2.0, (2, 30, 30)), rng.gamma(0.5, 2.0, (2, 30, 30))
    scores = EnsembleScores([1.0, 3.0], 2, 1)
    scores.update_all(forecast[None], observed)
    table = ContingencyTable([1.0, 3.0], 2)
    table.update_all(forecast, observed)
    values, counts = scores.scores(), table.scores()
    n = 900
    np.testing.assert_allclose(values["brier"], (table.misses + table.false_alarms) / n)
    np.testing.assert_allclose(values["roc_auc"], (1 + counts["pod"] - counts["pofd"]) / 2)
    assert np.isnan(values["crps"]).all() and np.isnan(values["spread_skill"]).all()
    with pytest.raises(ConfigError, match="rank histogram needs at least 2"):
        scores.rank_histogram()


# --- Rank histogram ---


def test_rank_histogram_of_observations_from_the_members_distribution_is_flat() -> None:
    rng = np.random.default_rng(10)
    m, n = 9, 200_000
    members, observed = rng.gamma(2.0, 2.0, (m, n)), rng.gamma(2.0, 2.0, n)
    counts = _pooled(members, observed, (0.1,)).rank_histogram()
    assert counts.sum() == n
    np.testing.assert_allclose(counts / n, 1 / (m + 1), atol=0.004)


def test_rank_histogram_equals_pysteps_without_ties() -> None:
    ensscores = pytest.importorskip("pysteps.verification.ensscores")
    rng = np.random.default_rng(11)
    members, observed = rng.normal(5.0, 2.0, (5, 40, 40)), rng.normal(6.0, 2.0, (40, 40))
    ours = _pooled(members.reshape(5, -1), observed.ravel(), (-100.0,)).rank_histogram()
    expected = ensscores.rankhist(members, observed, X_min=None, normalize=False)
    np.testing.assert_array_equal(ours, expected)


def test_rank_histogram_ties_and_dry_pixels_follow_pysteps_x_min() -> None:
    ensscores = pytest.importorskip("pysteps.verification.ensscores")
    rng = np.random.default_rng(12)
    n = 60_000
    members = np.where(rng.random((4, n)) < 0.5, 0.0, rng.gamma(1.0, 2.0, (4, n)))
    observed = np.where(rng.random(n) < 0.5, 0.0, rng.gamma(1.0, 2.0, n))
    ours = _pooled(members, observed, (0.1, 1.0)).rank_histogram()
    np.random.seed(0)  # pySTEPS breaks ties with the global generator
    expected = ensscores.rankhist(members, observed, X_min=0.1, normalize=False)
    assert ours.sum() == expected.sum() < n  # the same dry pixels left out
    np.testing.assert_allclose(ours / ours.sum(), expected / expected.sum(), atol=0.01)


def test_a_tied_observation_gets_a_uniform_rank_among_its_ties() -> None:
    # Dry observation; members 0, 0, 0.05 (all dry: tied with it below 0.1) and 3.
    members = np.repeat(np.array([[0.0], [0.0], [0.05], [3.0]]), 40_000, axis=1)
    ranks = observation_ranks(members, np.zeros(40_000), 0.1, np.random.default_rng(0))
    counts = np.bincount(ranks, minlength=5)
    assert counts[4] == 0
    np.testing.assert_allclose(counts[:4] / 40_000, 0.25, atol=0.01)
    dry = observation_ranks(np.zeros((3, 5)), np.zeros(5), 0.1, np.random.default_rng(0))
    assert dry.size == 0  # dry everywhere: not ranked


def test_rank_histogram_is_the_same_for_the_same_seed() -> None:
    members = np.zeros((3, 1000))
    members[0] = 2.0
    observed = np.where(np.arange(1000) % 2 == 0, 0.0, 2.0)  # ties everywhere
    first = _pooled(members, observed, (0.1,), seed=5).rank_histogram()
    again = _pooled(members, observed, (0.1,), seed=5).rank_histogram()
    np.testing.assert_array_equal(first, again)


# --- Spread-skill ---


def test_spread_skill_of_a_perfect_ensemble_is_one() -> None:
    rng = np.random.default_rng(13)
    m, n = 20, 100_000
    centre = rng.gamma(2.0, 3.0, n)  # the forecast distribution differs per pixel
    members = centre + rng.normal(0.0, 1.5, (m, n))
    observed = centre + rng.normal(0.0, 1.5, n)
    scores = _pooled(members, observed).scores()
    assert scores["spread_skill"][0] == pytest.approx(1.0, abs=0.02)
    under = _pooled(centre + 0.3 * (members - centre), observed).scores()
    assert under["spread_skill"][0] < 0.5  # too little spread


def test_spread_skill_by_hand() -> None:
    # Members 1, 3 around 2 (variance 2, mean error 0.5 at both pixels).
    members = np.array([[1.0, 1.0], [3.0, 3.0]])
    scores = _pooled(members, np.array([2.5, 1.5])).scores()
    assert scores["spread_skill"][0] == pytest.approx(np.sqrt(1.5 * 2.0) / 0.5)


# --- Pooling, NaN, shapes ---


def _assert_same_sums(a: EnsembleScores, b: EnsembleScores, ranks: bool = True) -> None:
    for name in EnsembleScores.SUMS:
        if name == "rank_counts" and not ranks:
            continue
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12)


def test_two_updates_equal_one_update_over_the_concatenated_pixels() -> None:
    rng = np.random.default_rng(14)
    members = np.where(rng.random((5, 3000)) < 0.4, 0.0, rng.gamma(1.0, 2.0, (5, 3000)))
    observed = np.where(rng.random(3000) < 0.4, 0.0, rng.gamma(1.0, 2.0, 3000))
    split = EnsembleScores([0.5, 2.0], 1, 5)
    split.update(0, members[:, :1200], observed[:1200])
    split.update(0, members[:, 1200:], observed[1200:])
    _assert_same_sums(split, _pooled(members, observed, (0.5, 2.0)))  # ties drawn alike too
    first = _pooled(members[:, :1200], observed[:1200], (0.5, 2.0))
    second = _pooled(members[:, 1200:], observed[1200:], (0.5, 2.0))
    _assert_same_sums(first.merge(second), split, ranks=False)  # two generators: other draws
    with pytest.raises(ValueError, match="cannot merge ensemble scores of 4 members"):
        first.merge(EnsembleScores([0.5, 2.0], 1, 4))


def test_pixels_with_a_nan_member_or_observation_are_left_out() -> None:
    rng = np.random.default_rng(15)
    members, observed = rng.gamma(1.0, 2.0, (4, 2, 10, 10)), rng.gamma(1.0, 2.0, (2, 10, 10))
    members[2, 0, 0, :3] = np.nan
    observed[1, 5, :] = np.nan
    scores = EnsembleScores([1.0], 2, 4)
    scores.update_all(members, observed)
    np.testing.assert_array_equal(scores.n, [97, 90])
    clean = EnsembleScores([1.0], 1, 4)
    clean.update(0, members[:, 0].reshape(4, -1)[:, 3:], observed[0].ravel()[3:])
    assert scores.scores()["crps"][0] == pytest.approx(clean.scores()["crps"][0])
    assert scores.rank_counts[0].sum() <= 97


def test_members_of_the_wrong_count_or_shape_are_input_errors() -> None:
    scores = EnsembleScores([1.0], 2, 3)
    with pytest.raises(InputError, match="expected 3 members, got 2"):
        scores.update_all(np.zeros((2, 2, 4, 4)), np.zeros((2, 4, 4)))
    with pytest.raises(InputError, match="do not match observed shape"):
        scores.update_all(np.zeros((3, 2, 4, 4)), np.zeros((2, 4, 5)))
    with pytest.raises(InputError, match="expected 2 lead times, got 3"):
        scores.update_all(np.zeros((3, 3, 4, 4)), np.zeros((3, 4, 4)))


# --- Properties ---

_counts = st.integers(1, 6).flatmap(
    lambda m: st.lists(
        st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=m + 1, max_size=m + 1
    )
)


@settings(max_examples=200, deadline=None)
@given(_counts)
def test_brier_parts_sum_exactly_and_roc_area_is_in_0_1(bins: list[tuple[int, int]]) -> None:
    forecasts = np.array([a + b for a, b in bins])
    events = np.array([b for _, b in bins])
    brier = brier_from_counts(forecasts, events)
    if forecasts.sum() == 0:
        assert np.isnan(brier["brier"])
        return
    parts = brier["reliability"] - brier["resolution"] + brier["uncertainty"]
    assert brier["brier"] == pytest.approx(parts, abs=1e-12)
    assert 0.0 <= brier["brier"] <= 1.0
    area = roc_area_from_counts(forecasts, events)
    assert np.isnan(area) or 0.0 <= area <= 1.0 + 1e-12
    assert events.sum() in (0, forecasts.sum()) or not np.isnan(area)


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 8), st.integers(0, 2**31 - 1))
def test_fair_crps_is_the_double_sum_for_any_member_count(m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    members, observed = rng.normal(0.0, 3.0, (m, 20)), rng.normal(0.0, 3.0, 20)
    np.testing.assert_allclose(
        fair_crps(members, observed), _brute_fair_crps(members, observed), atol=1e-12
    )
