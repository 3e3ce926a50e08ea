"""The configuration of a new run: defaults < preset < config file < explicit settings.

A preset is the coarse recipe, a TOML file refines it and explicit settings
(command-line flags) win over both. This sits above :mod:`nowcast.config` and
:mod:`nowcast.presets` because it uses both; resuming a run, which starts
from a checkpoint's config instead, is :mod:`nowcast.training.launch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nowcast.config import RunConfig, load_toml, merge
from nowcast.presets import apply_preset


def given(updates: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The settings of nested ``{section: {key: value}}`` updates that were actually given.

    ``None`` values and the sections left empty are dropped.

    Command-line options default to ``None`` so that an option left out does
    not override the preset or the file with a default of its own.
    """
    kept = {
        section: {key: value for key, value in values.items() if value is not None}
        for section, values in updates.items()
    }
    return {section: values for section, values in kept.items() if values}


def resolve_config(
    preset: str | None = None,
    config_file: Path | None = None,
    updates: dict[str, Any] | None = None,
) -> RunConfig:
    """Built-in defaults, then ``preset``, then ``config_file``, then ``updates`` on top.

    Args:
        preset: Name of a :data:`nowcast.presets.PRESETS` recipe, or ``None``.
        config_file: TOML file with ``[model]``, ``[data]`` and ``[train]`` tables, or ``None``.
        updates: Explicit settings, nested as for :func:`nowcast.config.merge`
            (only those given, see :func:`given`).

    Raises:
        ConfigError: for an unknown preset, an unreadable file, an unknown key or a
            value of the wrong type.
    """
    config = RunConfig()
    if preset:
        config = apply_preset(config, preset)
    if config_file:
        config = merge(config, load_toml(config_file))
    return merge(config, updates or {})
