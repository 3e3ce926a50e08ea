"""Named configurations: published set-ups and sizes for demos and tests.

A preset is a nested dict of config updates applied with
:func:`nowcast.config.merge`, so a config file or command-line flags can
still refine any value. See ``docs/training.md`` for the table and sources.

``shi2015-mnist``
    The Moving MNIST network of Shi et al. (2015), "Convolutional LSTM
    Network", section 4.1: "ConvLSTM(5x5)-5x5-128-5x5-64-5x5-64", three
    layers of 128, 64 and 64 channels with 5x5 input and state kernels on
    4x4 patches of the 64x64 frames, 10 frames in and 10 out, cross-entropy
    loss; 7,585,296 parameters with peepholes as implemented here.
``keras-example``
    Sizes of the Keras "Next-frame prediction with Convolutional LSTM"
    example: three layers of 64 channels with 5x5, 3x3 and 1x1 kernels on
    full-resolution 64x64 frames, binary cross-entropy, no peepholes. Keras
    trains next-frame style on 19 shifted frames of a 20-frame sequence; here
    the same 19 frames form one window of 10 inputs and 9 forecast frames,
    trained as an encoder-forecaster.
``radar``
    A radar nowcasting default: two 64-channel layers with 3x3 kernels on
    4x4 patches of 128x128 crops, 5 frames (25 min at 5 min) in, 12 frames
    (1 h) out, log-rain transform, HKO-7 balanced MSE, flips and 2x temporal
    sub-sampling as augmentation.
``tiny``
    Two 8-channel layers on 32x32 crops, 4 in / 4 out and a budget of a few
    dozen steps: finishes in seconds on a CPU (tests).
``quickstart``
    What ``nowcast train`` runs when it is given no data and no recipe: the
    bundled model's architecture (two 32-channel layers, 4x4 patches, a
    residual network in the moving frame, so it starts as extrapolation and
    learns growth and decay) on 64x64 crops, 5 frames in and 12 (1 h) out,
    for a 3-minute wall-clock budget at a constant learning rate (the run
    may stop anywhere, so no schedule is planned to end there). Its best
    checkpoint beats persistence on the bundled sample at every lead
    (``docs/training.md``).
"""

from __future__ import annotations

import copy
from typing import Any

from nowcast.config import RunConfig, merge
from nowcast.errors import ConfigError

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "shi2015-mnist": {
        "model": {
            "name": "encoder_forecaster",
            "hidden_channels": [128, 64, 64],
            "input_kernels": [5, 5, 5],
            "state_kernels": [5, 5, 5],
            "peepholes": True,
            "patch_size": 4,
        },
        "data": {
            "variable": "intensity",
            "in_len": 10,
            "out_len": 10,
            "time_strides": [1],
            "crop": 0,
            "flips": False,
            "transform": "identity",
        },
        "train": {"loss": "bce", "lr": 1e-3},
    },
    "keras-example": {
        "model": {
            "name": "encoder_forecaster",
            "hidden_channels": [64, 64, 64],
            "input_kernels": [5, 3, 1],
            "state_kernels": [5, 3, 1],
            "peepholes": False,
            "patch_size": 1,
        },
        "data": {
            "variable": "intensity",
            "in_len": 10,
            "out_len": 9,
            "time_strides": [1],
            "crop": 0,
            "flips": False,
            "transform": "identity",
        },
        "train": {"loss": "bce", "lr": 1e-3},
    },
    "radar": {
        "model": {
            "name": "encoder_forecaster",
            "hidden_channels": [64, 64],
            "input_kernels": [3, 3],
            "state_kernels": [3, 3],
            "patch_size": 4,
        },
        "data": {
            "variable": "rainfall_rate",
            "in_len": 5,
            "out_len": 12,
            "time_strides": [1, 2],
            "crop": 128,
            "flips": True,
            "transform": "log_rain",
        },
        "train": {"loss": "balanced_mse", "lr": 2e-3},
    },
    "tiny": {
        "model": {
            "name": "encoder_forecaster",
            "hidden_channels": [8, 8],
            "input_kernels": [3, 3],
            "state_kernels": [3, 3],
            "patch_size": 4,
        },
        "data": {"in_len": 4, "out_len": 4, "time_strides": [1], "crop": 32},
        "train": {
            "batch_size": 4,
            "max_epochs": 2,
            "samples_per_epoch": 32,
            "val_samples": 16,
            "warmup_steps": 4,
            "checkpoint_every": 0,
            "early_stopping": 0,
        },
    },
    "quickstart": {
        "model": {
            "name": "encoder_forecaster",
            "hidden_channels": [32, 32],
            "input_kernels": [3, 3],
            "state_kernels": [3, 3],
            "patch_size": 4,
            "frame": "lagrangian",
            "residual": True,
        },
        "data": {
            "variable": "rainfall_rate",
            "in_len": 5,
            "out_len": 12,
            "time_strides": [1, 2],
            "crop": 64,
            "flips": True,
            "transform": "log_rain",
            "val_fraction": 0.1,
            "test_fraction": 0.1,
        },
        "train": {
            "loss": "balanced_mse",
            "batch_size": 16,
            "lr": 2e-3,
            "schedule": "constant",
            "max_epochs": 1000,
            "max_minutes": 3.0,
            "samples_per_epoch": 512,
            "val_samples": 64,
            "early_stopping": 0,
            "checkpoint_every": 0,
        },
    },
}

#: The recipe of ``nowcast train`` without data, config or preset (see ``quickstart`` above).
QUICKSTART = "quickstart"


def apply_preset(config: RunConfig, name: str) -> RunConfig:
    """Return ``config`` with the preset ``name`` applied on top.

    Raises:
        ConfigError: for an unknown preset (the message lists the known ones).
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return merge(config, copy.deepcopy(PRESETS[name]))
