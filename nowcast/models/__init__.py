"""Models, found by name.

Every model is an ``nn.Module`` built from a :class:`~nowcast.config.ModelConfig`
alone and called as ``model(x, out_len)`` with ``x`` of shape ``(B, T_in, C, H, W)``
(layout ``BTCHW``), returning ``(B, out_len, C, H, W)``. Model classes register
themselves with :func:`register_model`; :func:`build_model` looks them up by
``cfg.name``.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import TypeVar

from torch import nn

from nowcast.config import ModelConfig
from nowcast.errors import ConfigError

ModelFactory = Callable[[ModelConfig], nn.Module]
F = TypeVar("F", bound=ModelFactory)

_REGISTRY: dict[str, ModelFactory] = {}
# Modules whose import registers the built-in models; imported on first lookup
# because they themselves import this package for ``register_model``.
_BUILTIN_MODULES = ("nowcast.models.encoder_forecaster", "nowcast.models.persistence")


def register_model(name: str) -> Callable[[F], F]:
    """Class decorator: make a model buildable as ``ModelConfig(name=name)``.

    Registering a name twice replaces the earlier model and emits a
    ``RuntimeWarning``, so a plugin cannot shadow a built-in silently.
    """

    def decorator(factory: F) -> F:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            warnings.warn(
                f"model {name!r} registered again; replacing", RuntimeWarning, stacklevel=2
            )
        _REGISTRY[name] = factory
        return factory

    return decorator


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def build_model(cfg: ModelConfig) -> nn.Module:
    """Build the model registered under ``cfg.name``.

    Raises:
        ConfigError: when no model has that name (the message lists the known ones).
    """
    _load_builtins()
    if cfg.name not in _REGISTRY:
        raise ConfigError(f"unknown model {cfg.name!r} (known: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[cfg.name](cfg)
