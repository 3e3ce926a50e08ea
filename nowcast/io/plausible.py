"""The physical-plausibility contract: which decoded values can be rain, which frames can be data.

A decoding mistake (wrong units, an ODIM ``gain``, a CF ``scale_factor``) or
a corrupt pixel (``inf``, an undeclared fill value such as ``1e30``) gives
numbers that no radar measures. They are stopped here, at the readers'
output (:func:`screen_frame`, used by ``ingest`` and by ``forecast`` on raw
files) and again when a canonical file is read (:func:`sanitise`), so they
never reach a canonical file, a network, the motion fit or a forecast file:

* a value that is infinite or outside ``±max_rate`` (mm h-1; 1 for Moving
  MNIST intensities) is *implausible*: it becomes no data (NaN) and is counted
  (the canonical file's ``nowcast_implausible_values``);
* a frame is refused (:class:`~nowcast.errors.InputError`) when its
  implausible pixels outnumber its plausible rain pixels and are at least
  :data:`REFUSE_SHARE` of its valid pixels: the signature of a field decoded
  with the wrong scale, where isolated hot pixels in a dry frame are only masked.

Small negative values are clipped to 0 (and counted) by the ingest writer;
a canonical file's ``valid_min = 0`` makes any negative value no data on reading.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from nowcast.errors import ConfigError, InputError
from nowcast.io import cf
from nowcast.io.grid import Frame

#: mm h-1: the default largest plausible rain rate (``ingest --max-rate``).
DEFAULT_MAX_RATE = 500.0
#: The largest plausible Moving MNIST intensity (the canonical range is [0, 1]).
INTENSITY_MAX = 1.0
#: Share of a frame's valid pixels its implausible pixels must reach before it is refused.
REFUSE_SHARE = 1e-3
#: Global attribute of a canonical file: the largest plausible rate it was ingested with.
MAX_RATE_ATTR = "nowcast_max_rate"
#: Global attribute of a canonical file: values ingest turned into no data.
IMPLAUSIBLE_ATTR = "nowcast_implausible_values"


def check_max_rate(value: float) -> float:
    """``value`` when it is a usable largest plausible rate (finite, > 0, mm h-1).

    Raises:
        ConfigError: for 0, a negative number, NaN or infinity.
    """
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"the largest plausible rate must be finite and > 0 mm h-1, got {value}")
    return float(value)


def value_limit(variable: str, max_rate: float) -> float:
    """The largest plausible magnitude of ``variable``: ``max_rate`` (mm h-1), 1 for intensity."""
    return INTENSITY_MAX if variable == cf.INTENSITY else max_rate


def implausible_mask(values: np.ndarray, limit: float) -> np.ndarray | None:
    """Pixels that are infinite or beyond ``±limit`` (NaN is no coverage, not implausible).

    Returns:
        A boolean mask of ``values``' shape, or None when no pixel is
        implausible (the common case, found with two reductions and no copy).
    """
    high = np.fmax.reduce(values, axis=None)  # NaN only when every pixel is NaN
    low = np.fmin.reduce(values, axis=None)
    if not (high > limit or low < -limit):
        return None
    with np.errstate(invalid="ignore"):
        return ~(np.abs(values) <= limit) & ~np.isnan(values)


def sanitise(values: np.ndarray, limit: float) -> np.ndarray:
    """``values`` (float, changed in place) with implausible pixels NaN.

    Applied to every frame read from a canonical file, so that a file edited
    by hand cannot bring infinities or impossible rates into a forecast.
    """
    bad = implausible_mask(values, limit)
    if bad is not None:
        values[bad] = np.nan
    return values


def screen_frame(frame: Frame, max_rate: float) -> Frame:
    """``frame`` with its implausible pixels NaN and counted in ``Frame.implausible``.

    Raises:
        InputError: naming the source file, when the frame is wholly implausible
            (see the module's rule): decoded with the wrong units or scale.
    """
    limit = value_limit(frame.variable, max_rate)
    bad = implausible_mask(frame.values, limit)
    if bad is None:
        return frame
    count = int(np.count_nonzero(bad))
    _refuse_if_implausible(frame, bad, count, limit)
    values = np.where(bad, np.float32(np.nan), frame.values).astype(np.float32, copy=False)
    return dataclasses.replace(frame, values=values, implausible=frame.implausible + count)


def _refuse_if_implausible(frame: Frame, bad: np.ndarray, count: int, limit: float) -> None:
    """Raise when implausible pixels outnumber plausible rain and are not a few stray ones."""
    values = frame.values
    with np.errstate(invalid="ignore"):
        rain = int(np.count_nonzero((values > 0) & ~bad))
    valid = values.size - int(np.count_nonzero(np.isnan(values)))
    if count > rain and count >= REFUSE_SHARE * valid:
        units = cf.VARIABLE_UNITS.get(frame.variable, "")
        raise InputError(
            f"{frame.source}: implausible frame at {frame.time}Z: {count} of its "
            f"{count + rain} non-zero values are infinite or beyond ±{limit:g} {units} "
            "(wrong units, gain or scale_factor?)"
        )
