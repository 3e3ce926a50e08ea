"""Projection helpers shared by the readers and the canonical writer.

Every grid in ``nowcast`` is described twice (see :class:`nowcast.io.grid.Grid`):

* ``Grid.crs``: the CF grid-mapping attributes written on the ``crs``
  variable (``grid_mapping_name``, Appendix F parameters and ``crs_wkt``),
  built by :func:`cf_grid_mapping`;
* ``Grid.proj4``: a PROJ string whose projected coordinates are **metres**,
  used by :func:`latlon` to compute the 2-D latitude/longitude arrays.

Writers call :func:`cf_grid_mapping` (PROJ string or pyproj CRS -> CF
attributes) and :func:`latlon` (grid -> ``lat``, ``lon``). Readers also use:

* :func:`crs_from_cf`: CF attributes -> pyproj CRS;
* :func:`grid_mapping_from_cf`: tidies a CF file's grid mapping;
* :func:`project`, :func:`unproject`: lon/lat <-> x/y in metres;
* :func:`north_up_grid`: cell centres from an upper-left corner.

PROJ strings themselves (parsing, the kilometre repair, CRS <-> string) are in
:mod:`nowcast.io.proj4`.
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from pyproj import CRS, Transformer
from pyproj.crs.datum import CustomEllipsoid
from pyproj.exceptions import CRSError

from nowcast.errors import InputError, first_line
from nowcast.io.cache import SeriesCache
from nowcast.io.grid import Grid
from nowcast.io.lattice import grid_lonlat
from nowcast.io.proj4 import crs_from_proj4, metres_proj4, proj4_from_crs

#: CF Appendix F attributes kept from ``pyproj.CRS.to_cf()`` (besides
#: ``grid_mapping_name`` and ``crs_wkt``). Descriptive names are kept only when
#: they say something other than "unknown", and the three datum names only
#: together (CF 5.6).
_PARAMETERS = (
    "earth_radius",
    "semi_major_axis",
    "semi_minor_axis",
    "inverse_flattening",
    "longitude_of_prime_meridian",
    "false_easting",
    "false_northing",
    "latitude_of_projection_origin",
    "longitude_of_projection_origin",
    "longitude_of_central_meridian",
    "straight_vertical_longitude_from_pole",
    "standard_parallel",
    "scale_factor_at_central_meridian",
    "scale_factor_at_projection_origin",
    "perspective_point_height",
    "azimuth_of_central_line",
    "sweep_angle_axis",
    "fixed_angle_axis",
    "grid_north_pole_latitude",
    "grid_north_pole_longitude",
    "north_pole_grid_longitude",
    "towgs84",
)
_NAMES = (
    "reference_ellipsoid_name",
    "prime_meridian_name",
    "horizontal_datum_name",
    "geographic_crs_name",
    "projected_crs_name",
)

_DATUM_NAMES = ("reference_ellipsoid_name", "prime_meridian_name", "horizontal_datum_name")


def crs_from_cf(attrs: Mapping[str, Any]) -> CRS:
    """Build a pyproj CRS from CF grid-mapping attributes (``crs_wkt`` wins if present).

    Memoised on the attribute values: pyproj's datum lookup in ``CRS.from_cf``
    takes about 0.2 s, and every file of a series repeats it.

    Raises:
        InputError: when the attributes describe no usable projection.
    """
    clean = {k: _plain(v) for k, v in attrs.items()}
    key = tuple(sorted((k, repr(v)) for k, v in clean.items()))
    if key not in _CF_CACHE:
        if len(_CF_CACHE) >= 32:
            _CF_CACHE.clear()
        _CF_CACHE[key] = _crs_from_cf(clean)
    return _CF_CACHE[key]


_CF_CACHE: dict[tuple[tuple[str, str], ...], CRS] = {}


def _crs_from_cf(clean: dict[str, Any]) -> CRS:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return CRS.from_cf(_with_greenwich(clean))
    except (CRSError, KeyError, ValueError, TypeError) as exc:
        name = clean.get("grid_mapping_name", "?")
        raise InputError(f"unusable grid mapping {name!r}: {first_line(exc)}") from None


def _with_greenwich(attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` naming the Greenwich prime meridian when they give an ellipsoid but no meridian.

    ``CRS.from_cf`` then builds the same CRS (identical WKT) as with the
    meridian left out, where pyproj's default "Greenwich" is looked up by
    name in the PROJ database on every call: about 0.2 s per grid.
    Attributes that name a datum, a meridian or no usable ellipsoid are
    returned unchanged.
    """
    if any(k in attrs for k in ("longitude_of_prime_meridian", "prime_meridian_name")):
        return attrs
    if attrs.get("horizontal_datum_name") not in (None, "", "undefined", "unknown"):
        return attrs
    try:
        CustomEllipsoid(
            semi_major_axis=attrs.get("semi_major_axis"),
            semi_minor_axis=attrs.get("semi_minor_axis"),
            inverse_flattening=attrs.get("inverse_flattening"),
            radius=attrs.get("earth_radius"),
        )
    except (CRSError, TypeError, ValueError):
        return attrs
    return {**attrs, "longitude_of_prime_meridian": 0.0, "prime_meridian_name": "Greenwich"}


