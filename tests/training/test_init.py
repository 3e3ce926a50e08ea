"""`train(init=...)` starts from another checkpoint's weights (fine-tuning)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nowcast.config import merge
from nowcast.errors import CheckpointError
from nowcast.training.checkpoint import load_checkpoint
from nowcast.training.run import train
from tests.helpers import tiny_config
from tests.training.conftest import write_blob_canonical


def test_init_starts_from_the_given_weights(tmp_path: Path) -> None:
    data = write_blob_canonical(tmp_path / "blob.nc")
    config = tiny_config(train={"max_epochs": 1})
    train(data, config, tmp_path / "a")
    frozen = merge(config, {"train": {"lr": 0.0, "seed": 5}})  # lr 0: weights cannot move
    train(data, frozen, tmp_path / "b", init=tmp_path / "a")
    start = load_checkpoint(tmp_path / "a" / "best.pt")["state_dict"]
    after = load_checkpoint(tmp_path / "b" / "last.pt")["state_dict"]
    assert all(torch.equal(start[k], after[k]) for k in start)
    assert "weights initialised from" in (tmp_path / "b" / "train.log").read_text()


def test_init_refuses_another_architecture(tmp_path: Path) -> None:
    data = write_blob_canonical(tmp_path / "blob.nc")
    config = tiny_config(train={"max_epochs": 1})
    train(data, config, tmp_path / "a")
    wider = merge(config, {"model": {"hidden_channels": [6, 6]}})
    with pytest.raises(CheckpointError, match="another architecture"):
        train(data, wider, tmp_path / "b", init=tmp_path / "a")
