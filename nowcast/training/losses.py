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

``balanced_mse+csi`` adds a differentiable critical success index
(:class:`SoftCSILoss`) to the balanced MSE. A pointwise loss is minimised,
where the future is uncertain, by a smooth and weak forecast: rain fades with
lead time although the MSE stays low. CSI counts a missed rain pixel as dearly
as a false alarm, so the extra term pays the model to keep rain that it would
otherwise hedge away.

Any pointwise loss can weigh lead times unequally (``lead_weight_power``):
lead ``k`` gets ``k ** -power``, the weights scaled to a mean of 1, so that
the first leads, whose errors are the smallest, still steer the gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from nowcast.data.transforms import Transform
from nowcast.errors import ConfigError

Pointwise = Callable[[Tensor, Tensor], Tensor]
LossFn = Callable[[Tensor, Tensor, Tensor], Tensor]

#: Rain rates (mm/h) at which the soft-CSI term scores forecasts unless told otherwise.
CSI_THRESHOLDS = (0.5, 1.0, 5.0)
#: A rate this factor above a threshold counts as 73 % "yes" in the soft CSI
#: (one sigmoid width), whatever the transform's scale.
SOFT_CSI_WIDTH_FACTOR = 1.4

#: Rain-rate thresholds (mm/h) and the weights from each threshold upwards (HKO-7).
HKO_THRESHOLDS = (2.0, 5.0, 10.0, 30.0)
HKO_WEIGHTS = (1.0, 2.0, 5.0, 10.0, 30.0)


def hko_weights(rate: Tensor) -> Tensor:
    """Per-pixel HKO-7 weights of rain rates in mm/h: 1, 2, 5, 10 or 30."""
    weights = torch.full_like(rate, HKO_WEIGHTS[0])
    for threshold, weight in zip(HKO_THRESHOLDS, HKO_WEIGHTS[1:], strict=True):
        weights = torch.where(rate >= threshold, torch.full_like(rate, weight), weights)
    return weights


