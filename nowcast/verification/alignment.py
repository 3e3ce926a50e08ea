"""A forecast file placed on the observations' grid before it is scored.

Equal grid shapes are not enough: a forecast shifted by 500 km, in another
projection or stored south-up would be compared pixel by pixel with rain
somewhere else. The forecast's x/y cell centres must match the observations'
within :data:`TOLERANCE` of a cell, its projection must be the same CRS (as PROJ
compares them, not as the attributes are spelled), and a forecast whose rows
or columns run the other way (``y`` increasing, ``x`` decreasing) is flipped to
the observations' orientation.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from nowcast.errors import InputError
from nowcast.io.grid import Grid
from nowcast.io.proj4 import crs_from_proj4
from nowcast.io.writers.forecast import ForecastFile

#: Largest difference between forecast and observed cell centres, as a fraction of a cell.
TOLERANCE = 0.01


def aligned_forecast(
    forecast: ForecastFile, grid: Grid, path: Path
) -> tuple[ForecastFile, list[str]]:
    """The forecast placed on the observations' ``grid``, and notes on what was flipped.

    Its deterministic fields and its members (an ensemble file) are flipped alike,
    so both lie on the observations' cells; the result's grid is ``grid``.

    Raises:
        InputError: when the shapes, projections or cell centres differ.
    """
    theirs = forecast.grid
    if theirs.shape != grid.shape:
        raise InputError(f"{path}: grid {theirs.shape} differs from the observations' {grid.shape}")
    _check_projection(theirs, grid, path)
    dy, dx = grid.spacing
    fields, members, notes = forecast.fields, forecast.members, []
    for axis, name, stored, wanted, cell in (
        (-2, "y", theirs.y, grid.y, dy),
        (-1, "x", theirs.x, grid.x, dx),
    ):
        if _flipped(stored, wanted, cell, name, path, grid.is_projected):
            fields = np.flip(fields, axis)
            members = None if members is None else np.flip(members, axis)
            notes.append(f"{path.name}: {name} runs the other way; flipped to the observations'")
    return replace(forecast, fields=fields, members=members, grid=grid), notes


def _check_projection(theirs: Grid, ours: Grid, path: Path) -> None:
    """Refuse a forecast in another CRS, or with no projection where the observations have one."""
    if theirs.is_projected != ours.is_projected:
        has = "has no grid_mapping" if ours.is_projected else "has a projection"
        raise InputError(f"{path}: {has} but the observations are on {ours.describe()}")
    if not ours.is_projected or not theirs.proj4 or not ours.proj4:
        return
    if not crs_from_proj4(theirs.proj4).equals(crs_from_proj4(ours.proj4), ignore_axis_order=True):
        raise InputError(
            f"{path}: projection {theirs.proj4!r} differs from the observations' {ours.proj4!r}"
        )


def _flipped(
    stored: np.ndarray, wanted: np.ndarray, cell: float, name: str, path: Path, metres: bool
) -> bool:
    """Whether an axis matches ``wanted`` reversed; refused when it matches neither way."""
    tolerance = TOLERANCE * cell
    if np.allclose(stored, wanted, rtol=0.0, atol=tolerance):
        return False
    if np.allclose(stored[::-1], wanted, rtol=0.0, atol=tolerance):
        return True
    offset = float(np.max(np.abs(stored - wanted)))
    unit = "m" if metres else "pixels"
    raise InputError(
        f"{path}: {name} coordinates differ from the observations' by up to {offset:g} {unit} "
        f"(more than {TOLERANCE:.0%} of a cell); regrid the forecast onto the observations' grid"
    )
