"""Presets: valid configs, the published parameter counts, helpful errors."""

from __future__ import annotations

import pytest

from nowcast.config import ModelConfig, RunConfig
from nowcast.errors import ConfigError
from nowcast.models import build_model
from nowcast.presets import PRESETS, apply_preset

#: Parameter counts; shi2015-mnist is the 7,585,296 of Shi et al. (2015), table 1.
EXPECTED_PARAMETERS = {
    "shi2015-mnist": 7_585_296,
    "keras-example": 1_482_689,
    "radar": 925_456,
    "tiny": 18_928,
    "quickstart": 241_552,  # the bundled model's size (docs/model-card.md)
}


def counted_by_hand(cfg: ModelConfig) -> int:
    """Encoder + forecaster ConvLSTM stacks + 1x1 output head, from the layer sizes.

    A ConvLSTM layer has 4 gates, each an input convolution (absent for the
    forecaster's first layer, which has no input), a state convolution and a
    bias, plus 3 per-channel peephole vectors.
    """
    frame_channels = cfg.in_channels * cfg.patch_size**2
    layers = list(zip(cfg.hidden_channels, cfg.input_kernels, cfg.state_kernels, strict=True))
    total = 0
    for stack in ("encoder", "forecaster"):
        inputs = frame_channels if stack == "encoder" else 0
        for hidden, k_in, k_state in layers:
            total += 4 * hidden * (inputs * k_in**2 + hidden * k_state**2 + 1)
            total += 3 * hidden if cfg.peepholes else 0
            inputs = hidden
    return total + sum(cfg.hidden_channels) * frame_channels + frame_channels


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_build_models_with_the_expected_parameter_counts(name):
    config = apply_preset(RunConfig(), name)
    model = build_model(config.model)
    count = sum(p.numel() for p in model.parameters())
    assert count == EXPECTED_PARAMETERS[name] == counted_by_hand(config.model)


def test_shi2015_mnist_matches_the_paper_setup():
    config = apply_preset(RunConfig(), "shi2015-mnist")
    assert config.model.hidden_channels == (128, 64, 64)
    assert config.model.input_kernels == config.model.state_kernels == (5, 5, 5)
    assert (config.model.patch_size, config.data.in_len, config.data.out_len) == (4, 10, 10)
    assert (config.data.crop, config.data.flips, config.data.transform) == (0, False, "identity")
    assert (config.data.variable, config.train.loss, config.train.lr) == ("intensity", "bce", 1e-3)


def test_radar_and_keras_presets():
    radar = apply_preset(RunConfig(), "radar")
    assert radar.data.time_strides == (1, 2) and radar.data.crop == 128 and radar.data.flips
    assert (radar.data.in_len, radar.data.out_len, radar.train.loss) == (5, 12, "balanced_mse")
    keras = apply_preset(RunConfig(), "keras-example")
    assert keras.model.input_kernels == keras.model.state_kernels == (5, 3, 1)
    assert keras.data.in_len + keras.data.out_len == 19 and keras.model.patch_size == 1
    assert not keras.model.peepholes


def test_a_preset_keeps_unrelated_settings_and_is_not_mutated():
    base = RunConfig()
    tiny = apply_preset(base, "tiny")
    assert tiny.train.optimizer == base.train.optimizer and tiny.data.transform == "log_rain"
    tiny.train.lr = 99.0
    again = apply_preset(RunConfig(), "tiny")
    assert again.train.lr == base.train.lr
    assert PRESETS["tiny"]["model"]["hidden_channels"] == [8, 8]


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown preset 'big' \\(known: shi2015-mnist, keras"):
        apply_preset(RunConfig(), "big")


def test_config_lists_take_the_element_type_of_their_field():
    config = RunConfig.from_dict(
        {"train": {"csi_thresholds": [1, 5.5]}, "data": {"time_strides": [1, 2]}}
    )
    assert config.train.csi_thresholds == (1.0, 5.5)
    assert all(isinstance(v, float) for v in config.train.csi_thresholds)
    assert config.data.time_strides == (1, 2)
    assert RunConfig.from_dict(config.to_dict()) == config  # as stored in a checkpoint
    with pytest.raises(ConfigError, match=r"data.time_strides must be int, got 1.5"):
        RunConfig.from_dict({"data": {"time_strides": [1.5]}})
