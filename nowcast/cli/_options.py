"""Options that several commands share, defined once so their help reads the same."""

from __future__ import annotations

from typing import Annotated

import typer

from nowcast.cli import _console
from nowcast.errors import ConfigError

ScaleKm = Annotated[
    float | None,
    typer.Option(
        "--scale-km",
        help="Working grid in km: the model forecasts block means of about this size, "
        "interpolated back onto the input grid (less fading, less detail at first). "
        "0 = the data's own grid. Default: the model's own (3 for the bundled model).",
        min=0.0,
    ),
]
Frame = Annotated[
    str | None,
    typer.Option(
        "--frame",
        help="Where the network forecasts: eulerian (the fixed grid) or lagrangian (the frame "
        "moving with the rain: the motion of the inputs is estimated, the network forecasts "
        "growth and decay, its output is advected). Default: the model's own.",
    ),
]
ModelSpec = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Checkpoint file or run directory; 'default' = the bundled model. "
        "Default: the newest run under runs/, else the bundled model.",
    ),
]
_DEVICE = typer.Option("--device", help="auto, cpu or cuda.", envvar="NOWCAST_DEVICE")
Device = Annotated[str, _DEVICE]
ConfigDevice = Annotated[str | None, _DEVICE]
"""``--device`` of ``train``: ``None`` keeps the preset's or config file's ``train.device``."""
Overwrite = Annotated[
    bool, typer.Option("--overwrite/--no-overwrite", help="Replace OUTPUT if it exists.")
]


def member_count(count: int) -> int:
    """``--members`` when it is 0 or at least 2; anything else is a usage error (exit 2)."""
    from nowcast.verification.probabilistic import check_members

    try:
        return check_members(count, "--members")
    except ConfigError as exc:
        raise _console.fail(str(exc), 2) from None


def comma_numbers(text: str, what: str) -> list[float]:
    """Comma-separated numbers > 0; anything else is a usage error (exit 2) naming ``what``."""
    from nowcast.verification.evaluate import positive_numbers

    try:
        return positive_numbers([float(v) for v in text.split(",") if v.strip()], what)
    except ValueError:
        raise _console.fail(f"{what} must be comma-separated numbers, got {text!r}", 2) from None
    except ConfigError as exc:
        raise _console.fail(str(exc), 2) from None