def lead_weights(leads: int, power: float, device: torch.device | None = None) -> Tensor:
    """Weights ``k ** -power`` of leads ``k = 1 .. leads``, scaled to a mean of 1.

    Shaped ``(T, 1, 1, 1)`` to broadcast over a ``BTCHW`` tensor's lead-time axis.
    """
    weights = torch.arange(1, leads + 1, dtype=torch.float32, device=device) ** -power
    return (weights / weights.mean()).view(leads, 1, 1, 1)


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
        lead_weight_power: Lead ``k`` (from 1) is weighted by ``k ** -power``,
            scaled to a mean weight of 1 (0: all leads alike).
    """

    def __init__(
        self,
        name: str,
        pointwise: Pointwise,
        transform: Transform | None = None,
        lead_weight_power: float = 0.0,
    ):
        self.name = name
        self.pointwise = pointwise
        self.transform = transform
        self.lead_weight_power = lead_weight_power

    def __call__(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        """Scalar loss of ``pred`` vs ``target`` (both ``BTCHW``) over ``mask``."""
        pred, target = pred.float(), target.float()
        values = self.pointwise(pred, target)
        if self.transform is not None:
            with torch.no_grad():
                weights = hko_weights(self.transform.inverse(target))
            values = values * weights
        if self.lead_weight_power:
            values = values * lead_weights(values.shape[1], self.lead_weight_power, values.device)
        return masked_mean(values, mask)

    def __repr__(self) -> str:
        if self.lead_weight_power:
            return f"MaskedLoss({self.name!r}, lead_weight_power={self.lead_weight_power})"
        return f"MaskedLoss({self.name!r})"


class SoftCSILoss:
    """``1 -`` a differentiable CSI at rain-rate thresholds, pooled per lead time.

    A forecast pixel is "yes" with probability ``sigmoid((pred - level) / width)``,
    where ``level`` is the threshold in the model's scale and ``width`` the
    distance, in that scale, from the threshold to :data:`SOFT_CSI_WIDTH_FACTOR`
    times it. Hits, forecast and observed counts are summed over the batch and
    the valid pixels of each lead time (a CSI is a ratio of pooled counts, not a
    mean of per-pixel terms); ``CSI = hits / (forecast + observed - hits)``.
    The loss is one minus the mean CSI over the (lead, threshold) pairs with
    observed rain: without observed rain the CSI is undefined (false alarms
    there are left to the pointwise term).

    Args:
        transform: The data transform (mm/h -> model scale).
        thresholds: Rain rates in mm/h; an event is ``rate >= threshold``.
    """

    def __init__(self, transform: Transform, thresholds: tuple[float, ...] = CSI_THRESHOLDS):
        if not thresholds or min(thresholds) <= 0:
            raise ConfigError(f"soft CSI needs positive thresholds in mm/h, got {list(thresholds)}")
        rates = torch.tensor(thresholds, dtype=torch.float32)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.levels = torch.as_tensor(transform.forward(rates)).float()
        widths = torch.as_tensor(transform.forward(rates * SOFT_CSI_WIDTH_FACTOR)).float()
        self.widths = widths - self.levels
        if not bool((self.widths > 0).all()):
            raise ConfigError(
                f"soft CSI thresholds {list(thresholds)} mm/h are not resolved by the "
                f"{transform.name} transform (below its rain threshold?)"
            )

    def __call__(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        """Scalar ``1 - mean soft CSI`` of ``pred`` vs ``target`` (``BTCHW``) over ``mask``."""
        pred, target = pred.float(), target.float()
        valid = mask.bool().expand_as(pred)
        pooled = [0, *range(2, pred.dim())]  # all but the lead-time axis
        scores = []
        for level, width in zip(self.levels.tolist(), self.widths.tolist(), strict=True):
            yes = torch.where(valid, torch.sigmoid((pred - level) / width), 0.0)
            seen = (valid & (target >= level)).float()
            hits = (yes * seen).sum(pooled)
            observed = seen.sum(pooled)
            union = yes.sum(pooled) + observed - hits
            scores.append((hits / union.clamp(min=1e-6))[observed > 0])
        csi = torch.cat(scores)
        if csi.numel() == 0:
            return pred.sum() * 0.0  # keeps the graph; no rain observed anywhere
        return 1.0 - csi.mean()

    def __repr__(self) -> str:
        return f"SoftCSILoss(thresholds={list(self.thresholds)})"


class WeightedSum:
    """``first + weight * second``: a pointwise loss plus a weighted extra term."""

    def __init__(self, name: str, first: LossFn, second: LossFn, weight: float):
        self.name = name
        self.first = first
        self.second = second
        self.weight = weight

    def __call__(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        """Scalar combined loss."""
        return self.first(pred, target, mask) + self.weight * self.second(pred, target, mask)

    def __repr__(self) -> str:
        return f"WeightedSum({self.name!r}, weight={self.weight})"


_WITH_CSI = "balanced_mse+csi"


def loss_names() -> list[str]:
    """All loss names :func:`make_loss` accepts."""
    return sorted([*_PLAIN, *_BALANCED, _WITH_CSI])


def make_loss(
    name: str,
    transform: Transform | None = None,
    *,
    csi_weight: float = 0.1,
    csi_thresholds: tuple[float, ...] = CSI_THRESHOLDS,
    lead_weight_power: float = 0.0,
) -> LossFn:
    """The loss called ``name``: ``loss(pred, target, mask) -> scalar tensor``.

    Args:
        name: ``mse``, ``mae``, ``mse+mae``, ``bce``, a ``balanced_*`` variant
            or ``balanced_mse+csi``.
        transform: The data transform; required by the balanced losses to
            turn targets back into mm/h.
        csi_weight: Weight of the soft-CSI term of ``balanced_mse+csi``.
        csi_thresholds: Its rain-rate thresholds in mm/h.
        lead_weight_power: Lead ``k`` of the pointwise loss is weighted by
            ``k ** -lead_weight_power`` (mean weight 1); 0 weighs leads alike.

    Raises:
        ConfigError: for an unknown name, a balanced loss without a transform
            or soft-CSI settings that cannot work.
    """
    if not math.isfinite(lead_weight_power):
        raise ConfigError(f"train.lead_weight_power must be finite, got {lead_weight_power}")
    if name in _PLAIN:
        return MaskedLoss(name, _PLAIN[name], lead_weight_power=lead_weight_power)
    if name not in _BALANCED and name != _WITH_CSI:
        raise ConfigError(f"unknown loss {name!r} (known: {', '.join(loss_names())})")
    if transform is None:
        raise ConfigError(f"loss {name!r} needs the data transform to weight by rain rate")
    if name in _BALANCED:
        return MaskedLoss(name, _BALANCED[name], transform, lead_weight_power)
    if csi_weight <= 0:
        raise ConfigError(f"loss {name!r} needs train.csi_weight > 0, got {csi_weight}")
    balanced = MaskedLoss("balanced_mse", _BALANCED["balanced_mse"], transform, lead_weight_power)
    return WeightedSum(name, balanced, SoftCSILoss(transform, csi_thresholds), csi_weight)
