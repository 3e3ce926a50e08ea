"""How ``--help`` pages read: no value type beside a flag, paragraphs that fill the window.

Typer prints a type such as ``<bool>`` beside every option, flags included,
which reads as if ``--plot`` wanted a value; and it keeps a docstring's line
breaks, so the help of a command breaks lines where its source file did.
The command classes here leave the type column of flags empty, and
:func:`help_text` joins each paragraph into one line for the help to wrap.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer.core


def _without_flag_types(params: list[Any]) -> list[Any]:
    """``params`` with an empty type column for every flag (``--plot``, ``--help``, ...)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class Command(typer.core.TyperCommand):
    """A command whose help shows no ``<bool>`` beside its flags."""

    def get_params(self, ctx: Any) -> list[Any]:
        """The parameters, flags without a value type."""
        return _without_flag_types(super().get_params(ctx))


class Group(typer.core.TyperGroup):
    """The command group (``nowcast --help``), with the flags of :class:`Command`."""

    def get_params(self, ctx: Any) -> list[Any]:
        """The parameters, flags without a value type."""
        return _without_flag_types(super().get_params(ctx))


def help_text(function: Callable[..., Any]) -> str:
    """A command function's docstring as help: dedented, one line per paragraph."""
    paragraphs = inspect.cleandoc(function.__doc__ or "").split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)
