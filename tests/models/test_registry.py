"""Model registry, the common interface of every model, and persistence."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from nowcast.config import ModelConfig
from nowcast.errors import ConfigError
from nowcast.models import _REGISTRY, build_model, list_models, register_model
from nowcast.models.persistence import Persistence

SMALL = ModelConfig(hidden_channels=(4,), input_kernels=(3,), state_kernels=(3,), patch_size=2)


def test_builtin_models_are_listed() -> None:
    assert {"encoder_forecaster", "persistence"} <= set(list_models())


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown model 'nope'.*encoder_forecaster.*persistence"):
        build_model(dataclasses.replace(SMALL, name="nope"))


def test_registering_a_name_twice_warns_and_replaces() -> None:
    class First(nn.Module):
        def __init__(self, cfg: ModelConfig) -> None:
            super().__init__()

    class Second(First):
        pass

    try:
        register_model("test-dummy")(First)
        with pytest.warns(RuntimeWarning, match="test-dummy"):
            register_model("test-dummy")(Second)
        assert isinstance(build_model(dataclasses.replace(SMALL, name="test-dummy")), Second)
    finally:
        _REGISTRY.pop("test-dummy", None)


@pytest.mark.parametrize("name", ["encoder_forecaster", "persistence"])
def test_every_model_maps_btchw_to_out_len_frames(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(SMALL, name=name))
    y = model(torch.rand(2, 3, 1, 8, 6), 5)
    assert y.shape == (2, 5, 1, 8, 6)
    assert torch.isfinite(y).all()


def test_persistence_repeats_the_last_frame_and_has_no_parameters() -> None:
    model = build_model(dataclasses.replace(SMALL, name="persistence"))
    assert isinstance(model, Persistence)
    assert sum(p.numel() for p in model.parameters()) == 0
    assert model.state_dict() == {}
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2, 1)
    y = model(x, 4)
    assert y.shape == (2, 4, 2, 2, 1)
    for t in range(4):
        assert torch.equal(y[:, t], x[:, -1])
    assert next(model.to(torch.float64).buffers()).dtype == torch.float64