def grid_mapping_from_cf(attrs: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """Tidy a grid-mapping variable's attributes read from a CF file.

    Keeps ``grid_mapping_name``, the Appendix F parameters and ``crs_wkt``
    (dropping ``long_name`` and non-CF attributes), converts numpy values to
    plain Python, and adds ``crs_wkt`` from pyproj when the file has none.

    Args:
        attrs: Attributes of the variable named by a data variable's ``grid_mapping``.

    Returns:
        ``(crs_attrs, proj4)``: the attributes for ``Grid.crs`` and a PROJ string
        in metres for ``Grid.proj4``.

    Raises:
        InputError: when pyproj cannot build a projection from them.
    """
    keep = {"grid_mapping_name", "crs_wkt", *_PARAMETERS, *_NAMES}
    out = {k: _plain(v) for k, v in attrs.items() if k in keep}
    key = tuple(sorted((k, repr(v)) for k, v in out.items()))
    crs_attrs, proj4 = _MAPPING_CACHE.get(key, lambda: _mapping_and_proj4(out))
    return copy.deepcopy(crs_attrs), proj4


def _mapping_and_proj4(attrs: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Grid-mapping attributes with ``crs_wkt`` filled in, and the PROJ string in metres."""
    crs = crs_from_cf(attrs)
    attrs.setdefault("crs_wkt", crs.to_wkt())
    return attrs, metres_proj4(proj4_from_crs(crs))


#: grid_mapping_from_cf results by attribute values: every file of a series
#: repeats the same grid mapping, and the WKT and PROJ strings cost about 1 ms.
_MAPPING_CACHE: SeriesCache[tuple[dict[str, Any], str]] = SeriesCache(limit=32)


def _plain(value: Any) -> Any:
    """Numpy scalars/arrays and bytes -> plain Python values, for pyproj and netCDF attributes."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return value.item() if value.size == 1 else [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def cf_grid_mapping(crs: str | CRS) -> dict[str, Any]:
    """CF grid-mapping attributes for the ``crs`` variable of a NetCDF file.

    Uses ``pyproj.CRS.to_cf()`` and keeps ``grid_mapping_name``, the CF
    Appendix F parameters and ``crs_wkt``. Tidied for the CF checker: a sphere
    is written as ``earth_radius``; ``semi_minor_axis`` is dropped when
    ``inverse_flattening`` defines the ellipsoid; polar stereographic gets the
    ``latitude_of_projection_origin`` (+-90) CF requires; the datum names
    (``reference_ellipsoid_name``, ``prime_meridian_name``,
    ``horizontal_datum_name``) are kept all together or not at all (CF 5.6).
    Values are plain Python floats/lists. When CF has no equivalent of the
    projection, only ``crs_wkt`` is returned.

    Args:
        crs: A PROJ string in metres (e.g. ``Grid.proj4``) or a pyproj CRS.

    Returns:
        A new dict (safe to modify).
    """
    text = crs if isinstance(crs, str) else crs.to_wkt()
    return copy.deepcopy(dict(_cached_grid_mapping(text)))


@functools.lru_cache(maxsize=32)
def _cached_grid_mapping(text: str) -> tuple[tuple[str, Any], ...]:
    crs = crs_from_proj4(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cf = crs.to_cf()
    except CRSError:
        cf = {}
    out: dict[str, Any] = {}
    if "grid_mapping_name" in cf:
        out["grid_mapping_name"] = cf["grid_mapping_name"]
        out.update({k: _plain(cf[k]) for k in _PARAMETERS if k in cf})
        out.update({k: cf[k] for k in _NAMES if cf.get(k) not in (None, "", "unknown")})
        if not all(k in out for k in _DATUM_NAMES):  # CF 5.6: all three or none
            for k in _DATUM_NAMES:
                out.pop(k, None)
        _tidy_ellipsoid(out)
        _tidy_polar(out)
    out["crs_wkt"] = crs.to_wkt()
    return tuple(out.items())


def _tidy_ellipsoid(attrs: dict[str, Any]) -> None:
    """Sphere -> ``earth_radius``; ellipsoid -> ``semi_major_axis`` + ``inverse_flattening``."""
    inv_f = attrs.get("inverse_flattening")
    if inv_f is not None and float(inv_f) == 0.0:
        attrs["earth_radius"] = attrs.pop("semi_major_axis")
        attrs.pop("semi_minor_axis", None)
        attrs.pop("inverse_flattening")
    elif inv_f is not None:
        attrs.pop("semi_minor_axis", None)


def _tidy_polar(attrs: dict[str, Any]) -> None:
    """Polar stereographic needs ``latitude_of_projection_origin`` = +-90 (CF Appendix F)."""
    if attrs["grid_mapping_name"] != "polar_stereographic":
        return
    if "latitude_of_projection_origin" not in attrs and "standard_parallel" in attrs:
        attrs["latitude_of_projection_origin"] = math.copysign(90.0, attrs["standard_parallel"])


def project(proj4: str, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project longitude/latitude (degrees, the CRS's own datum) to x/y in metres."""
    crs = crs_from_proj4(proj4)
    transformer = Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    x, y = transformer.transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x, float), np.asarray(y, float)


def unproject(proj4: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`project`: x/y in metres -> (longitude, latitude) in degrees."""
    crs = crs_from_proj4(proj4)
    transformer = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
    lon, lat = transformer.transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon, float), np.asarray(lat, float)


def north_up_grid(
    proj4: str, ul_x: float, ul_y: float, xscale: float, yscale: float, nx: int, ny: int
) -> Grid:
    """A grid whose row 0 is the northern edge, from its upper-left corner.

    Cell centres are ``x[j] = ul_x + (j + 0.5) * xscale`` and
    ``y[i] = ul_y - (i + 0.5) * yscale``, so ``y`` decreases (keep the source
    row order: docs/data-formats.md, "Layout rules"). A negative scale reverses the direction.

    Args:
        proj4: PROJ string in metres (see :func:`metres_proj4`).
        ul_x: x of the upper-left corner of the upper-left cell, metres.
        ul_y: y of that corner, metres.
        xscale: Cell width, metres.
        yscale: Cell height, metres (positive for north-up data).
        nx: Number of columns.
        ny: Number of rows.

    Returns:
        The grid, with ``crs`` from :func:`cf_grid_mapping` and ``proj4``.
    """
    x = ul_x + (np.arange(nx, dtype=np.float64) + 0.5) * xscale
    y = ul_y - (np.arange(ny, dtype=np.float64) + 0.5) * yscale
    return Grid(x=x, y=y, crs=cf_grid_mapping(proj4), proj4=proj4)


def latlon(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude of every cell centre of a projected grid.

    For the optional CF ``lat(y, x)``/``lon(y, x)`` auxiliary coordinates.
    Uses ``grid.proj4`` when set, else ``grid.crs`` (through
    :func:`crs_from_cf`); degrees on the projection's own geodetic datum.

    Args:
        grid: A projected grid (``grid.is_projected``); x/y in metres.

    Returns:
        ``(lat, lon)``, each ``float32`` of shape ``grid.shape`` = ``(ny, nx)``,
        degrees north and degrees east.

    Raises:
        ValueError: for a pixel grid (no projection).
    """
    if grid.proj4:
        crs = crs_from_proj4(grid.proj4)
    elif grid.crs is not None:
        crs = crs_from_cf(grid.crs)
    else:
        raise ValueError("latlon() needs a projected grid; this one has no projection")
    return _cached_latlon(grid, crs)


@functools.lru_cache(maxsize=1)
def _cached_latlon(grid: Grid, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Lat/lon of the last grid asked for (by object: readers share one Grid per series).

    Even interpolated (:mod:`nowcast.io.lattice`) this is a pass over every cell; ingest asks
    twice for the same grid when it rewrites unsorted input, and computes it
    ahead of opening the output file. The arrays are read-only.
    """
    transformer = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
    lon, lat = grid_lonlat(transformer, np.asarray(grid.x), np.asarray(grid.y))
    lat, lon = lat.astype(np.float32), lon.astype(np.float32)
    lat.setflags(write=False)
    lon.setflags(write=False)
    return lat, lon
