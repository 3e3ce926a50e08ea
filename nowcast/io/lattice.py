"""Longitude and latitude of every cell of a regular projected grid, fast and checked.

Sending each of a grid's cells through PROJ costs about 0.4 microseconds a
cell: 0.2 s for a 765 x 700 radar grid and 0.6 s for a 2200 x 1900
composite, work a forecast or an ingest does for its file's ``lat``/``lon``.
Map projections are smooth, so the transform is made exactly only at a
lattice of nodes every :data:`NODE_SPACING` cells and interpolated in between
with cubic polynomials along x, then y (error of order ``spacing**4`` times the
fourth derivative: below 1e-9 degrees at radar scales). The result is then
*checked* against the exact transform at the centre of every lattice cell,
where an interpolation error is largest; near a pole or across the
antimeridian, where longitude jumps, the check fails and every cell is
transformed exactly. Irregular coordinates are transformed exactly too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the transformer comes from io/projection.py, the module that uses pyproj
    from pyproj import Transformer

#: Cells between two exactly transformed nodes, along x and along y.
NODE_SPACING = 8
#: Largest accepted difference from the exact transform, degrees (about 0.1 m;
#: a float32 latitude near 50 degrees has a resolution of about 4e-6 degrees).
TOLERANCE_DEG = 1e-6
#: Largest departure of a coordinate from a straight line, as a share of the
#: cell size, for the lattice to be used.
_IRREGULARITY = 1e-4


def grid_lonlat(
    transformer: Transformer, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(lon, lat)`` of every cell ``(y[i], x[j])``, each float64 ``(ny, nx)``.

    Args:
        transformer: From the grid's CRS to longitude/latitude (``always_xy``).
        x: ``(nx,)`` cell-centre coordinates along the columns.
        y: ``(ny,)`` cell-centre coordinates along the rows.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if min(x.size, y.size) < 4 * NODE_SPACING or not (_regular(x) and _regular(y)):
        return _exact(transformer, x, y)
    x_nodes, y_nodes = _node_coordinates(x), _node_coordinates(y)
    lon_nodes, lat_nodes = _exact(transformer, x_nodes, y_nodes)
    if not (np.isfinite(lon_nodes).all() and np.isfinite(lat_nodes).all()):
        return _exact(transformer, x, y)
    across, down = _weights(x.size), _weights(y.size)  # (nx, nodes), (ny, nodes)
    lon = down @ lon_nodes @ across.T
    lat = down @ lat_nodes @ across.T
    if not _agrees(transformer, x, y, lon, lat):
        return _exact(transformer, x, y)
    return lon, lat


def _exact(transformer: Transformer, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every cell through PROJ: ``(lon, lat)`` of shape ``(y.size, x.size)``."""
    xx, yy = np.meshgrid(x, y)
    lon, lat = transformer.transform(xx, yy)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _regular(coords: np.ndarray) -> bool:
    """True when ``coords`` are evenly spaced (within :data:`_IRREGULARITY` of a cell)."""
    step = (coords[-1] - coords[0]) / (coords.size - 1)
    if step == 0 or not np.isfinite(step):
        return False
    line = coords[0] + step * np.arange(coords.size)
    return bool(np.max(np.abs(coords - line)) <= _IRREGULARITY * abs(step))


def _node_coordinates(coords: np.ndarray) -> np.ndarray:
    """Coordinates of the nodes at cells ``-S, 0, S, ..., (K + 2) S`` (``S`` the spacing).

    ``K = (n - 1) // S``: the node before the first cell and two after the
    last interval give every cell the four nodes a cubic needs.
    """
    step = (coords[-1] - coords[0]) / (coords.size - 1)
    count = (coords.size - 1) // NODE_SPACING + 4
    return coords[0] + step * NODE_SPACING * (np.arange(count) - 1.0)


def _weights(n: int) -> np.ndarray:
    """``(n, nodes)`` cubic Lagrange weights of the nodes for cells ``0 .. n - 1``.

    Cell ``i`` lies between nodes ``k + 1`` and ``k + 2`` (``k = i // S``) at
    the fraction ``u``; the weights are those of the four nodes around it.
    """
    cells = np.arange(n)
    k, u = cells // NODE_SPACING, (cells % NODE_SPACING) / NODE_SPACING
    stencil = (
        -u * (u - 1) * (u - 2) / 6,
        (u + 1) * (u - 1) * (u - 2) / 2,
        -(u + 1) * u * (u - 2) / 2,
        (u + 1) * u * (u - 1) / 6,
    )
    out = np.zeros((n, (n - 1) // NODE_SPACING + 4))
    for offset, weight in enumerate(stencil):
        out[cells, k + offset] = weight
    return out


def _agrees(
    transformer: Transformer, x: np.ndarray, y: np.ndarray, lon: np.ndarray, lat: np.ndarray
) -> bool:
    """True when ``lon``/``lat`` match the exact transform at every lattice cell's centre."""
    half = NODE_SPACING // 2
    columns = np.arange(half, x.size, NODE_SPACING)
    rows = np.arange(half, y.size, NODE_SPACING)
    lon_exact, lat_exact = _exact(transformer, x[columns], y[rows])
    lon_error = np.abs(lon[np.ix_(rows, columns)] - lon_exact)
    lat_error = np.abs(lat[np.ix_(rows, columns)] - lat_exact)
    return bool(np.max(lon_error) <= TOLERANCE_DEG and np.max(lat_error) <= TOLERANCE_DEG)
