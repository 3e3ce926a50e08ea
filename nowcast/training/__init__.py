"""Stage 4: training (no typer or rich here; progress goes through callbacks).

- :mod:`~nowcast.training.launch`: ``nowcast train``'s options -> config, data, run folder, rank.
- :mod:`~nowcast.training.run`: :func:`train`, data file + config -> run folder.
- :mod:`~nowcast.training.run_data`: split windows, loaders, the checkpoint's data section.
- :mod:`~nowcast.training.loop`: :func:`fit`, the loop itself.
- :mod:`~nowcast.training.optimizer`: Adam or AdamW over the trainable parameters.
- :mod:`~nowcast.training.state`: the run's position and result, and :class:`Callbacks`.
- :mod:`~nowcast.training.checkpoint`: safe, self-describing checkpoints.
- :mod:`~nowcast.training.schedule`: learning rate as a function of the step.
- :mod:`~nowcast.training.runtime`: precision, seeding, ``torch.compile``.
- :mod:`~nowcast.training.distributed`: ``torchrun`` / DDP and sample sharding.
- :mod:`~nowcast.training.losses`: the masked losses.

The names below are imported on first use, so ``import nowcast.training.checkpoint``
(for forecasting) does not load the data pipeline.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "train": "nowcast.training.run",
    "fit": "nowcast.training.loop",
    "Callbacks": "nowcast.training.state",
    "TrainResult": "nowcast.training.state",
    "TrainingDivergedError": "nowcast.errors",
    "load_checkpoint": "nowcast.training.checkpoint",
    "save_checkpoint": "nowcast.training.checkpoint",
    "model_from_checkpoint": "nowcast.training.checkpoint",
    "resolve_checkpoint": "nowcast.training.checkpoint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
