"""Invertible intensity transforms between physical units and the model's scale.

Rain rates span four orders of magnitude and are mostly zero, so the network
learns a log scale (``log_rain``); Moving MNIST intensities already lie in
[0, 1] (``identity``). Each transform works on numpy arrays and torch tensors
alike, keeps NaN (no coverage) as NaN in :meth:`Transform.forward`, and
describes itself with plain values (:meth:`Transform.to_dict`) so a checkpoint
can rebuild it with :func:`transform_from_dict`.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from nowcast.config import DataConfig
from nowcast.errors import ConfigError

Array = TypeVar("Array", np.ndarray, Tensor)


def _as_float(x: Array) -> Array:
    """float32 copy-free view for numpy; tensors keep their floating dtype."""
    if isinstance(x, Tensor):
        return x if x.is_floating_point() else x.float()
    return np.asarray(x, dtype=np.float32)


class Transform:
    """Base class: ``forward`` (physical -> model scale) and ``inverse``."""

    name = ""

    def forward(self, x: Array) -> Array:
        """Physical units -> model scale; NaN stays NaN."""
        raise NotImplementedError

    def inverse(self, y: Array) -> Array:
        """Model scale -> physical units."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """Plain ``{"name": ..., <parameters>}`` for checkpoints."""
        return {"name": self.name}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "name")
        return f"{type(self).__name__}({params})"


class Identity(Transform):
    """No change (Moving MNIST intensities in [0, 1])."""

    name = "identity"

    def forward(self, x: Array) -> Array:
        """Return ``x`` as floats."""
        return _as_float(x)

    def inverse(self, y: Array) -> Array:
        """Return ``y`` as floats."""
        return _as_float(y)


class Linear(Transform):
    """``R / max_rate``: rain rate in mm/h scaled so ``max_rate`` maps to 1.

    Args:
        max_rate: mm/h that maps to 1.0.
    """

    name = "linear"

    def __init__(self, max_rate: float) -> None:
        if not max_rate > 0:
            raise ConfigError(f"data.max_rate must be > 0 mm/h, got {max_rate}")
        self.max_rate = float(max_rate)

    def forward(self, x: Array) -> Array:
        """mm/h -> ``R / max_rate``."""
        return _as_float(x) / self.max_rate

    def inverse(self, y: Array) -> Array:
        """``y * max_rate`` in mm/h, never negative."""
        rate = _as_float(y) * self.max_rate
        if isinstance(rate, Tensor):
            return rate.clamp(min=0.0)
        return np.maximum(rate, np.float32(0.0))

    def to_dict(self) -> dict[str, Any]:
        """Name and ``max_rate``."""
        return {"name": self.name, "max_rate": self.max_rate}


class LogRain(Transform):
    """Log10 rain scale: dry -> 0, ``threshold`` -> 0, ``max_rate`` -> 1.

    ``forward(R) = (log10 R - log10 thr) / (log10 max_rate - log10 thr)`` for
    ``R >= thr`` and 0 below (dry). :meth:`inverse` maps every value ``<= 0``
    to 0 mm/h, so it never returns negative rain. The threshold itself is the
    dry/wet boundary: it maps to 0 and comes back as 0.

    Args:
        threshold: mm/h below which rain counts as dry.
        max_rate: mm/h that maps to 1.0 (larger rates map above 1).
    """

    name = "log_rain"

    def __init__(self, threshold: float, max_rate: float) -> None:
        if not 0 < threshold < max_rate:
            raise ConfigError(
                "log_rain needs 0 < data.rain_threshold < data.max_rate, got "
                f"{threshold} and {max_rate} mm/h"
            )
        self.threshold = float(threshold)
        self.max_rate = float(max_rate)
        self._log_thr = math.log10(self.threshold)
        self._scale = math.log10(self.max_rate) - self._log_thr

    def forward(self, x: Array) -> Array:
        """mm/h -> log scale; below the threshold 0; NaN stays NaN."""
        x = _as_float(x)
        if isinstance(x, Tensor):
            y = (torch.log10(torch.clamp(x, min=self.threshold)) - self._log_thr) / self._scale
            return torch.where(x < self.threshold, torch.zeros_like(y), y)
        y = (np.log10(np.maximum(x, np.float32(self.threshold))) - self._log_thr) / self._scale
        return np.where(x < self.threshold, np.float32(0.0), y).astype(np.float32)

    def inverse(self, y: Array) -> Array:
        """Log scale -> mm/h; values <= 0 -> 0 mm/h."""
        y = _as_float(y)
        if isinstance(y, Tensor):
            rate = torch.pow(10.0, y * self._scale + self._log_thr)
            return torch.where(y <= 0, torch.zeros_like(rate), rate)
        with np.errstate(over="ignore"):
            rate = np.power(np.float32(10.0), y * np.float32(self._scale) + self._log_thr)
        return np.where(y <= 0, np.float32(0.0), rate).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """Name, ``rain_threshold`` and ``max_rate``."""
        return {"name": self.name, "rain_threshold": self.threshold, "max_rate": self.max_rate}


def _build(name: str, rain_threshold: float, max_rate: float) -> Transform:
    if name == LogRain.name:
        return LogRain(rain_threshold, max_rate)
    if name == Linear.name:
        return Linear(max_rate)
    if name == Identity.name:
        return Identity()
    known = ", ".join((LogRain.name, Linear.name, Identity.name))
    raise ConfigError(f"unknown transform {name!r} (known: {known})")


def make_transform(cfg: DataConfig) -> Transform:
    """The transform named by ``cfg.transform`` with the config's parameters."""
    return _build(cfg.transform, cfg.rain_threshold, cfg.max_rate)


def transform_from_dict(d: dict[str, Any]) -> Transform:
    """Rebuild a transform from :meth:`Transform.to_dict` output (e.g. a checkpoint)."""
    defaults = DataConfig()
    return _build(
        str(d.get("name", "")),
        float(d.get("rain_threshold", defaults.rain_threshold)),
        float(d.get("max_rate", defaults.max_rate)),
    )
