"""Learning rate as a pure function of the step number.

A schedule that depends only on ``step`` needs no state of its own: resuming
at step ``n`` gives exactly the learning rate an uninterrupted run had there.
Reduce-on-plateau is the one stateful part; it lives in the training state as
a multiplier (``lr_scale``) applied on top of these curves.

Curves (``peak`` = ``TrainConfig.lr``, ``T`` = total steps):

=============  ==============================================================
``constant``   ``peak`` at every step
``cosine``     linear warm-up over ``warmup_steps`` to ``peak``, then half a
               cosine down to ``peak / 100`` at ``T``
``onecycle``   rises from ``peak / 25`` to ``peak`` over the first 30 % of
               ``T`` (half a cosine), then falls to ``peak / 1e4`` at ``T``
=============  ==============================================================
"""

from __future__ import annotations

import math

from nowcast.config import TrainConfig
from nowcast.errors import ConfigError

SCHEDULES = ("cosine", "onecycle", "constant")
COSINE_FLOOR = 0.01
ONECYCLE_RISE = 0.3
ONECYCLE_START = 1 / 25
ONECYCLE_END = 1e-4


def check_schedule(name: str) -> None:
    """Raise :class:`ConfigError` when ``name`` is not a known schedule."""
    if name not in SCHEDULES:
        raise ConfigError(f"unknown LR schedule {name!r} (known: {', '.join(SCHEDULES)})")


def total_steps(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """Steps the run will take at most: the smaller of ``max_steps`` and the epoch budget."""
    by_epochs = max(1, cfg.max_epochs) * max(1, steps_per_epoch)
    return min(cfg.max_steps, by_epochs) if cfg.max_steps > 0 else by_epochs


def lr_at(step: int, cfg: TrainConfig, total: int) -> float:
    """Learning rate of optimisation step ``step`` (0-based) in a run of ``total`` steps."""
    check_schedule(cfg.schedule)
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule == "cosine":
        return _cosine(step, cfg.lr, total, cfg.warmup_steps)
    return _onecycle(step, cfg.lr, total)


def _cosine(step: int, peak: float, total: int, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return _half_cosine(peak, peak * COSINE_FLOOR, progress)


def _onecycle(step: int, peak: float, total: int) -> float:
    rise = max(1, round(ONECYCLE_RISE * total))
    if step < rise:
        return _half_cosine(peak * ONECYCLE_START, peak, step / rise)
    progress = min(1.0, (step - rise) / max(1, total - rise))
    return _half_cosine(peak, peak * ONECYCLE_END, progress)


def _half_cosine(start: float, end: float, progress: float) -> float:
    """Go from ``start`` (progress 0) to ``end`` (progress 1) along half a cosine."""
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * progress))
