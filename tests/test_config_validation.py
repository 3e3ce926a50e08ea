"""Every numeric setting is checked when a config is built, before any work starts.

The same check runs for defaults, presets, TOML files, command-line options and the config
stored in a checkpoint; the command line adds typer ranges, so ``nowcast train --max-steps -5``
is a usage error instead of a run of 0 steps that repoints ``runs/latest``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.config import DataConfig, ModelConfig, RunConfig, TrainConfig, merge
from nowcast.config_resolve import resolve_config
from nowcast.errors import ConfigError
from nowcast.presets import PRESETS, apply_preset

runner = CliRunner()


@pytest.mark.parametrize("section", [ModelConfig, DataConfig, TrainConfig])
def test_every_numeric_setting_has_limits(
    section: type[ModelConfig | DataConfig | TrainConfig],
) -> None:
    numeric = {
        f.name
        for f in dataclasses.fields(section)
        if f.type in ("int", "float") or "tuple" in f.type
    }
    assert numeric == set(section.LIMITS)


def test_the_defaults_and_every_preset_are_valid() -> None:
    for name in PRESETS:
        apply_preset(RunConfig(), name)  # raises on a setting out of range


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ({"train": {"batch_size": 0}}, "train.batch_size must be a finite number >= 1, got 0"),
        ({"train": {"lr": -1e-3}}, "train.lr must be a finite number >= 0, got -0.001"),
        ({"train": {"lr": float("nan")}}, "train.lr must be a finite number >= 0, got nan"),
        ({"train": {"lr": float("inf")}}, "train.lr must be a finite number >= 0, got inf"),
        ({"train": {"num_workers": -1}}, "train.num_workers must be a finite number >= 0, got -1"),
        ({"train": {"max_steps": -5}}, "train.max_steps must be a finite number >= 0, got -5"),
        ({"train": {"max_epochs": 0}}, "train.max_epochs must be a finite number >= 1, got 0"),
        (
            {"train": {"csi_thresholds": [1.0, float("nan")]}},
            "train.csi_thresholds must be a non-empty list of numbers > 0, got (1.0, nan)",
        ),
        (
            {"train": {"lead_weight_power": float("-inf")}},
            "train.lead_weight_power must be a finite number, got -inf",
        ),
        ({"data": {"in_len": 0}}, "data.in_len must be a finite number >= 1, got 0"),
        ({"data": {"crop": -64}}, "data.crop must be a finite number >= 0, got -64"),
        ({"data": {"time_strides": []}}, "data.time_strides must be a non-empty list"),
        ({"data": {"val_fraction": 1.5}}, "data.val_fraction must be a finite number between 0"),
        (
            {"data": {"val_fraction": 0.6, "test_fraction": 0.6}},
            "data.val_fraction + data.test_fraction must be <= 1, got 0.6 + 0.6",
        ),
        ({"model": {"patch_size": 0}}, "model.patch_size must be a finite number >= 1, got 0"),
        ({"model": {"hidden_channels": [8, 0]}}, "model.hidden_channels must be a non-empty"),
        ({"model": {"frame": "moving"}}, "model.frame must be one of eulerian, lagrangian"),
    ],
)
def test_a_setting_out_of_range_is_one_config_error_naming_it(
    updates: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        merge(RunConfig(), updates)
    assert str(caught.value).startswith(message)


def test_a_toml_file_with_nan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("[train]\nweight_decay = nan\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="train.weight_decay must be a finite number >= 0"):
        resolve_config("tiny", path)


def test_a_config_built_in_code_is_checked_too() -> None:
    with pytest.raises(ConfigError, match="train.seed must be a finite number >= 0, got -1"):
        TrainConfig(seed=-1)
    with pytest.raises(ConfigError, match="data.timestep_s"):
        dataclasses.replace(DataConfig(), timestep_s=0)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--batch-size", "0"),
        ("--max-steps", "-5"),
        ("--num-workers", "-1"),
        ("--in-len", "0"),
        ("--max-epochs", "0"),
        ("--lr", "-0.1"),
        ("--lr", "nan"),
    ],
)
def test_train_options_out_of_range_are_usage_errors(
    option: str, value: str, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    result = runner.invoke(
        app, ["train", "--preset", "tiny", "--run-dir", str(runs / "a"), option, value]
    )
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.stderr
    assert not runs.exists()  # nothing started: no run folder, no runs/latest


def test_a_nan_in_a_config_file_is_one_error_line_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("[train]\nlr = nan\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "--config", str(path), "--print-config"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: train.lr must be a finite number >= 0, got nan"
