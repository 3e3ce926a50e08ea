"""Which device the numbers are crunched on: one choice for training, forecasting and scoring.

Kept with the models, the lowest stage that needs torch, so that training, forecasting and
verification all take the device from here without importing one another.
"""

from __future__ import annotations

import torch

from nowcast.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


def select_device(name: str) -> torch.device:
    """Turn a device name into a :class:`torch.device`.

    Args:
        name: ``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``
            (``cuda:N`` picks a GPU).

    Raises:
        ConfigError: for an unknown name, or ``cuda`` on a machine without CUDA.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.split(":")[0] not in DEVICES[1:]:
        raise ConfigError(f"unknown device {name!r} (known: {', '.join(DEVICES)})")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available here")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """The device for the run's log: ``cpu``, or ``cuda:0 (NVIDIA H200)`` with the GPU's name."""
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
