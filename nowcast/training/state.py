"""What a training run is and reports: its position, its result, its progress hooks.

:class:`TrainState` is the run's exact position (with the weights and the
random-number states it defines the run); it travels inside every checkpoint
as plain values, and :func:`resume_state` puts a checkpoint back into a model,
an optimizer and a gradient scaler. :class:`Callbacks` is how the loop talks to
the outside world (CLI progress bars, the run's log files, tests), so the loop
itself prints nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nowcast.errors import CheckpointError, first_line
from nowcast.training.checkpoint import RESUME_KEYS, unwrap_model
from nowcast.training.runtime import set_rng_state

#: Running sums of the current epoch, kept in the state so a resumed epoch reports as a whole.
PROGRESS_KEYS = ("loss_sum", "samples", "seconds", "lr")


class Callbacks:
    """Hooks the loop calls (on rank 0 only); override the ones you need."""

    def on_start(self, steps_per_epoch: int, total_steps: int) -> None:
        """Training is about to start (or resume)."""

    def on_step(self, step: int, loss: float, lr: float, samples_per_s: float) -> None:
        """Optimisation step ``step`` (1-based) finished with this mean loss and LR."""

    def on_epoch_end(self, row: dict[str, Any]) -> None:
        """An epoch ended (``row["epoch"]`` is fractional when the run stopped mid-epoch)."""

    def on_checkpoint(self, path: Path) -> None:
        """A checkpoint file was written."""

    def on_message(self, text: str) -> None:
        """Something worth a line in the log."""


@dataclass
class TrainState:
    """Where a run stands; with the weights and RNG states it defines the run exactly.

    Attributes:
        epoch: Epochs completed.
        step: Optimisation steps taken.
        batch_in_epoch: Batches of the current epoch already consumed.
        best_val_loss: Best end-of-epoch validation loss; when no epoch ended, the
            partial epoch's (the loss of ``best.pt``); ``None`` without validation.
        bad_epochs: Epochs since the validation loss last improved.
        lr_scale: Reduce-on-plateau multiplier of the scheduled learning rate.
        history: One metrics row per completed epoch.
        progress: Running sums of the current epoch: ``loss_sum``, ``samples``,
            ``seconds``, and the last ``lr``.
    """

    epoch: int = 0
    step: int = 0
    batch_in_epoch: int = 0
    best_val_loss: float | None = None
    bad_epochs: int = 0
    lr_scale: float = 1.0
    history: list[dict[str, Any]] = field(default_factory=list)
    progress: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PROGRESS_KEYS, 0.0))

    def to_checkpoint(self, schedule: str, total: int) -> dict[str, Any]:
        """The checkpoint keys describing this state (plain values only)."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "batch_in_epoch": self.batch_in_epoch,
            "best_val_loss": self.best_val_loss,
            "history": [dict(row) for row in self.history],
            "progress": dict(self.progress),
            "scheduler": {
                "name": schedule,
                "total_steps": total,
                "lr_scale": self.lr_scale,
                "bad_epochs": self.bad_epochs,
            },
        }

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any]) -> TrainState:
        """The state saved by :meth:`to_checkpoint`."""
        return cls(
            epoch=int(ckpt["epoch"]),
            step=int(ckpt["step"]),
            batch_in_epoch=int(ckpt["batch_in_epoch"]),
            best_val_loss=ckpt.get("best_val_loss"),
            bad_epochs=int(ckpt["scheduler"]["bad_epochs"]),
            lr_scale=float(ckpt["scheduler"]["lr_scale"]),
            history=[dict(row) for row in ckpt.get("history", [])],
            progress={key: float(ckpt.get("progress", {}).get(key, 0.0)) for key in PROGRESS_KEYS},
        )


@dataclass
class TrainResult:
    """What :func:`fit` did.

    Attributes:
        steps: Optimisation steps taken in total (including before a resume).
        epochs: Epochs completed, fractional when the run stopped mid-epoch.
        best_val_loss: Best end-of-epoch validation loss; when no epoch ended, the
            partial epoch's (the loss of ``best.pt``); ``None`` without validation.
        last_val_loss: The last validation loss measured, or ``None``.
        stop_reason: ``max_epochs``, ``max_steps``, ``max_minutes`` or ``early_stopping``.
        history: Metrics rows (the last one partial when stopped mid-epoch).
        last_checkpoint: Path of ``last.pt`` when written.
        best_checkpoint: Path of ``best.pt`` when written.
        seconds: Wall-clock time of this call.
    """

    steps: int
    epochs: float
    best_val_loss: float | None
    last_val_loss: float | None
    stop_reason: str
    history: list[dict[str, Any]]
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    seconds: float


def resume_state(
    ckpt: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
) -> TrainState:
    """Load weights, optimizer, scaler and RNG states from ``ckpt``; return its position.

    Raises:
        CheckpointError: when the checkpoint holds no training state or does not fit.
    """
    missing = [key for key in RESUME_KEYS if key not in ckpt]
    if missing:
        raise CheckpointError(
            f"cannot resume: the checkpoint has no training state (missing: {', '.join(missing)})"
        )
    try:
        unwrap_model(model).load_state_dict(ckpt["state_dict"])
        optimizer.load_state_dict(ckpt["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        reason = first_line(exc)
        raise CheckpointError(
            f"cannot resume: checkpoint does not fit the model ({reason})"
        ) from exc
    if scaler.is_enabled() and ckpt["scaler"]:
        scaler.load_state_dict(ckpt["scaler"])
    set_rng_state(ckpt["rng"])
    return TrainState.from_checkpoint(ckpt)
