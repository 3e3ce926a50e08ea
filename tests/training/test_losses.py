"""Masked losses against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from nowcast.data.transforms import Linear, LogRain
from nowcast.errors import ConfigError
from nowcast.training.losses import hko_weights, loss_names, make_loss


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
