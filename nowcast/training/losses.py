"""Masked losses over ``BTCHW`` tensors.

Every loss is ``loss(pred, target, mask) -> scalar`` and averages only over
valid pixels (``mask`` true: the target is a real observation, not "no
coverage" or padding); a batch without a valid pixel gives 0, not NaN.

The balanced losses weight each pixel by the *observed* rain rate, as in the
HKO-7 benchmark (Shi et al. 2017): weight 1 below 2 mm/h, 2 from 2, 5 from 5,
10 from 10 and 30 from 30 mm/h. The target is in the model's scale, so these
losses take the data transform and invert the target to mm/h.

``bce`` is binary cross-entropy *with logits* (Moving MNIST): with it the
model's raw output is read as logits, and forecasts apply a sigmoid.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias
from torch import Tensor

from nowcast.data.transforms import Transform
from nowcast.errors import ConfigError

Pointwise = Callable[[Tensor, Tensor], Tensor]
LossFn = Callable[[Tensor, Tensor, Tensor], Tensor]

#: Rain-rate thresholds (mm/h) and the weights from each threshold upwards (HKO-7).
HKO_THRESHOLDS = (2.0, 5.0, 10.0, 30.0)
HKO_WEIGHTS = (1.0, 2.0, 5.0, 10.0, 30.0)


def hko_weights(rate: Tensor) -> Tensor:
    """Per-pixel HKO-7 weights of rain rates in mm/h: 1, 2, 5, 10 or 30."""
    weights = torch.full_like(rate, HKO_WEIGHTS[0])
    for threshold, weight in zip(HKO_THRESHOLDS, HKO_WEIGHTS[1:], strict=True):
        weights = torch.where(rate >= threshold, torch.full_like(rate, weight), weights)
    return weights


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` where ``mask`` is true (0 when nothing is valid).

    ``mask`` may be bool or 0/1 floats and must broadcast to ``values``.
    """
    valid = mask.bool().expand_as(values)
    total = torch.where(valid, values, torch.zeros_like(values)).sum()
    return total / valid.sum().clamp(min=1)


def _squared(pred: Tensor, target: Tensor) -> Tensor:
    return (pred - target).square()


def _absolute(pred: Tensor, target: Tensor) -> Tensor:
    return (pred - target).abs()


def _squared_plus_absolute(pred: Tensor, target: Tensor) -> Tensor:
    diff = pred - target
    return diff.square() + diff.abs()


def _bce(pred: Tensor, target: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(pred, target, reduction="none")


_PLAIN: dict[str, Pointwise] = {
    "mse": _squared,
    "mae": _absolute,
    "mse+mae": _squared_plus_absolute,
    "bce": _bce,
}
_BALANCED: dict[str, Pointwise] = {
    "balanced_mse": _squared,
    "balanced_mae": _absolute,
    "balanced_mse+mae": _squared_plus_absolute,
}


class MaskedLoss:
    """A pointwise loss averaged over valid pixels, optionally HKO-weighted.

    Computed in float32 whatever the autocast dtype of ``pred``.

    Args:
        name: The loss name (for logs).
        pointwise: ``f(pred, target) -> per-pixel loss``.
        transform: When given, pixels are weighted by :func:`hko_weights` of
            ``transform.inverse(target)`` (mm/h).
    """

    def __init__(self, name: str, pointwise: Pointwise, transform: Transform | None = None):
        self.name = name
        self.pointwise = pointwise
        self.transform = transform

    def __call__(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        """Scalar loss of ``pred`` vs ``target`` (both ``BTCHW``) over ``mask``."""
        pred, target = pred.float(), target.float()
        values = self.pointwise(pred, target)
        if self.transform is not None:
            with torch.no_grad():
                weights = hko_weights(self.transform.inverse(target))
            values = values * weights
        return masked_mean(values, mask)

    def __repr__(self) -> str:
        return f"MaskedLoss({self.name!r})"


def loss_names() -> list[str]:
    """All loss names :func:`make_loss` accepts."""
    return sorted([*_PLAIN, *_BALANCED])


def make_loss(name: str, transform: Transform | None = None) -> LossFn:
    """The loss called ``name``: ``loss(pred, target, mask) -> scalar tensor``.

    Args:
        name: ``mse``, ``mae``, ``mse+mae``, ``bce`` or a ``balanced_*`` variant.
        transform: The data transform; required by the balanced losses to
            turn targets back into mm/h.

    Raises:
        ConfigError: for an unknown name or a balanced loss without a transform.
    """
    if name in _PLAIN:
        return MaskedLoss(name, _PLAIN[name])
    if name in _BALANCED:
        if transform is None:
            raise ConfigError(f"loss {name!r} needs the data transform to weight by rain rate")
        return MaskedLoss(name, _BALANCED[name], transform)
    raise ConfigError(f"unknown loss {name!r} (known: {', '.join(loss_names())})")
