"""The optimizer of a training recipe: Adam or AdamW over the trainable parameters.

Its learning rate is set anew at every step by the loop, from
:func:`nowcast.training.schedule.lr_at`; ``TrainConfig.lr`` is only the start value.
"""

from __future__ import annotations

import torch
from torch import nn

from nowcast.config import TrainConfig
from nowcast.errors import ConfigError

OPTIMIZERS = ("adam", "adamw")


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam, or AdamW with decoupled weight decay, over the trainable parameters.

    Raises:
        ConfigError: for an unknown optimizer or a model with nothing to train.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError(f"model {type(model).__name__} has no trainable parameters")
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr)
    raise ConfigError(f"unknown optimizer {cfg.optimizer!r} (known: {', '.join(OPTIMIZERS)})")
