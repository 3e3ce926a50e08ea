"""PROJ strings: parsed, repaired to metres, and turned into pyproj CRS objects and back.

The lowest layer of the projection code: :mod:`nowcast.io.projection` (CF grid mappings,
north-up grids, lat/lon) builds on it, and the readers use :func:`metres_proj4` to repair
the kilometre strings some producers (KNMI) write. ``Grid.proj4`` is always such a string,
with projected coordinates in **metres**.
"""

from __future__ import annotations

import functools
import warnings

from pyproj import CRS
from pyproj.exceptions import CRSError

from nowcast.errors import InputError, first_line

_LENGTH_PARAMS = ("a", "b", "R", "x_0", "y_0")
#: Earth radii below this many units must be kilometres (6378.137 rather than 6378137).
_KM_RADIUS_LIMIT = 1.0e5


def _proj_params(proj4: str) -> list[tuple[str, str | None]]:
    """Split ``+key=value +flag`` into ``[(key, value), (flag, None)]``."""
    params: list[tuple[str, str | None]] = []
    for token in proj4.replace("+", " +").split():
        key, _, value = token.lstrip("+").partition("=")
        if key:
            params.append((key, value if _ else None))
    return params


def metres_proj4(proj4: str) -> str:
    """Return ``proj4`` rewritten so that its projected x/y are metres.

    Some producers (KNMI) give the ellipsoid in kilometres
    (``+a=6378.137 +b=6356.752``), which PROJ rejects as a "non-Earth body".
    When the radius (``+a``, ``+b`` or ``+R``) is below 100 000 it is taken as
    kilometres: ``a``, ``b``, ``R``, ``x_0`` and ``y_0`` are multiplied by 1000.
    Any ``+units``/``+to_meter`` is replaced by ``+units=m``, so the result
    always describes metre coordinates. Strings already in metres come back
    unchanged apart from ``+units=m``.

    Args:
        proj4: A PROJ string (``+proj=... +key=value ...``).

    Returns:
        The PROJ string with lengths in metres.
    """
    params = _proj_params(proj4.strip())
    radii = [float(v) for k, v in params if k in ("a", "b", "R") and v and _is_number(v)]
    in_km = bool(radii) and max(radii) < _KM_RADIUS_LIMIT
    out = []
    for key, value in params:
        if key in ("units", "to_meter"):
            continue
        if in_km and key in _LENGTH_PARAMS and value is not None and _is_number(value):
            value = f"{float(value) * 1000.0:.10g}"
        out.append(f"+{key}" if value is None else f"+{key}={value}")
    out.append("+units=m")
    return " ".join(out)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def crs_from_proj4(proj4: str) -> CRS:
    """Parse a PROJ string (in metres), or any pyproj user input such as WKT, into a CRS.

    Raises:
        InputError: when PROJ cannot use the string.
    """
    try:
        return _cached_crs(proj4)
    except CRSError as exc:
        raise InputError(f"unusable projection {proj4!r}: {first_line(exc)}") from None


@functools.lru_cache(maxsize=32)
def _cached_crs(proj4: str) -> CRS:
    return CRS.from_user_input(proj4)


def proj4_from_crs(crs: CRS) -> str:
    """The PROJ string of ``crs`` (metres), without pyproj's lossy-conversion warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proj4 = crs.to_proj4()
    if not proj4:
        raise InputError(f"projection {crs.name!r} has no PROJ string")
    return proj4
