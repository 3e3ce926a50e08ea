"""Masked losses against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from nowcast.data.transforms import Linear, LogRain
from nowcast.errors import ConfigError
from nowcast.training.losses import (
    SoftCSILoss,
    hko_weights,
    lead_weights,
    loss_names,
    make_loss,
)


def _bt(values: list[float]) -> torch.Tensor:
    """A (1, T, 1, 1, 1) tensor from a list (one pixel per frame)."""
    return torch.tensor(values, dtype=torch.float32).reshape(1, -1, 1, 1, 1)


PRED = _bt([1.0, 2.0, 0.0, 5.0])
TARGET = _bt([0.0, 4.0, 0.5, 100.0])
MASK = _bt([1, 1, 1, 0]).bool()  # the last pixel (error 95) is no coverage


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mse", (1 + 4 + 0.25) / 3),
        ("mae", (1 + 2 + 0.5) / 3),
        ("mse+mae", (1 + 4 + 0.25) / 3 + (1 + 2 + 0.5) / 3),
    ],
)
def test_plain_losses_average_valid_pixels_only(name: str, expected: float) -> None:
    loss = make_loss(name, None)(PRED, TARGET, MASK)
    assert loss.item() == pytest.approx(expected)


def test_float_mask_works_like_bool() -> None:
    loss = make_loss("mae")(PRED, TARGET, MASK.float())
    assert loss.item() == pytest.approx(3.5 / 3)


def test_hko_weights() -> None:
    rates = torch.tensor([0.0, 1.99, 2.0, 4.9, 5.0, 10.0, 29.0, 30.0, 200.0])
    assert hko_weights(rates).tolist() == [1, 1, 2, 2, 5, 10, 10, 30, 30]


def test_balanced_losses_weight_by_the_target_rate_in_mm_per_hour() -> None:
    transform = Linear(max_rate=100.0)  # model scale = R / 100
    target = _bt([0.01, 0.03, 0.07, 0.5, 0.2])  # 1, 3, 7, 50, 20 mm/h -> weights 1, 2, 5, 30, 10
    pred = target + _bt([0.1, 0.1, -0.2, 0.1, 0.3])
    mask = _bt([1, 1, 1, 1, 0]).bool()
    mse = make_loss("balanced_mse", transform)(pred, target, mask)
    mae = make_loss("balanced_mae", transform)(pred, target, mask)
    assert mse.item() == pytest.approx((1 * 0.01 + 2 * 0.01 + 5 * 0.04 + 30 * 0.01) / 4)
    assert mae.item() == pytest.approx((1 * 0.1 + 2 * 0.1 + 5 * 0.2 + 30 * 0.1) / 4)


def test_balanced_loss_inverts_the_log_transform() -> None:
    transform = LogRain(threshold=0.1, max_rate=100.0)
    target = transform.forward(_bt([0.0, 40.0]))  # weights 1 and 30
    pred = target + 0.5
    loss = make_loss("balanced_mse", transform)(pred, target, torch.ones_like(target).bool())
    assert loss.item() == pytest.approx((1 * 0.25 + 30 * 0.25) / 2)


def test_bce_with_logits() -> None:
    logits = _bt([0.0, 2.0])
    target = _bt([1.0, 0.0])
    loss = make_loss("bce")(logits, target, torch.ones_like(logits))
    expected = (math.log(2) + math.log(1 + math.exp(2))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name", loss_names())
def test_all_masked_batch_gives_zero_without_nan(name: str) -> None:
    pred = torch.rand(2, 3, 1, 4, 4, requires_grad=True)
    target = torch.rand(2, 3, 1, 4, 4)
    loss = make_loss(name, LogRain(0.1, 100.0))(pred, target, torch.zeros_like(target).bool())
    assert loss.item() == 0.0
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()


def test_gradient_flows_only_from_valid_pixels() -> None:
    pred = torch.zeros(1, 2, 1, 1, 1, requires_grad=True)
    make_loss("mse")(pred, torch.ones_like(pred), _bt([1, 0]).bool()).backward()
    assert pred.grad is not None
    assert pred.grad.flatten().tolist() == [-2.0, 0.0]


def test_bad_loss_names_and_missing_transform_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown loss 'l3'.*balanced_mse"):
        make_loss("l3")
    with pytest.raises(ConfigError, match="transform"):
        make_loss("balanced_mse", None)


def _soft_csi_by_hand(pred: list[float], seen: list[bool], level: float, width: float) -> float:
    """The soft CSI of one lead time from its definition, in plain Python."""
    yes = [1 / (1 + math.exp(-(p - level) / width)) for p in pred]
    hits = sum(y for y, s in zip(yes, seen, strict=True) if s)
    return hits / (sum(yes) + sum(seen) - hits)


def test_soft_csi_pools_counts_per_lead_time() -> None:
    transform = Linear(max_rate=100.0)  # 1 mm/h -> 0.01; width = 1.4 x 0.01 - 0.01
    level, width = 0.01, 0.004
    pred = torch.tensor([[0.02, 0.0], [0.005, 0.03]]).reshape(1, 2, 1, 1, 2)  # 2 leads x 2 px
    target = torch.tensor([[0.05, 0.0], [0.0, 0.01]]).reshape(1, 2, 1, 1, 2)
    loss = SoftCSILoss(transform, (1.0,))(pred, target, torch.ones_like(pred).bool())
    lead1 = _soft_csi_by_hand([0.02, 0.0], [True, False], level, width)
    lead2 = _soft_csi_by_hand([0.005, 0.03], [False, True], level, width)
    assert loss.item() == pytest.approx(1 - (lead1 + lead2) / 2, rel=1e-5)


def test_soft_csi_ignores_masked_pixels_and_leads_without_observed_rain() -> None:
    transform = LogRain(0.1, 100.0)
    target = transform.forward(torch.tensor([[4.0, 0.0], [0.0, 0.0]]).reshape(1, 2, 1, 1, 2))
    pred = target.clone()
    covered = torch.ones_like(target).bool()
    csi = SoftCSILoss(transform)
    base = csi(pred, target, covered).item()
    pred[0, 1] = 1.0  # heavy rain forecast at the dry second lead: no CSI defined there
    assert csi(pred, target, covered).item() == pytest.approx(base)
    uncovered = covered.clone()
    uncovered[0, 0, 0, 0, 1] = False
    before = csi(pred, target, uncovered).item()
    pred[0, 0, 0, 0, 1] = 1.0  # heavy rain forecast on a dry pixel of the first lead
    assert csi(pred, target, covered).item() > base + 0.3  # a false alarm where covered
    assert csi(pred, target, uncovered).item() == pytest.approx(before)  # nothing where not


def test_soft_csi_prefers_a_displaced_cell_to_a_faded_one_unlike_the_balanced_mse() -> None:
    """The hedge: the balanced MSE scores a faded cell better than a sharp one a pixel off."""
    transform = LogRain(0.1, 100.0)
    rate = torch.zeros(1, 1, 1, 8, 8)
    rate[..., 2:6, 2:6] = 3.0  # a 4 x 4 cell of 3 mm/h
    target = transform.forward(rate)
    faded = transform.forward(rate * 0.15)  # 0.45 mm/h: below every threshold
    displaced = torch.roll(target, 1, dims=-1)
    mask = torch.ones_like(target).bool()
    mse = make_loss("balanced_mse", transform)
    csi = SoftCSILoss(transform)
    assert mse(faded, target, mask).item() < mse(displaced, target, mask).item()
    assert csi(faded, target, mask).item() > csi(displaced, target, mask).item() + 0.3


def test_balanced_mse_plus_csi_is_the_weighted_sum() -> None:
    transform = LogRain(0.1, 100.0)
    gen = torch.Generator().manual_seed(1)
    target = torch.rand(2, 3, 1, 4, 4, generator=gen)
    pred = torch.rand(2, 3, 1, 4, 4, generator=gen)
    mask = torch.rand(2, 3, 1, 4, 4, generator=gen) > 0.2
    combined = make_loss("balanced_mse+csi", transform, csi_weight=0.5, csi_thresholds=(1.0, 5.0))
    parts = make_loss("balanced_mse", transform)(pred, target, mask) + 0.5 * SoftCSILoss(
        transform, (1.0, 5.0)
    )(pred, target, mask)
    assert combined(pred, target, mask).item() == pytest.approx(parts.item())


def test_soft_csi_settings_that_cannot_work_are_config_errors() -> None:
    transform = LogRain(0.1, 100.0)
    with pytest.raises(ConfigError, match="transform"):
        make_loss("balanced_mse+csi", None)
    with pytest.raises(ConfigError, match="csi_weight > 0"):
        make_loss("balanced_mse+csi", transform, csi_weight=0.0)
    with pytest.raises(ConfigError, match="positive thresholds"):
        SoftCSILoss(transform, ())
    with pytest.raises(ConfigError, match=r"\[0.05\] mm/h are not resolved by the log_rain"):
        SoftCSILoss(transform, (0.05,))  # below log_rain's dry threshold of 0.1 mm/h


def test_lead_weights_fall_as_a_power_of_the_lead_and_average_one() -> None:
    weights = lead_weights(3, 1.0).flatten()
    scale = 3 / (1 + 1 / 2 + 1 / 3)
    assert weights.tolist() == pytest.approx([scale, scale / 2, scale / 3])
    assert lead_weights(4, 0.0).flatten().tolist() == [1.0, 1.0, 1.0, 1.0]
    assert lead_weights(5, 2.0).shape == (5, 1, 1, 1)  # broadcasts over BTCHW's lead axis


def test_lead_weighted_mse_weighs_the_errors_of_each_lead() -> None:
    pred, target = _bt([1.0, 2.0, 0.0]), _bt([0.0, 4.0, 0.5])  # squared errors 1, 4, 0.25
    mask = torch.ones_like(pred).bool()
    w = lead_weights(3, 1.0).flatten().tolist()
    loss = make_loss("mse", lead_weight_power=1.0)(pred, target, mask)
    assert loss.item() == pytest.approx((w[0] * 1 + w[1] * 4 + w[2] * 0.25) / 3)
    assert loss.item() < make_loss("mse")(pred, target, mask).item()  # the large error is late


def test_lead_weights_apply_to_the_balanced_part_of_balanced_mse_plus_csi() -> None:
    transform = LogRain(0.1, 100.0)
    gen = torch.Generator().manual_seed(2)
    target, pred = (
        torch.rand(2, 4, 1, 3, 3, generator=gen),
        torch.rand(2, 4, 1, 3, 3, generator=gen),
    )
    mask = torch.ones_like(pred).bool()
    weighted = make_loss("balanced_mse+csi", transform, lead_weight_power=1.5)(pred, target, mask)
    balanced = make_loss("balanced_mse", transform, lead_weight_power=1.5)(pred, target, mask)
    csi = SoftCSILoss(transform)(pred, target, mask)
    assert weighted.item() == pytest.approx(balanced.item() + 0.1 * csi.item())
    assert balanced.item() != pytest.approx(
        make_loss("balanced_mse", transform)(pred, target, mask).item()
    )


def test_a_lead_weight_power_that_is_not_finite_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="lead_weight_power must be finite, got nan"):
        make_loss("mse", lead_weight_power=float("nan"))
