"""The training loop, readable top to bottom.

One optimisation step per batch: forward under autocast, loss, backward
(scaled for fp16), gradient clipping, optimizer step with the learning rate
of :func:`~nowcast.training.schedule.lr_at`. At the end of each epoch:
validation under ``no_grad`` in eval mode, reduce-on-plateau and early
stopping on the validation loss, ``last.pt`` and (when the loss improved)
``best.pt``. ``last.pt`` is also written every ``checkpoint_every`` steps and on SIGINT/SIGTERM.

The loop prints nothing: progress goes to :class:`Callbacks`, so a CLI can
draw bars and a test can record values.

Exact resume: a checkpoint stores the weights, the optimizer and scaler
states, every random-number state, and the position (epoch, batch). The
sample order of an epoch is a seeded function of ``(seed, epoch)``
(:class:`~nowcast.training.distributed.EpochSampler`), so a resumed run skips
the batches already used and continues with the same batches, in the same
order, as an uninterrupted run: on a CPU the final weights are bit-identical.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from nowcast.config import TrainConfig
from nowcast.data.dataset import from_workers
from nowcast.errors import TrainingDivergedError
from nowcast.models.device import describe_device, select_device
from nowcast.training import distributed
from nowcast.training.checkpoint import CheckpointWriter, cpu_state_dict
from nowcast.training.optimizer import make_optimizer
from nowcast.training.runtime import (
    autocast_context,
    compile_probe,
    configure_backends,
    in_memory_format,
    make_grad_scaler,
    maybe_compile,
    resolve_precision,
    rng_state,
)
from nowcast.training.schedule import check_schedule, lr_at, total_steps
from nowcast.training.signals import SignalGuard
from nowcast.training.state import (
    PROGRESS_KEYS,
    Callbacks,
    TrainResult,
    TrainState,
    resume_state,
)

LossFn = Callable[[Tensor, Tensor, Tensor], Tensor]
PLATEAU_FACTOR = 0.5


def fit(
    model: nn.Module,
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None,
    cfg: TrainConfig,
    loss_fn: LossFn,
    *,
    callbacks: Callbacks | None = None,
    state: dict[str, Any] | None = None,
    run_dir: Path | None = None,
    meta: dict[str, Any] | None = None,
    device: torch.device | None = None,
) -> TrainResult:
    """Train ``model`` with the recipe ``cfg``.

    Args:
        model: Called as ``model(x, out_len)`` on ``(B, T_in, C, H, W)`` batches.
        train_loader: Yields dicts with ``x``, ``y`` and optionally ``mask_y``;
            its sampler should be an :class:`~nowcast.training.distributed.EpochSampler`
            for an exact resume.
        val_loader: Validation batches, or ``None`` for no validation.
        cfg: The optimisation recipe and budget.
        loss_fn: ``loss_fn(pred, target, mask) -> scalar``.
        callbacks: Progress hooks (called on rank 0 only).
        state: A loaded checkpoint to resume from (weights, optimizer, RNG, position).
        run_dir: Folder for ``last.pt``/``best.pt``; ``None`` writes no checkpoints.
        meta: The checkpoint header (:func:`~nowcast.training.checkpoint.make_header`);
            required with ``run_dir``.
        device: Where to train; default from ``cfg.device``.

    Raises:
        TrainingDivergedError: when the loss becomes NaN or infinite.
        ConfigError: for an unknown optimizer, schedule or precision.
        CheckpointError: when ``state`` cannot be resumed from.
    """
    if run_dir is not None and meta is None:
        raise ValueError("fit() needs meta (checkpoint.make_header) to write checkpoints")
    ctx = distributed.context()
    callbacks = (callbacks or Callbacks()) if ctx.is_main else Callbacks()
    device = device or select_device(cfg.device)
    configure_backends(device)
    precision = resolve_precision(device, cfg.precision)
    check_schedule(cfg.schedule)
    group = distributed.backend()
    callbacks.on_message(
        f"computing on {describe_device(device)} in {precision}"
        + (f", process group {group}" if group else "")
    )

    model = in_memory_format(model.to(device), device, precision)
    optimizer = make_optimizer(model, cfg)
    scaler = make_grad_scaler(device, precision)
    progress = TrainState() if state is None else resume_state(state, model, optimizer, scaler)
    net = distributed.wrap_model(model, device)
    probe = compile_probe(val_loader, device, precision) if cfg.compile else None
    net, note = maybe_compile(net, cfg.compile, probe)
    if note:
        callbacks.on_message(note)

    loop = _Loop(
        net=net,
        model=model,
        optimizer=optimizer,
        scaler=scaler,
        loss_fn=loss_fn,
        cfg=cfg,
        device=device,
        precision=precision,
        callbacks=callbacks,
        state=progress,
        saver=CheckpointWriter(
            run_dir if ctx.is_main else None, meta or {}, callbacks.on_checkpoint
        ),
        eval_net=model if ctx.enabled else net,
    )
    with loop.signals:
        return loop.run(train_loader, val_loader)


@dataclass
class _Loop:
    """The pieces of one training run; :meth:`run` is the loop."""

    net: nn.Module  # what trains: the model, maybe wrapped in DDP and/or compiled
    model: nn.Module  # the plain model (weights, eval mode, checkpoints)
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    loss_fn: LossFn
    cfg: TrainConfig
    device: torch.device
    precision: str
    callbacks: Callbacks
    state: TrainState
    saver: CheckpointWriter
    eval_net: nn.Module  # DDP would sync buffers on every forward, so ranks validate without it
    signals: SignalGuard = field(default_factory=SignalGuard)
    total: int = 0
    steps_per_epoch: int = 0
    deadline: float = math.inf
    last_val_loss: float | None = None

    def run(self, train_loader: Iterable[Any], val_loader: Iterable[Any] | None) -> TrainResult:
        """Train until a budget runs out or early stopping triggers."""
        cfg, state = self.cfg, self.state
        started = time.monotonic()
        if cfg.max_minutes > 0:
            self.deadline = started + 60.0 * cfg.max_minutes
        steps_per_epoch = self.steps_per_epoch = distributed.steps_per_epoch(train_loader)
        self.total = total_steps(cfg, steps_per_epoch)
        self.callbacks.on_start(steps_per_epoch, self.total)
        self.model.train()
        partial: list[dict[str, Any]] = []

        reason = self._budget_reason(over_time=False)
        while reason is None:
            if state.epoch >= cfg.max_epochs:
                reason = "max_epochs"
                break
            reason = self._train_epoch(train_loader)
            if state.batch_in_epoch < steps_per_epoch:  # a budget ran out mid-epoch
                partial.append(self._stop_mid_epoch(val_loader, steps_per_epoch, reason))
                break
            reason = self._end_epoch(val_loader) or reason

        best = state.best_val_loss
        if best is None and partial:  # no epoch ended: best.pt holds the partial epoch's weights
            best = partial[-1]["val_loss"]
        return TrainResult(
            steps=state.step,
            epochs=partial[-1]["epoch"] if partial else float(state.epoch),
            best_val_loss=best,
            last_val_loss=self.last_val_loss,
            stop_reason=str(reason),
            history=[*state.history, *partial],
            last_checkpoint=self.saver.written.get("last", (None, 0))[0],
            best_checkpoint=self.saver.written.get("best", (None, 0))[0],
            seconds=time.monotonic() - started,
        )

    def _train_epoch(self, loader: Iterable[Any]) -> str | None:
        """Train on the rest of the current epoch; return a stop reason if a budget ran out."""
        state = self.state
        tick = time.perf_counter()
        for batch in distributed.epoch_batches(loader, state.epoch, state.batch_in_epoch):
            lr = lr_at(state.step, self.cfg, self.total) * state.lr_scale
            loss, samples, over_time = self._step(batch, lr)
            seconds, tick = time.perf_counter() - tick, time.perf_counter()
            state.step += 1
            state.batch_in_epoch += 1
            _accumulate(state.progress, loss * samples, samples, seconds, lr)
            self.callbacks.on_step(state.step, loss, lr, samples / max(seconds, 1e-9))
            if self._checkpoint_due():
                self._save("last")
            self._stop_if_signalled()
            reason = self._budget_reason(over_time)
            if reason:
                return reason
        return None

    def _step(self, batch: Any, lr: float) -> tuple[float, int, bool]:
        """One optimisation step; returns the mean loss and sample count over all ranks."""
        x, y, mask = _to_device(batch, self.device)  # (B, T_in, C, H, W), (B, T_out, C, H, W)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with autocast_context(self.device, self.precision):
            pred = self.net(x, y.shape[1])  # (B, T_out, C, H, W)
        loss = self.loss_fn(pred.float(), y, mask)
        # The step's one CPU-GPU sync: loss for logging and the NaN check, the
        # time budget (so every rank stops at the same step).
        sums = torch.stack(
            [loss.detach().float() * x.shape[0], _scalar(x.shape[0], x), _scalar(self._late(), x)]
        )
        loss_sum, samples, late = distributed.all_reduce_sum(sums).tolist()
        mean_loss = loss_sum / samples
        if not math.isfinite(mean_loss):
            raise TrainingDivergedError(
                f"training loss became {mean_loss} at step {self.state.step + 1} "
                f"(epoch {self.state.epoch + 1}); {self.saver.describe_last()}; "
                "try a lower train.lr, a train.grad_clip or precision fp32"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return mean_loss, int(samples), late > 0

    @torch.no_grad()
    def _validate(self, loader: Iterable[Any] | None) -> float | None:
        """Mean validation loss over all ranks' validation windows, or ``None`` without any."""
        if loader is None:
            return None
        self.model.eval()
        sums = torch.zeros(2, device=self.device)  # (loss x samples, samples)
        for batch in from_workers(loader):
            self._stop_if_signalled()
            x, y, mask = _to_device(batch, self.device)
            with autocast_context(self.device, self.precision):
                pred = self.eval_net(x, y.shape[1])
            loss = self.loss_fn(pred.float(), y, mask)
            sums += torch.stack([loss.float() * x.shape[0], _scalar(x.shape[0], x)])
        self.model.train()
        loss_sum, count = distributed.all_reduce_sum(sums).tolist()
        self.last_val_loss = loss_sum / count if count else None
        return self.last_val_loss

    def _end_epoch(self, val_loader: Iterable[Any] | None) -> str | None:
        """Validate, track the best loss, adjust the LR, save; maybe stop early."""
        cfg, state = self.cfg, self.state
        val_loss = self._validate(val_loader)
        improved = val_loss is not None and (
            state.best_val_loss is None or val_loss < state.best_val_loss
        )
        if improved:
            state.best_val_loss, state.bad_epochs = val_loss, 0
        elif val_loss is not None:
            state.bad_epochs += 1
            if cfg.plateau_patience and state.bad_epochs % cfg.plateau_patience == 0:
                state.lr_scale *= PLATEAU_FACTOR
                self.callbacks.on_message(
                    f"validation loss flat for {state.bad_epochs} epochs: "
                    f"learning rate scaled to x{state.lr_scale:g}"
                )
        row = self._row(float(state.epoch + 1), val_loss)
        state.history.append(row)
        state.epoch, state.batch_in_epoch = state.epoch + 1, 0
        state.progress = dict.fromkeys(PROGRESS_KEYS, 0.0)
        self.callbacks.on_epoch_end(row)
        self._save("last")
        if improved:
            self._save("best")
        if cfg.early_stopping and state.bad_epochs >= cfg.early_stopping:
            self.callbacks.on_message(
                f"early stopping: no validation improvement for {state.bad_epochs} epochs"
            )
            return "early_stopping"
        return None

    def _stop_mid_epoch(
        self, val_loader: Iterable[Any] | None, steps_per_epoch: int, reason: str | None
    ) -> dict[str, Any]:
        """Save the exact position, then report a validation loss for the partial epoch.

        The training state is left untouched (no best-loss or plateau update),
        so a resumed run continues exactly like an uninterrupted one. ``best.pt``
        is written only if no epoch has ended yet, so every run has one.
        """
        state = self.state
        self._save("last")
        val_loss = self._validate(val_loader)
        row = self._row(round(state.epoch + state.batch_in_epoch / steps_per_epoch, 4), val_loss)
        self.callbacks.on_epoch_end(row)
        if val_loss is not None and state.best_val_loss is None:
            self._save("best")
        self.callbacks.on_message(
            f"stopped ({reason}) at step {state.step}, batch {state.batch_in_epoch}/"
            f"{steps_per_epoch} of epoch {state.epoch + 1}; resuming from last.pt continues there"
        )
        return row

    def _row(self, epoch: float, val_loss: float | None) -> dict[str, Any]:
        """One metrics row from the running sums of the current epoch."""
        p = self.state.progress
        return {
            "epoch": epoch,
            "step": self.state.step,
            "train_loss": p["loss_sum"] / p["samples"] if p["samples"] else None,
            "val_loss": val_loss,
            "lr": p["lr"],
            "seconds": p["seconds"],
            "samples_per_s": p["samples"] / p["seconds"] if p["seconds"] else 0.0,
        }

    def _save(self, name: str) -> None:
        self.saver.save(name, self._payload, self.state.step)

    def _payload(self) -> dict[str, Any]:
        """Everything besides the header that a resume needs (plain values only)."""
        return {
            "state_dict": cpu_state_dict(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            **self.state.to_checkpoint(self.cfg.schedule, self.total),
        }

    def _stop_if_signalled(self) -> None:
        """After Ctrl-C or SIGTERM: save the exact position in ``last.pt``, then let it act."""
        if self.signals.received is not None:
            self.saver.save_once("last", self._payload, self.state.step)
            self.signals.deliver()

    def _checkpoint_due(self) -> bool:
        """Every ``checkpoint_every`` steps, except at an epoch's end (saved after validation)."""
        every, state = self.cfg.checkpoint_every, self.state
        return (
            bool(every) and state.step % every == 0 and state.batch_in_epoch < self.steps_per_epoch
        )

    def _late(self) -> bool:
        return time.monotonic() > self.deadline

    def _budget_reason(self, over_time: bool) -> str | None:
        if self.cfg.max_steps and self.state.step >= self.cfg.max_steps:
            return "max_steps"
        return "max_minutes" if over_time else None


def _accumulate(
    progress: dict[str, float], loss_sum: float, samples: int, seconds: float, lr: float
) -> None:
    progress["loss_sum"] += loss_sum
    progress["samples"] += samples
    progress["seconds"] += seconds
    progress["lr"] = lr


def _scalar(value: float, like: Tensor) -> Tensor:
    return torch.tensor(float(value), device=like.device)


def _to_device(batch: Any, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """``(x, y, mask)`` of a batch (a dict from the dataset, or a tuple) on ``device``.

    Without a mask every target pixel counts.
    """
    if isinstance(batch, dict):
        x, y, mask = batch["x"], batch["y"], batch.get("mask_y")
    else:
        x, y, mask = (*batch, None)[:3]
    asynchronous = device.type == "cuda"  # pinned host memory -> GPU copies overlap compute
    x = x.to(device, non_blocking=asynchronous)
    y = y.to(device, non_blocking=asynchronous)
    if mask is None:
        return x, y, torch.ones_like(y, dtype=torch.bool)
    return x, y, mask.to(device, non_blocking=asynchronous)
