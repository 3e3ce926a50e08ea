"""From ``nowcast train``'s options to a run: which config, data, folder, and who reports.

The rules, in one place:

- config: a new run takes defaults < preset < config file < explicit settings
  (:func:`nowcast.config_resolve.resolve_config`); a resumed run takes its
  checkpoint's config plus only the explicit settings, so it continues exactly.
- data: the given file, else the one a resumed run was trained on, else the
  bundled sample (source checkouts).
- run folder: the given one, else the resumed run's, else ``runs/<UTC time>``;
  under ``torchrun`` a new run needs it given, so every process writes the same run.
- progress: rank 0 (or a plain single process) reports; other ranks train silently.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nowcast.config import RunConfig
from nowcast.config_resolve import given, resolve_config
from nowcast.errors import InputError
from nowcast.training.checkpoint import load_checkpoint, resolve_checkpoint
from nowcast.training.run import resume_config, train
from nowcast.training.state import Callbacks, TrainResult

#: The bundled sample file, used when no data file is given (source checkouts).
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "synthetic.nc"


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
    """

    data_path: Path
    config: RunConfig
    run_dir: Path
    resume: Path | None
    init: Path | None
    reports: bool


def options_config(options: TrainOptions) -> RunConfig:
    """The configuration the options ask for (what ``--print-config`` shows).

    Raises:
        ConfigError: for an unknown preset, key or value, or an unreadable file.
        CheckpointError: when ``options.resume`` is not a usable checkpoint.
    """
    updates = given(options.updates)
    if options.resume is not None:
        return resume_config(options.resume, updates)
    return resolve_config(options.preset, options.config_file, updates)


def plan_training(options: TrainOptions) -> TrainPlan:
    """Resolve the config, the data file and the run folder, in that order.

    Raises:
        ConfigError, CheckpointError: see :func:`options_config`.
        InputError: when no data file can be found, or a new run under
            ``torchrun`` has no run folder.
    """
    config = options_config(options)
    resume = options.resume
    data_path = options.data or (_checkpoint_data(resume) if resume is not None else _sample())
    run_dir = options.run_dir
    if resume is not None and run_dir is None:
        run_dir = resume if resume.is_dir() else resume.parent
    rank = _torchrun_rank()
    if run_dir is None and rank is not None:
        raise InputError("under torchrun give --run-dir, so that every process writes the same run")
    run_dir = run_dir or Path("runs") / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return TrainPlan(data_path, config, run_dir, resume, options.init, reports=not rank)


def run_plan(plan: TrainPlan, callbacks: Callbacks | None = None) -> TrainResult:
    """Train as planned (every ``torchrun`` process calls this; rank 0 alone writes)."""
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


def _sample() -> Path:
    if not SAMPLE.is_file():
        raise InputError("no DATA given and no bundled sample_data/synthetic.nc here; give DATA.nc")
    return SAMPLE
