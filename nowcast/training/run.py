"""The library entry point of ``nowcast train``: canonical file + config -> run folder.

:func:`train` reads the data file's variable and cadence, cuts windows into
train/val/test splits, builds the loaders, the model and the loss, runs
:func:`~nowcast.training.loop.fit` and leaves a self-contained run folder::

    runs/<name>/
        config.toml    resolved configuration (reload with --config)
        metrics.csv    one row per epoch: epoch, step, train_loss, val_loss, lr,
                       seconds, samples_per_s
        train.log      plain-text log (messages, epochs, checkpoints)
        last.pt        latest state, for --resume
        best.pt        weights with the best validation loss, for forecasting
    runs/latest        symlink (or a one-line text file) naming the newest run

Under ``torchrun`` every process calls :func:`train`; rank 0 alone writes.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch

from nowcast.config import RunConfig, merge, to_toml
from nowcast.data.transforms import make_transform
from nowcast.errors import CheckpointError, OutputExistsError
from nowcast.io.canonical import CanonicalFile, open_canonical
from nowcast.io.writers.atomic import AtomicOutput
from nowcast.models import build_model
from nowcast.training import distributed
from nowcast.training.checkpoint import (
    config_from_checkpoint,
    load_checkpoint,
    make_header,
    resolve_checkpoint,
)
from nowcast.training.loop import fit
from nowcast.training.losses import make_loss
from nowcast.training.run_data import data_info, make_loaders, split_windows
from nowcast.training.runtime import seed_everything
from nowcast.training.state import Callbacks, TrainResult

METRIC_COLUMNS = ("epoch", "step", "train_loss", "val_loss", "lr", "seconds", "samples_per_s")
#: Train settings that change the batches or the maths: a resume that changes
#: them continues fine but no longer matches an uninterrupted run.
_RESUME_SENSITIVE = (
    "seed",
    "batch_size",
    "samples_per_epoch",
    "lr",
    "schedule",
    "warmup_steps",
    "optimizer",
    "weight_decay",
    "loss",
    "grad_clip",
    "max_steps",
    "max_epochs",
)


def train(
    data_path: Path,
    config: RunConfig,
    run_dir: Path,
    *,
    resume: Path | None = None,
    init: Path | None = None,
    callbacks: Callbacks | None = None,
) -> TrainResult:
    """Train on a canonical file and write the run folder ``run_dir``.

    Args:
        data_path: Canonical NetCDF file (``nowcast ingest`` output).
        config: Resolved configuration. ``data.variable`` and ``data.timestep_s``
            are taken from the file.
        run_dir: Output folder (created); its parent gets the ``latest`` link.
        resume: ``last.pt`` (or its run folder) to continue from. Its model and
            data settings win over ``config``; ``config.train`` applies (so
            budgets can be raised).
        init: A checkpoint whose weights start this run (fine-tuning, e.g. a model
            pre-trained on synthetic rain); its architecture must match ``config.model``.
        callbacks: Progress hooks (rank 0 only).

    Raises:
        CheckpointError: when ``resume`` is unusable or was trained on another variable.
        OutputExistsError: when ``run_dir`` already holds checkpoints and no resume is asked.
        ConfigError: when a split has no windows or a setting is invalid.
    """
    owns_group = not distributed.group_running()  # leave a caller's own process group alone
    ctx, device = distributed.setup(config.train.device)
    try:
        result = _train(
            Path(data_path), config, Path(run_dir), resume, init, callbacks, ctx, device
        )
        if owns_group:
            distributed.barrier()  # no rank leaves the group while another still writes or syncs
        return result
    finally:
        if owns_group:
            distributed.teardown()


def _train(
    data_path: Path,
    config: RunConfig,
    run_dir: Path,
    resume: Path | None,
    init: Path | None,
    callbacks: Callbacks | None,
    ctx: distributed.DistContext,
    device: torch.device,
) -> TrainResult:
    source = open_canonical(data_path)
    notes: list[str] = []
    ckpt = None
    if resume is not None:
        last = resolve_checkpoint(resume, "last")
        ckpt = load_checkpoint(last)
        notes.append(f"resumed from step {ckpt['step']} ({last})")
        config = _resume_config(config, ckpt, source, notes)
    else:
        refuse_existing_run(run_dir)
        config = _config_for_file(config, source, notes)

    splits = split_windows(data_path, config)
    train_loader, val_loader = make_loaders(data_path, splits, config, device, ctx, source.identity)
    seed_everything(config.train.seed)  # the same initial weights for the same seed
    model = build_model(config.model)
    if init is not None and ckpt is None:
        _load_initial_weights(model, init, config, notes)
    transform = make_transform(config.data)
    loss_fn = make_loss(
        config.train.loss,
        transform,
        csi_weight=config.train.csi_weight,
        csi_thresholds=config.train.csi_thresholds,
        lead_weight_power=config.train.lead_weight_power,
    )
    meta = make_header(config, data_info(source, config, splits, transform.to_dict()))

    logger = _RunFiles(run_dir, callbacks, ckpt["history"] if ckpt else []) if ctx.is_main else None
    if logger is not None:
        logger.start(config, data_path, notes, ctx)
    distributed.barrier()  # the run folder exists before anyone writes into it
    result = fit(
        model,
        train_loader,
        val_loader,
        config.train,
        loss_fn,
        callbacks=logger,
        state=ckpt,
        run_dir=run_dir,
        meta=meta,
        device=device,
    )
    if logger is not None:
        logger.finish(result)
        update_latest(run_dir)
    return result


def _load_initial_weights(
    model: torch.nn.Module, init: Path, config: RunConfig, notes: list[str]
) -> None:
    """Start from the weights of another checkpoint with the same architecture.

    The model's frame (eulerian or lagrangian) may differ: it changes no weights.
    """
    path = resolve_checkpoint(init, "best")
    source = load_checkpoint(path)
    source_model = dataclasses.replace(
        config_from_checkpoint(source).model, frame=config.model.frame
    )
    if source_model != config.model:
        raise CheckpointError(
            f"{path} has another architecture than this run's [model] settings; "
            "use the same model config to start from its weights"
        )
    model.load_state_dict(source["state_dict"])
    notes.append(f"weights initialised from {path}")


def refuse_existing_run(run_dir: Path) -> None:
    """Raise OutputExistsError when ``run_dir`` already holds checkpoints (a new run's check)."""
    existing = [name for name in ("last.pt", "best.pt") if (run_dir / name).exists()]
    if existing:
        raise OutputExistsError(
            f"{run_dir} already holds a run ({', '.join(existing)}); "
            "choose another run folder or resume it"
        )


def _config_for_file(config: RunConfig, source: CanonicalFile, notes: list[str]) -> RunConfig:
    """Take the variable and the cadence from the data file."""
    if config.data.variable != source.variable:
        notes.append(f"data.variable set to {source.variable!r} from {source.path.name}")
    data = dataclasses.replace(
        config.data, variable=source.variable, timestep_s=int(source.timestep_s)
    )
    return dataclasses.replace(config, data=data)


def _resume_config(
    config: RunConfig, ckpt: dict[str, Any], source: CanonicalFile, notes: list[str]
) -> RunConfig:
    """Model and data settings from the checkpoint, training settings from ``config``."""
    stored = config_from_checkpoint(ckpt)
    variable = ckpt["data"]["variable"]
    if variable != source.variable:
        raise CheckpointError(
            f"the checkpoint was trained on {variable} but {source.path} holds {source.variable}"
        )
    if int(source.timestep_s) != stored.data.timestep_s:
        notes.append(
            f"{source.path.name} has a {source.timestep_s} s cadence; the checkpoint was "
            f"trained at {stored.data.timestep_s} s"
        )
    for key, old in dataclasses.asdict(stored.train).items():
        new = getattr(config.train, key)
        if old != new:
            effect = "; the run will not match an uninterrupted one" * (key in _RESUME_SENSITIVE)
            notes.append(f"resume: train.{key} changed from {old!r} to {new!r}{effect}")
    return RunConfig(model=stored.model, data=stored.data, train=config.train)


def resume_config(resume: Path, updates: dict[str, Any] | None = None) -> RunConfig:
    """The configuration to resume with: the checkpoint's own, plus explicit ``updates``.

    Pass only the settings the user gave (e.g. a larger ``train.max_epochs``):
    anything else keeps the checkpoint's value, so the resumed run continues
    exactly like the original.

    Args:
        resume: ``last.pt`` or its run folder.
        updates: Nested config updates, as for :func:`nowcast.config.merge`.
    """
    stored = config_from_checkpoint(load_checkpoint(resolve_checkpoint(resume, "last")))
    return merge(stored, updates or {})


class _RunFiles(Callbacks):
    """Rank 0's bookkeeping: ``config.toml``, ``train.log``, ``metrics.csv``; forwards hooks."""

    def __init__(
        self, run_dir: Path, inner: Callbacks | None, history: list[dict[str, Any]]
    ) -> None:
        self.run_dir = run_dir
        self.inner = inner or Callbacks()
        self.rows = [dict(row) for row in history]
        self.log_every = 1

    def start(self, config: RunConfig, data_path: Path, notes: list[str], ctx: Any) -> None:
        """Create the folder, write the resolved config and the log's first lines."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _write_text(self.run_dir / "config.toml", to_toml(config))
        self.on_message(f"training on {data_path} with {ctx.world_size} process(es)")
        for note in notes:
            self.on_message(note)
        self._write_metrics()

    def finish(self, result: TrainResult) -> None:
        """Log the outcome."""
        best = "none" if result.best_val_loss is None else f"{result.best_val_loss:.6g}"
        self.on_message(
            f"finished ({result.stop_reason}) after {result.steps} steps in "
            f"{result.seconds:.1f} s; best val_loss {best}"
        )

    def on_start(self, steps_per_epoch: int, total_steps: int) -> None:
        """Log the plan; log about ten step lines per epoch from now on."""
        self.log_every = max(1, steps_per_epoch // 10)
        self._log(f"{steps_per_epoch} steps per epoch, at most {total_steps} steps")
        self.inner.on_start(steps_per_epoch, total_steps)

    def on_step(self, step: int, loss: float, lr: float, samples_per_s: float) -> None:
        """Log every ``log_every``-th step."""
        if step % self.log_every == 0:
            self._log(f"step {step} loss {loss:.6g} lr {lr:.3g} {samples_per_s:.1f} samples/s")
        self.inner.on_step(step, loss, lr, samples_per_s)

    def on_epoch_end(self, row: dict[str, Any]) -> None:
        """Add the row to ``metrics.csv`` and the log."""
        self.rows.append(dict(row))
        self._write_metrics()
        self._log(" ".join(f"{key} {_format(row[key])}" for key in METRIC_COLUMNS))
        self.inner.on_epoch_end(row)

    def on_checkpoint(self, path: Path) -> None:
        """Log the file name."""
        self._log(f"saved {path.name}")
        self.inner.on_checkpoint(path)

    def on_message(self, text: str) -> None:
        """Log the message."""
        self._log(text)
        self.inner.on_message(text)

    def _log(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with open(self.run_dir / "train.log", "a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {text}\n")

    def _write_metrics(self) -> None:
        lines = [",".join(METRIC_COLUMNS)]
        lines += [",".join(_format(row.get(key)) for key in METRIC_COLUMNS) for row in self.rows]
        _write_text(self.run_dir / "metrics.csv", "\n".join(lines) + "\n")


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.6g}"
    return str(value)


def _write_text(path: Path, text: str) -> None:
    with AtomicOutput(path, overwrite=True) as out:
        out.tmp.write_text(text, encoding="utf-8")


def update_latest(run_dir: Path) -> Path:
    """Point ``<parent>/latest`` at ``run_dir``: a relative symlink, else a text file.

    Returns:
        The path of the ``latest`` entry.
    """
    run_dir = Path(run_dir).resolve()  # a run reached through runs/latest is its real folder
    link = run_dir.parent / "latest"
    if link.is_dir() and not link.is_symlink():
        raise OutputExistsError(f"{link} is a folder; cannot point it at the newest run")
    with AtomicOutput(link, overwrite=True, links=True) as out:
        out.tmp.unlink()  # the unique name is reserved; the symlink takes the file's place
        try:
            out.tmp.symlink_to(run_dir.name, target_is_directory=True)
        except OSError:  # no symlinks here (some Windows set-ups, some mounts)
            out.tmp.write_text(run_dir.name + "\n", encoding="utf-8")
    return link
