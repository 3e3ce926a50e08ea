"""Builders for forecast and evaluation tests: untrained checkpoints and an observation file.

A checkpoint made here has the exact layout ``nowcast train`` writes
(:func:`nowcast.training.checkpoint.make_header` plus weights) but random,
seeded weights, so tests get a real model in milliseconds instead of training
one. Other test packages import the plain functions from this module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nowcast.config import merge
from nowcast.data.transforms import make_transform
from nowcast.io.grid import Grid
from nowcast.models import build_model
from nowcast.training.checkpoint import make_header, save_checkpoint
from tests.helpers import STEP_S, laea_grid, rain_frames, tiny_config, write_canonical


def write_checkpoint(
    path: Path,
    *,
    variable: str = "rainfall_rate",
    model: str = "encoder_forecaster",
    timestep_s: int = STEP_S,
    data_file: Path | None = None,
    test_period: tuple[str, str] | None = None,
    seed: int = 0,
    model_options: dict | None = None,
) -> Path:
    """Save an inference checkpoint with seeded random weights; return ``path``.

    Args:
        path: The ``.pt`` file to write (its folder must exist).
        variable: Canonical variable the "training data" held.
        model: Registered model name (``encoder_forecaster`` or ``persistence``).
        timestep_s: Cadence the model was "trained" at, seconds.
        data_file: Training data file recorded in the split section.
        test_period: ``(start, end)`` UTC ISO times of the test split.
        seed: Seed of the random weights.
        model_options: Overrides of the model section (e.g. ``{"residual": True}``).
    """
    config = tiny_config(variable, model)
    if model_options:
        config = merge(config, {"model": model_options})
    torch.manual_seed(seed)
    net = build_model(config.model)
    if config.model.residual:  # a trained residual model changes the frames; a new one does not
        for param in net.output.parameters():
            torch.nn.init.normal_(param, std=0.05)
    start, end = test_period or (None, None)
    data = {
        "variable": variable,
        "units": "mm h-1" if variable == "rainfall_rate" else "1",
        "transform": make_transform(config.data).to_dict(),
        "in_len": config.data.in_len,
        "out_len": config.data.out_len,
        "timestep_s": timestep_s,
        "patch_size": config.model.patch_size,
        "grid": {"ny": 24, "nx": 28, "description": "test grid"},
        "split": {
            "data_file": str(data_file.resolve()) if data_file else "",
            "method": "time",
            "test": {"windows": 1, "start": start, "end": end},
        },
    }
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    return save_checkpoint(path, {**make_header(config, data), "state_dict": state})


def rain_stack(n: int, ny: int = 24, nx: int = 28, seed: int = 0) -> tuple[np.ndarray, Grid]:
    """``n`` random rain frames (mm h-1, NaN in the top-left corner) on a small LAEA grid."""
    grid = laea_grid(ny, nx)
    return np.stack([f.values for f in rain_frames(n, grid, seed=seed)]), grid


@pytest.fixture(scope="session")
def ckpt_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of ready-made checkpoints shared by the session (read-only for tests)."""
    folder = tmp_path_factory.mktemp("checkpoints")
    write_checkpoint(folder / "rain.pt")
    write_checkpoint(folder / "intensity.pt", variable="intensity")
    write_checkpoint(folder / "rain_10min.pt", timestep_s=600)
    write_checkpoint(folder / "persistence.pt", model="persistence")
    return folder


@pytest.fixture
def obs_file(tmp_path: Path) -> Path:
    """Twelve 5-minute rain frames on a 24 x 28 LAEA grid (corner without coverage)."""
    fields, grid = rain_stack(12)
    return write_canonical(tmp_path / "obs.nc", fields, grid)
