"""``nowcast train``'s progress: a rich bar plus one plain line per epoch.

A module of its own because :class:`~nowcast.training.state.Callbacks` brings
torch with it: ``nowcast.cli.train`` imports this only when a run starts, so
``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.progress import Progress

from nowcast.training.state import Callbacks


class TrainProgress(Callbacks):
    """Rich progress bar plus one plain line per epoch (readable without a TTY).

    With ``timed`` (a wall-clock budget and no step budget) the bar counts steps
    and time without a total: the step count the minutes allow is not known.
    """

    def __init__(self, bar: Progress, timed: bool = False) -> None:
        self.bar = bar
        self.timed = timed
        self.task = bar.add_task("training", total=None, loss=float("nan"), rate=0.0)

    def on_start(self, steps_per_epoch: int, total_steps: int) -> None:
        """Size the bar to the run's step budget (unless the budget is in minutes)."""
        self.bar.update(self.task, total=None if self.timed else total_steps)

    def on_step(self, step: int, loss: float, lr: float, samples_per_s: float) -> None:
        """Advance the bar; show the loss and the samples per second."""
        self.bar.update(self.task, completed=step, loss=loss, rate=samples_per_s)

    def on_epoch_end(self, row: dict[str, Any]) -> None:
        """One line per epoch: losses, learning rate, throughput."""
        val = row.get("val_loss")
        self.bar.console.log(
            f"epoch {row['epoch']:g}: train_loss {row['train_loss']:.5g} "
            f"val_loss {'-' if val is None else f'{val:.5g}'} lr {row['lr']:.3g} "
            f"{row['samples_per_s']:.1f} samples/s"
        )

    def on_checkpoint(self, path: Path) -> None:
        """Checkpoints are listed in train.log; nothing to show."""

    def on_message(self, text: str) -> None:
        """Show the loop's message above the bar."""
        self.bar.console.log(text)
