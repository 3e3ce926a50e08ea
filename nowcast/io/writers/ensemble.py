"""The ensemble part of the forecast file: members, their deterministic companion, probabilities.

docs/forecast.md section 5, "Ensemble forecasts", lays it out after IMPROVER: the
rain variable gains a ``realization`` dimension (one slice per equally likely
member), the single field scored as "the" forecast moves to
``<var>_deterministic``, and ``probability_of_<var>_above_threshold`` holds the
fraction of members at or above each threshold. :class:`EnsembleSpec` is what a
writer's caller says about its members; the functions below define and fill the
extra variables and list a lead time's fields
(:class:`~nowcast.io.writers.forecast.ForecastWriter`) and find
the members again in any CF ensemble file (:func:`~nowcast.io.writers.forecast.read_forecast`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

from nowcast.errors import InputError
from nowcast.io import cf
from nowcast.io.readers.cf.field import attr
from nowcast.io.writers.chunks import COMPLEVEL
from nowcast.io.writers.fields import Field


@dataclass(frozen=True)
class EnsembleSpec:
    """An ensemble forecast as its writer's caller describes it.

    Attributes:
        members: Number of equally likely members (> 0).
        thresholds: ``float32`` probability thresholds in the variable's units, strictly
            ascending (float32 as stored, so that the probabilities written agree with
            the thresholds a reader finds in the file).
        method: How the members were made (the ``nowcast_ensemble_method`` attribute).
        deterministic_long_name: How the deterministic field was made (its ``long_name``).
        deterministic_is_mean: Whether that field is the member mean
            (``cell_methods = "realization: mean"``).
    """

    members: int
    thresholds: np.ndarray
    method: str
    deterministic_long_name: str
    deterministic_is_mean: bool


def ensemble_spec(
    members: int,
    thresholds: Sequence[float],
    method: str,
    deterministic_long_name: str,
    deterministic_is_mean: bool,
) -> EnsembleSpec | None:
    """The checked ensemble options of a writer; None for a deterministic forecast.

    Raises:
        ValueError: thresholds without members, a negative member count, a threshold
            that is not finite or given twice, or members without ``method`` or
            ``deterministic_long_name`` (the file must say how both were made).
    """
    values = np.sort(np.asarray(thresholds, dtype=np.float32).reshape(-1))
    if members < 0:
        raise ValueError(f"members must be >= 0, got {members}")
    if members == 0:
        if values.size:
            raise ValueError("probability thresholds need ensemble members")
        return None
    if not np.all(np.isfinite(values)) or np.any(np.diff(values) == 0):
        raise ValueError(f"thresholds must be finite and distinct, got {values.tolist()}")
    if not method.strip() or not deterministic_long_name.strip():
        raise ValueError("an ensemble needs ensemble_method and deterministic_long_name")
    return EnsembleSpec(members, values, method, deterministic_long_name, deterministic_is_mean)


def global_attrs(spec: EnsembleSpec | None) -> dict[str, Any]:
    """The global attributes saying how the members were made and how many there are."""
    if spec is None:
        return {}
    return {
        "nowcast_ensemble_method": spec.method,
        "nowcast_ensemble_members": np.int32(spec.members),
    }


def define_coordinates(nc: netCDF4.Dataset, spec: EnsembleSpec, variable: str) -> None:
    """Create the ``realization`` (and, with thresholds, ``threshold``) dimension and coordinate.

    Members are numbered ``0 .. members-1``; the threshold coordinate carries the
    variable's standard name and units, as IMPROVER's does.
    """
    nc.createDimension(cf.REALIZATION, spec.members)
    realization = nc.createVariable(cf.REALIZATION, "i4", (cf.REALIZATION,))
    realization.setncatts(cf.REALIZATION_ATTRS)
    realization[:] = np.arange(spec.members, dtype=np.int32)
    if not spec.thresholds.size:
        return
    nc.createDimension(cf.THRESHOLD, spec.thresholds.size)
    threshold = nc.createVariable(cf.THRESHOLD, "f4", (cf.THRESHOLD,))
    attrs = cf.VARIABLE_ATTRS[variable]
    threshold.setncatts(
        {
            **{k: v for k, v in attrs.items() if k == "standard_name"},
            "long_name": f"threshold of {str(attrs['long_name']).lower()}",
            "units": attrs["units"],
            "spp__relative_to_threshold": cf.RELATIVE_TO_THRESHOLD,
        }
    )
    threshold[:] = spec.thresholds


def deterministic_attrs(attrs: dict[str, Any], spec: EnsembleSpec) -> dict[str, Any]:
    """The deterministic variable's attributes: the members' with its own ``long_name``."""
    result = {**attrs, "long_name": spec.deterministic_long_name}
    if spec.deterministic_is_mean:
        result["cell_methods"] = f"{cf.REALIZATION}: mean"
    return result


def define_probability(
    nc: netCDF4.Dataset, variable: str, shape: tuple[int, int], placing: dict[str, str]
) -> None:
    """Create ``probability_of_<variable>_above_threshold(threshold, time, y, x)``.

    float32 in [0, 1] (NaN, stored as the fill value, where there is no coverage),
    one chunk per (threshold, lead time); ``placing`` are the rain variable's
    ``coordinates`` and ``grid_mapping``.
    """
    name = cf.probability_name(variable)
    prob = nc.createVariable(
        name,
        "f4",
        (cf.THRESHOLD, "time", "y", "x"),
        fill_value=cf.FILL_VALUE,
        zlib=True,
        complevel=COMPLEVEL,
        shuffle=True,
        chunksizes=(1, 1, *shape),
    )
    prob.setncatts(
        {
            "valid_min": np.float32(0.0),
            "valid_max": np.float32(1.0),
            "long_name": name,
            "units": "1",
            **placing,
        }
    )


def fields(
    variable: str, spec: EnsembleSpec, index: int, deterministic: np.ndarray, members: np.ndarray
) -> Iterator[Field]:
    """Lead time ``index`` of an ensemble file as fields to store (:class:`~.fields.FieldStore`).

    The members, the deterministic field, then the probabilities: computed only
    once the others have been taken, so while they are being compressed.
    """
    for member, values in enumerate(members):
        yield variable, (member, index), values
    yield variable + cf.DETERMINISTIC_SUFFIX, (index,), deterministic
    if spec.thresholds.size:
        chances = probabilities(members, deterministic, spec.thresholds)
        for k, values in enumerate(chances):
            yield cf.probability_name(variable), (k, index), values


def probabilities(
    members: np.ndarray, deterministic: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """Fraction of members at or above each threshold, ``float32 (thresholds, ny, nx)``.

    Members are counted one at a time into the smallest integer that holds their
    number (half the time of counting a ``(members, ny, nx)`` comparison); the
    fraction is the float64 quotient rounded to float32.

    Args:
        members: ``(members, ny, nx)`` member fields; a NaN member counts as below.
        deterministic: ``(ny, nx)``; NaN marks no coverage, where every probability is NaN.
        thresholds: ``float32`` thresholds in the fields' units.
    """
    result = np.empty((thresholds.size, *deterministic.shape), dtype=np.float32)
    counts = np.empty(deterministic.shape, dtype=np.min_scalar_type(members.shape[0]))
    above = np.empty(deterministic.shape, dtype=bool)
    for k, threshold in enumerate(thresholds):
        counts.fill(0)
        for member in members:
            counts += np.greater_equal(member, threshold, out=above)
        result[k] = counts / np.float64(members.shape[0])
    result[:, np.isnan(deterministic)] = np.nan
    return result


# --- reading --------------------------------------------------------------------------


def realization_dim(nc: netCDF4.Dataset, var: Any, path: Path) -> str:
    """The dimension of a 4-D rain variable that numbers its members.

    It is the one whose coordinate variable has ``standard_name = "realization"``,
    whatever its name and position.

    Raises:
        InputError: when no dimension is one: a dimension without a coordinate
            variable (members that cannot be told apart), or another 4th dimension.
    """
    for dim in var.dimensions:
        coord = nc.variables.get(dim)
        if coord is not None and attr(coord, "standard_name") == cf.REALIZATION:
            return str(dim)
    dims = ", ".join(var.dimensions)
    bare = [dim for dim in var.dimensions if dim not in nc.variables]
    if bare:
        raise InputError(
            f"{path}: dimension {bare[0]!r} of {var.name}({dims}) has no coordinate variable; "
            f'an ensemble\'s realization dimension needs one (standard_name = "realization")'
        )
    raise InputError(
        f"{path}: {var.name}({dims}) has a 4th dimension that is not a realization "
        '(standard_name = "realization"); only members, time, y and x are understood'
    )


def member_mean(members: np.ndarray) -> np.ndarray:
    """Mean of the members with coverage, ``(time, y, x)``; NaN where no member has any."""
    covered = np.isfinite(members)
    count = covered.sum(axis=0)
    total = np.where(covered, members, 0.0).sum(axis=0)
    mean = np.full(count.shape, np.nan, dtype=np.float32)
    np.divide(total, count, out=mean, where=count > 0, casting="unsafe")
    return mean


def read_thresholds(nc: netCDF4.Dataset, variable: str, dims: Sequence[str]) -> np.ndarray:
    """The probability thresholds of ``variable`` (float64, as stored); empty without any.

    They are the coordinate of the one dimension of
    ``probability_of_<variable>_above_threshold`` that the rain variable lacks.
    """
    prob = nc.variables.get(cf.probability_name(variable))
    extra = [dim for dim in (prob.dimensions if prob is not None else ()) if dim not in dims]
    if len(extra) != 1 or extra[0] not in nc.variables:
        return np.empty(0)
    return np.asarray(np.ma.filled(nc[extra[0]][:], np.nan), dtype=np.float64).reshape(-1)
