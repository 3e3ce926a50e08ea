"""Persistence (Eulerian) baseline: tomorrow looks like now.

:func:`repeat_last_frame` is the one implementation of the rule. The
registered model wraps it with the interface of every model
(``forward(x, out_len)``, layout ``BTCHW``); the ``evaluate`` baseline
(:func:`nowcast.verification.baselines.persistence_forecast`) applies it to
one observed frame. It predicts intensities, never logits, so it is not meant
to be trained.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nowcast.config import ModelConfig
from nowcast.models import register_model


def repeat_last_frame(x: Tensor, out_len: int) -> Tensor:
    """``(B, T_in, C, H, W) -> (B, out_len, C, H, W)``, the last frame repeated (a new tensor).

    Raises:
        ValueError: If ``x`` is not 5-D or ``out_len`` is below 1.
    """
    if x.ndim != 5:
        raise ValueError(f"expected frames (B, T, C, H, W), got {tuple(x.shape)}")
    if out_len < 1:
        raise ValueError(f"out_len must be >= 1, got {out_len}")
    return x[:, -1:].repeat(1, out_len, 1, 1, 1)  # (B, out_len, C, H, W)


@register_model("persistence")
class Persistence(nn.Module):
    """Repeat the last input frame ``out_len`` times; no parameters.

    Args:
        cfg: Accepted for the common model interface; unused.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        # No parameters, so a buffer tells ``.to(device)`` and callers asking
        # ``next(model.buffers()).device`` where the model lives.
        self.register_buffer("device_anchor", torch.zeros(0), persistent=False)

    def forward(self, x: Tensor, out_len: int) -> Tensor:
        """``(B, T_in, C, H, W) -> (B, out_len, C, H, W)``, the last frame repeated."""
        return repeat_last_frame(x, out_len)
