"""Units of CF variables and coordinates: UDUNITS-style strings turned into factors.

Kept apart from the reader because it is string arithmetic alone (no NetCDF):
:mod:`nowcast.io.readers.cf.field` uses it to tell rates from amounts,
:mod:`nowcast.io.readers.cf.coords` to put x/y in metres and ``cell_methods``
intervals in seconds, and the reader to convert values to mm h-1. Every other
place that asks "is this mm h-1?" uses :func:`is_mm_per_hour`, so that no
hand-written list of spellings can disagree with another.
"""

from __future__ import annotations

import math
import re

#: unit symbol -> (factor to SI, exponents of (length, mass, time))
_UNITS: dict[str, tuple[float, tuple[int, int, int]]] = {
    **dict.fromkeys(("m", "meter", "meters", "metre", "metres"), (1.0, (1, 0, 0))),
    **dict.fromkeys(
        ("mm", "millimeter", "millimeters", "millimetre", "millimetres"), (1e-3, (1, 0, 0))
    ),
    **dict.fromkeys(
        ("cm", "centimeter", "centimeters", "centimetre", "centimetres"), (1e-2, (1, 0, 0))
    ),
    **dict.fromkeys(("km", "kilometer", "kilometers", "kilometre", "kilometres"), (1e3, (1, 0, 0))),
    **dict.fromkeys(("kg", "kilogram", "kilograms"), (1.0, (0, 1, 0))),
    **dict.fromkeys(("g", "gram", "grams"), (1e-3, (0, 1, 0))),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), (1.0, (0, 0, 1))),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), (60.0, (0, 0, 1))),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), (3600.0, (0, 0, 1))),
    **dict.fromkeys(("d", "day", "days"), (86400.0, (0, 0, 1))),
}
_UNIT_TOKEN = re.compile(r"([a-z]+)(-?\d+)?")
_WATER_DENSITY = 1000.0  # kg m-3: 1 kg m-2 of water is 1 mm deep


def parse_units(units: str) -> tuple[float, tuple[int, int, int]]:
    """Parse a UDUNITS-style product of powers, e.g. ``kg m-2 s-1``, ``mm/h``, ``m.s^-1``.

    Returns:
        ``(factor, (length, mass, time))``: multiply a value by ``factor`` to
        get SI (m, kg, s) with those exponents.

    Raises:
        ValueError: for unknown symbols or syntax.
    """
    text = units.strip().lower().replace("**", "").replace("^", "")
    if not text:
        raise ValueError("empty units")
    factor, dims = 1.0, [0, 0, 0]
    for index, part in enumerate(text.split("/")):
        sign = 1 if index == 0 else -1
        for token in re.split(r"[\s.*·]+", part.strip()):
            match = _UNIT_TOKEN.fullmatch(token)
            if match is None or match.group(1) not in _UNITS:
                raise ValueError(f"unknown units {units!r}")
            scale, unit_dims = _UNITS[match.group(1)]
            power = sign * int(match.group(2) or 1)
            factor *= scale**power
            dims = [d + power * u for d, u in zip(dims, unit_dims, strict=True)]
    return factor, (dims[0], dims[1], dims[2])


def rate_factor(units: str) -> float:
    """Factor turning a rate in ``units`` (speed or water mass flux) into mm h-1."""
    factor, dims = parse_units(units)
    if dims == (1, 0, -1):
        return factor * 1000.0 * 3600.0
    if dims == (-2, 1, -1):
        return factor / _WATER_DENSITY * 1000.0 * 3600.0
    raise ValueError(f"units {units!r} are not a precipitation rate (e.g. mm h-1, m s-1)")


def is_mm_per_hour(units: str) -> bool:
    """Whether values in ``units`` are rain rates in mm h-1 as they stand (factor 1).

    True for every spelling of it (``mm h-1``, ``mm/h``, ``mm hr-1``, ``mm h**-1``,
    ``kg m-2 h-1`` ...); False for other rates, other quantities and unparsable units.
    """
    try:
        return math.isclose(rate_factor(units), 1.0)
    except ValueError:
        return False


def depth_factor(units: str) -> float:
    """Factor turning a precipitation amount in ``units`` (depth or water mass per area) into mm."""
    factor, dims = parse_units(units)
    if dims == (1, 0, 0):
        return factor * 1000.0
    if dims == (-2, 1, 0):
        return factor / _WATER_DENSITY * 1000.0
    raise ValueError(f"units {units!r} are not a precipitation amount (e.g. mm, kg m-2)")


def length_factor(units: str) -> float:
    """Factor turning a coordinate in ``units`` (m, km ...) into metres."""
    factor, dims = parse_units(units)
    if dims != (1, 0, 0):
        raise ValueError(f"units {units!r} are not a length")
    return factor
