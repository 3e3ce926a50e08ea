"""Blend weights: how forecasts combine their parts, and the least-squares fit of the weights."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nowcast.errors import CheckpointError
from nowcast.forecasting.blend import (
    BlendSums,
    BlendWeights,
    Components,
    box_least_squares,
    combine,
    fit_weights,
)
from nowcast.forecasting.ensemble import moved_observations


def _parts(seed: int = 0, steps: int = 3, rho: float = 0.5) -> Components:
    rng = np.random.default_rng(seed)
    advected = rng.gamma(1.0, 2.0, (steps, 6, 7)).astype(np.float32)
    network = (advected + rng.normal(0.0, 1.0, advected.shape)).astype(np.float32)
    detail = rng.normal(0.0, 0.5, advected.shape).astype(np.float32)
    last = np.concatenate([advected[:1], advected])  # an eulerian model's observations
    return Components(advected, network, detail, rho, moved_observations(last, None, steps))


def test_without_weights_the_detail_is_damped_by_rho_per_lead() -> None:
    parts = _parts(rho=0.5)
    fields = combine(parts, None)
    for k, damping in enumerate([0.5, 0.25, 0.125]):
        expected = np.maximum(parts.network[k] + damping * parts.detail[k], 0.0)
        np.testing.assert_allclose(fields[k], expected, rtol=1e-6)


def test_weights_take_part_of_the_change_and_the_last_lead_carries_on() -> None:
    parts = _parts()
    weights = BlendWeights(gain=(0.2, 0.6), detail=(1.0, 0.0))
    fields = combine(parts, weights)
    advected = parts.advected_frames()
    change = parts.network - advected
    np.testing.assert_allclose(
        fields[0], np.maximum(advected[0] + 0.2 * change[0] + parts.detail[0], 0), rtol=1e-5
    )
    for k in (1, 2):  # lead 3 was not fitted: it keeps lead 2's weights
        np.testing.assert_allclose(
            fields[k], np.maximum(advected[k] + 0.6 * change[k], 0), rtol=1e-5
        )
    assert (fields >= 0).all()


def test_the_fit_recovers_the_weights_that_made_the_observations() -> None:
    steps = 3
    truth = BlendWeights(gain=(0.3, 0.5, 0.8), detail=(0.7, 0.2, 0.0))
    sums = []
    for seed in (1, 2):  # two data sets, pooled
        acc = BlendSums(steps)
        for start in range(3):
            parts = _parts(seed=10 * seed + start, steps=steps)
            gain, detail = truth.at(steps)
            observed = (
                parts.advected
                + gain[:, None, None] * (parts.network - parts.advected)
                + detail[:, None, None] * parts.detail
            )
            observed[:, 0, 0] = np.nan  # no observation: left out of the fit
            acc.update(parts, observed)
        sums.append(acc)
    fitted = fit_weights(sums)
    np.testing.assert_allclose(fitted.gain, truth.gain, atol=1e-3)
    np.testing.assert_allclose(fitted.detail, truth.detail, atol=1e-3)
    assert sums[0].count.tolist() == [3 * (6 * 7 - 1)] * steps
    np.testing.assert_allclose(sums[0].mse(fitted), 0.0, atol=1e-6)


def test_weights_stay_between_zero_and_one() -> None:
    parts = _parts()
    acc = BlendSums(3)
    observed = parts.advected + 1.5 * (parts.network - parts.advected) - 0.8 * parts.detail
    acc.update(parts, observed)
    fitted = fit_weights([acc])
    assert fitted.gain == (1.0, 1.0, 1.0)
    assert fitted.detail == (0.0, 0.0, 0.0)


def test_mse_of_the_sums_is_the_mse_of_the_combined_forecast() -> None:
    parts = _parts(seed=3)
    advected = parts.advected_frames()
    observed = advected + np.random.default_rng(4).normal(0, 1, advected.shape)
    acc = BlendSums(3)
    acc.update(parts, observed)
    weights = BlendWeights((0.4, 0.5, 0.6), (0.3, 0.2, 0.1))
    gain, detail = weights.at(3)
    direct = (
        parts.advected
        + gain[:, None, None] * (parts.network - parts.advected)
        + detail[:, None, None] * parts.detail
        - observed
    )
    np.testing.assert_allclose(acc.mse(weights), (direct**2).mean(axis=(1, 2)), rtol=1e-6)


@pytest.mark.parametrize("seed", range(20))
def test_box_least_squares_is_the_minimum_over_the_box(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(5, 2))
    normal, rhs = m.T @ m, rng.normal(size=2) * 2

    def objective(x: np.ndarray) -> float:
        return float(x @ normal @ x - 2 * rhs @ x)

    best = np.array(box_least_squares(normal, rhs))
    assert ((best >= 0) & (best <= 1)).all()
    grid = np.linspace(0.0, 1.0, 101)
    brute = min(objective(np.array(x)) for x in itertools.product(grid, grid))
    assert objective(best) <= brute + 1e-9


def test_a_part_that_is_always_zero_gets_no_weight() -> None:
    normal = np.array([[2.0, 0.0], [0.0, 0.0]])
    assert box_least_squares(normal, np.array([1.0, 0.0])) == (0.5, 0.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"gain": [0.5]}, "malformed forecast.blend"),
        ({"gain": [0.5, 0.4], "detail": [0.1]}, "as many gains"),
        ({"gain": ["x"], "detail": [0.1]}, "malformed forecast.blend"),
    ],
)
def test_a_malformed_blend_entry_is_a_checkpoint_error(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(CheckpointError, match=message):
        BlendWeights.from_dict(data)


def test_weights_round_trip_through_a_dict() -> None:
    weights = BlendWeights((0.25, 1.0), (0.5, 0.0))
    assert BlendWeights.from_dict(weights.to_dict()) == weights


def test_combining_into_the_network_fields_gives_the_same_forecast() -> None:
    for weights in (None, BlendWeights(gain=(0.2, 0.6), detail=(1.0, 0.0))):
        expected = combine(_parts(seed=3), weights)
        parts = _parts(seed=3)

        fields = combine(parts, weights, out=parts.network)

        assert fields is parts.network
        np.testing.assert_array_equal(fields, expected)


def test_parts_without_the_advected_frame_serve_only_an_uncalibrated_blend() -> None:
    full = _parts(seed=4)
    parts = Components(None, full.network.copy(), full.detail, full.rho, full.moved)

    np.testing.assert_array_equal(combine(parts, None), combine(full, None))
    with pytest.raises(ValueError, match="without the advected frame"):
        combine(parts, BlendWeights(gain=(0.5,), detail=(1.0,)))
