"""From ``nowcast train``'s options to a run: which config, data, folder, and who reports.

The rules, in one place:

- config: a new run takes defaults < preset < config file < explicit settings
  (:func:`nowcast.config_resolve.resolve_config`); a resumed run takes its
  checkpoint's config plus only the explicit settings, so it continues exactly.
- data: the given file, else the one a resumed run was trained on, else
  synthetic rain written into the run folder (:data:`SYNTHETIC_SET`), trained
  with the ``quickstart`` preset unless a preset or config file is given.
- run folder: the given one, else the resumed run's, else ``runs/<UTC time>``;
  under ``torchrun`` a new run needs it given, so every process writes the same run.
- progress: rank 0 (or a plain single process) reports; other ranks train silently.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nowcast.config import RunConfig
from nowcast.config_resolve import given, resolve_config
from nowcast.errors import InputError
from nowcast.presets import QUICKSTART
from nowcast.synthetic.training_set import TrainingSet, write_training_set
from nowcast.training.checkpoint import load_checkpoint, resolve_checkpoint
from nowcast.training.lock import run_lock
from nowcast.training.run import refuse_existing_run, resume_config, train
from nowcast.training.state import Callbacks, TrainResult

#: The training file written into the run folder when no data file is given.
SYNTHETIC_FILE = "synthetic_train.nc"
#: Its sequences: about 5 s to make on 2 CPU cores, 8 MB; seeds from 1000 (the bundled
#: model's), none shared with the bundled sample.
SYNTHETIC_SET = TrainingSet(sequences=32, frames=40, size=96, seed=1000)


@dataclass(frozen=True)
class TrainOptions:
    """What ``nowcast train`` was asked for (``None`` = the documented default).

    Attributes:
        data: Canonical NetCDF file to train on.
        preset: Named recipe (:data:`nowcast.presets.PRESETS`).
        config_file: TOML file with ``[model]``, ``[data]`` and ``[train]`` tables.
        run_dir: Output folder of the run.
        resume: Run folder or ``last.pt`` to continue from, exactly.
        init: Checkpoint whose weights start the run (fine-tuning).
        updates: Explicit settings, ``{section: {key: value}}``; ``None`` values
            count as not given.
    """

    data: Path | None = None
    preset: str | None = None
    config_file: Path | None = None
    run_dir: Path | None = None
    resume: Path | None = None
    init: Path | None = None
    updates: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainPlan:
    """Everything :func:`~nowcast.training.run.train` needs, resolved from :class:`TrainOptions`.

    Attributes:
        data_path: Canonical file to train on.
        config: Resolved configuration.
        run_dir: Output folder.
        resume: Checkpoint (or its run folder) to continue from, or ``None``.
        init: Checkpoint whose weights start the run, or ``None``.
        reports: True on the process that should show progress (rank 0).
        synthetic: True when ``data_path`` is synthetic rain that :func:`run_plan`
            writes first (no data file was given).
    """

    data_path: Path
    config: RunConfig
    run_dir: Path
    resume: Path | None
    init: Path | None
    reports: bool
    synthetic: bool = False


def options_config(options: TrainOptions) -> RunConfig:
    """The configuration the options ask for (what ``--print-config`` shows).

    Raises:
        ConfigError: for an unknown preset, key or value, or an unreadable file.
        CheckpointError: when ``options.resume`` is not a usable checkpoint.
    """
    updates = given(options.updates)
    if options.resume is not None:
        return resume_config(options.resume, updates)
    preset = options.preset
    if preset is None and options.config_file is None and options.data is None:
        preset = QUICKSTART
    return resolve_config(preset, options.config_file, updates)


def plan_training(options: TrainOptions) -> TrainPlan:
    """Resolve the config, the data file and the run folder, in that order.

    Raises:
        ConfigError, CheckpointError: see :func:`options_config`.
        InputError: when a resumed run's data file is gone, or a new run under
            ``torchrun`` has no run folder or no data file.
    """
    config = options_config(options)
    resume = options.resume
    synthetic = options.data is None and resume is None
    run_dir = options.run_dir
    if resume is not None and run_dir is None:
        run_dir = resume if resume.is_dir() else resume.parent
    rank = _torchrun_rank()
    if run_dir is None and rank is not None:
        raise InputError("under torchrun give --run-dir, so that every process writes the same run")
    if synthetic and rank is not None:
        raise InputError("under torchrun give DATA.nc: the processes cannot share one written now")
    run_dir = run_dir or Path("runs") / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    data_path = options.data or (
        _checkpoint_data(resume) if resume is not None else run_dir / SYNTHETIC_FILE
    )
    return TrainPlan(
        data_path, config, run_dir, resume, options.init, reports=not rank, synthetic=synthetic
    )


def describe_plan(plan: TrainPlan) -> str:
    """One line, before any work: what will be trained on what, and for how long."""
    train = plan.config.train
    steps, minutes = train.max_steps > 0, train.max_minutes > 0
    if steps and minutes:
        budget = f"for {train.max_steps} steps or {train.max_minutes:g} min, whichever comes first"
    elif minutes:
        budget = f"for {train.max_minutes:g} min (--max-minutes)"
    elif steps:
        budget = f"for at most {train.max_steps} steps (--max-steps)"
    else:
        budget = f"for at most {train.max_epochs} epochs (--max-epochs)"
    model = plan.config.model
    kind = ("moving-frame " if model.frame == "lagrangian" else "") + "residual " * model.residual
    what = f"a {kind}ConvLSTM of {'/'.join(map(str, model.hidden_channels))} channels"
    if not plan.synthetic:
        return f"training {what} on {plan.data_path} {budget}, into {plan.run_dir}"
    return (
        f"no DATA given: writing {SYNTHETIC_SET.sequences} synthetic rain sequences to "
        f"{plan.data_path} (seconds), training {what} on them {budget}, then scoring it "
        "against persistence and the bundled model on the bundled sample (under a minute)"
    )


def run_plan(plan: TrainPlan, callbacks: Callbacks | None = None) -> TrainResult:
    """Train as planned (every ``torchrun`` process calls this; rank 0 alone writes).

    The writing process holds the run folder's lock (:func:`~nowcast.training.lock.run_lock`)
    from before the data is read until the run ends, so a second run into the
    same folder fails at once.

    Raises:
        RunLockedError: another live process trains into ``plan.run_dir``.
        OutputError: the run folder cannot be created or written.
    """
    with run_lock(plan.run_dir) if plan.reports else contextlib.nullcontext():
        if plan.synthetic:
            _write_synthetic(plan.run_dir, plan.data_path)
        return train(
            plan.data_path,
            plan.config,
            plan.run_dir,
            resume=plan.resume,
            init=plan.init,
            callbacks=callbacks,
        )


def _torchrun_rank() -> int | None:
    """This process's rank under torchrun, read before any process group exists; else None."""
    rank = os.environ.get("RANK")
    return int(rank) if rank is not None and "WORLD_SIZE" in os.environ else None


def _checkpoint_data(resume: Path) -> Path:
    """The data file a run was trained on (stored in its checkpoint)."""
    ckpt = load_checkpoint(resolve_checkpoint(resume, "last"))
    stored = ckpt["data"].get("split", {}).get("data_file")
    if not stored or not Path(stored).is_file():
        raise InputError(f"{resume} was trained on {stored or 'an unknown file'}; give DATA.nc")
    return Path(stored)


def _write_synthetic(run_dir: Path, path: Path) -> None:
    """The synthetic training file of a run given no data, written into its new run folder."""
    refuse_existing_run(run_dir)
    write_training_set(
        path, SYNTHETIC_SET, history="nowcast train without DATA (nowcast.training.launch)"
    )
