"""The data side of a training run: split windows, loaders, the checkpoint's data section.

Windows are cut once per split (:mod:`nowcast.data.windows`); the training
loader draws them in a seeded, resumable order and the validation loader
reads a fixed subset, both sharded over the ``torchrun`` processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from nowcast.config import RunConfig
from nowcast.data.dataset import CanonicalWindows, windows_for
from nowcast.data.windows import SPLITS
from nowcast.errors import ConfigError
from nowcast.io.canonical import CanonicalFile, FileIdentity
from nowcast.training.distributed import DistContext, EpochSampler, SubsetSampler


def split_windows(data_path: Path, config: RunConfig) -> dict[str, np.ndarray]:
    """The window starts of each split (train, val, test) of ``data_path``.

    Raises:
        ConfigError: when the train or the validation split has no window.
    """
    splits = {name: windows_for(data_path, config.data, name) for name in SPLITS}
    _check_splits(splits, data_path, config)
    return splits


def _check_splits(splits: dict[str, np.ndarray], data_path: Path, config: RunConfig) -> None:
    window = config.data.in_len + config.data.out_len
    for name in ("train", "val"):
        if len(splits[name]) == 0:
            raise ConfigError(
                f"{data_path} gives no {name} windows of {window} frames "
                f"(data.in_len + data.out_len); use a longer file, shorter windows or a "
                "larger data.val_fraction"
            )


def make_loaders(
    data_path: Path,
    splits: dict[str, np.ndarray],
    config: RunConfig,
    device: torch.device,
    ctx: DistContext,
    identity: FileIdentity | None = None,
) -> tuple[DataLoader[dict[str, torch.Tensor]], DataLoader[dict[str, torch.Tensor]]]:
    """Training loader with a seeded, resumable order; validation loader on a fixed subset.

    ``identity`` is the file the splits were cut from: every loader process refuses
    ``data_path`` once it names another file (see :class:`CanonicalWindows`).
    """
    data, train_cfg = config.data, config.train
    patch = config.model.patch_size
    train_set = CanonicalWindows(
        data_path, splits["train"], data, patch, train=True, seed=train_cfg.seed, identity=identity
    )
    val_set = CanonicalWindows(
        data_path, splits["val"], data, patch, train=False, seed=train_cfg.seed, identity=identity
    )
    options: dict[str, Any] = {
        "batch_size": train_cfg.batch_size,
        "num_workers": train_cfg.num_workers,
        "pin_memory": device.type == "cuda",
    }
    train_sampler = EpochSampler(len(train_set), train_cfg.samples_per_epoch, train_cfg.seed, ctx)
    val_sampler = SubsetSampler(len(val_set), train_cfg.val_samples, train_cfg.seed, ctx)
    # Own generators: creating a loader iterator then draws nothing from the
    # global RNG, which would otherwise differ between a resumed and a plain run.
    return (
        DataLoader(
            train_set, sampler=train_sampler, generator=_generator(train_cfg.seed), **options
        ),
        DataLoader(val_set, sampler=val_sampler, generator=_generator(train_cfg.seed), **options),
    )


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def data_info(
    source: CanonicalFile,
    config: RunConfig,
    splits: dict[str, np.ndarray],
    transform: dict[str, Any],
) -> dict[str, Any]:
    """The checkpoint's ``data`` section: what the model reads and which data trained it."""
    data = config.data
    ny, nx = source.grid.shape
    return {
        "variable": source.variable,
        "units": source.units,
        "transform": transform,
        "in_len": data.in_len,
        "out_len": data.out_len,
        "timestep_s": data.timestep_s,
        "patch_size": config.model.patch_size,
        "grid": {"ny": ny, "nx": nx, "description": source.grid.describe()},
        "split": {
            "data_file": str(source.path.resolve()),
            "method": "sequence" if source.sequence is not None else "time",
            "fractions": [
                1.0 - data.val_fraction - data.test_fraction,
                data.val_fraction,
                data.test_fraction,
            ],
            **{name: _split_summary(source, starts, data) for name, starts in splits.items()},
        },
    }


def _split_summary(source: CanonicalFile, starts: np.ndarray, data: Any) -> dict[str, Any]:
    """Window count and the time range (first to last frame, UTC ISO) of one split."""
    if len(starts) == 0:
        return {"windows": 0, "start": None, "end": None}
    starts = np.asarray(starts, dtype=np.int64).reshape(len(starts), -1)
    first = starts[:, 0]
    stride = starts[:, 1] if starts.shape[1] > 1 else np.ones_like(first)
    last = first + (data.in_len + data.out_len - 1) * stride
    return {
        "windows": int(len(starts)),
        "start": f"{source.times[first.min()]}Z",
        "end": f"{source.times[last.max()]}Z",
    }
