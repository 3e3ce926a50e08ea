"""What a checkpoint must hold beyond its layout, checked when it is loaded.

A checkpoint that loads safely can still be unusable: weights of NaN (a run
that diverged) give an all-NaN forecast and a resume that diverges at once; a
``state_dict`` that is not a mapping of tensors, a data section with a size of
0, or a model name that is not the network its config builds fail later with
an error that no longer names the file. :func:`check_contents` refuses each
with one :class:`~nowcast.errors.CheckpointError` line naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from nowcast.config import RunConfig
from nowcast.errors import CheckpointError

#: Sizes in the ``data`` section, each a whole number >= 1.
DATA_SIZES = ("in_len", "out_len", "timestep_s", "patch_size")


def check_contents(payload: Mapping[str, Any], config: RunConfig, path: Path) -> None:
    """Refuse weights that are not finite tensors, bad data sizes and a mismatched model name.

    Args:
        payload: The loaded checkpoint (its layout already checked).
        config: Its configuration, already built and validated.
        path: The file, for messages.

    Raises:
        CheckpointError: naming ``path`` and the first problem found.
    """
    _check_model_name(payload["model"], config, path)
    _check_data(payload["data"], config, path)
    state = payload["state_dict"]
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"{path}: state_dict is not a mapping of names to tensors")
    for where, tensor in [
        *_tensors(state, "state_dict"),
        *_tensors(payload.get("optimizer"), "optimizer"),
    ]:
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(
                f"{path}: {where} holds NaN or infinite values (the run diverged); "
                "use an earlier checkpoint or train again with a lower train.lr"
            )


def _check_model_name(model: Any, config: RunConfig, path: Path) -> None:
    """The recorded model name must be the network the model config builds."""
    name = model.get("name") if isinstance(model, Mapping) else None
    if name != config.model.name:
        raise CheckpointError(
            f"{path}: records model {name!r} but its model config builds {config.model.name!r}"
        )


def _check_data(data: Any, config: RunConfig, path: Path) -> None:
    """The sizes forecasting reads from the data section: whole numbers >= 1, patch as built.

    A size left out passes (a checkpoint written for a test of the training loop holds
    none); forecasting reads all of them.
    """
    if not isinstance(data, Mapping):
        raise CheckpointError(f"{path}: data section is not a table")
    for key in DATA_SIZES:
        value = data.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CheckpointError(f"{path}: data.{key} must be a whole number >= 1, got {value!r}")
    if data.get("patch_size", config.model.patch_size) != config.model.patch_size:
        raise CheckpointError(
            f"{path}: data.patch_size {data['patch_size']} differs from the model's "
            f"patch_size {config.model.patch_size}"
        )


def _tensors(value: Any, where: str) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor in nested dicts and lists, with where it is (``state_dict['conv.weight']``)."""
    if isinstance(value, torch.Tensor):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _tensors(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _tensors(item, f"{where}[{index}]")
