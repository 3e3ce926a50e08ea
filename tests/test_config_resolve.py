"""Config precedence of a new run: defaults < preset < config file < explicit settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from nowcast.config import RunConfig
from nowcast.config_resolve import given, resolve_config
from nowcast.errors import ConfigError
from nowcast.presets import PRESETS


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_nothing_given_is_the_defaults() -> None:
    assert resolve_config() == RunConfig()


def test_preset_over_defaults() -> None:
    config = resolve_config("tiny")
    assert config.train.max_epochs == PRESETS["tiny"]["train"]["max_epochs"]
    assert config.train.max_epochs != RunConfig().train.max_epochs
    assert config.train.optimizer == RunConfig().train.optimizer  # not in the preset: default


def test_file_over_preset_and_settings_over_both(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[train]\nmax_epochs = 7\nlr = 0.5\n\n[data]\ncrop = 16\n")
    from_file = resolve_config("tiny", path)
    assert (from_file.train.max_epochs, from_file.train.lr, from_file.data.crop) == (7, 0.5, 16)
    assert from_file.train.batch_size == PRESETS["tiny"]["train"]["batch_size"]
    assert from_file.model == resolve_config("tiny").model  # the file leaves [model] alone

    final = resolve_config("tiny", path, {"train": {"max_epochs": 3}})
    assert (final.train.max_epochs, final.train.lr, final.data.crop) == (3, 0.5, 16)


def test_settings_over_defaults_without_preset_or_file() -> None:
    config = resolve_config(updates={"data": {"in_len": 3}})
    assert config.data.in_len == 3 and config.train == RunConfig().train


def test_given_drops_unset_values_and_empty_sections() -> None:
    updates = {"data": {"crop": None}, "train": {"lr": 0.1, "seed": None, "compile": False}}
    assert given(updates) == {"train": {"lr": 0.1, "compile": False}}
    config = resolve_config("tiny", None, given(updates))
    assert config.data.crop == resolve_config("tiny").data.crop and config.train.lr == 0.1


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown preset"):
        resolve_config("huge")
    with pytest.raises(ConfigError, match="cannot read config"):
        resolve_config(config_file=tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="unknown config key train.speed"):
        resolve_config(config_file=_toml(tmp_path, "[train]\nspeed = 1\n"))
