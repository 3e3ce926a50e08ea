"""Lat/lon of a grid's cells from a lattice of exact nodes: exact to 1e-6 degrees, or exact."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer

from nowcast.io import lattice
from nowcast.io.lattice import TOLERANCE_DEG, grid_lonlat


def _to_lonlat(proj4: str) -> Transformer:
    crs = CRS.from_proj4(proj4)
    return Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)


def _every_cell(proj4: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xx, yy = np.meshgrid(x, y)
    lon, lat = _to_lonlat(proj4).transform(xx, yy)
    return np.asarray(lon), np.asarray(lat)


def _cells(first: float, step: float, count: int) -> np.ndarray:
    return first + step * np.arange(count)


RADAR_GRIDS = [  # (projection, x of the first cell, y of the first cell, cell size m, ny, nx)
    ("+proj=stere +lat_0=90 +lat_ts=60 +lon_0=0 +ellps=WGS84", 500, -3_650_500, 1000, 765, 700),
    ("+proj=laea +lat_0=52 +lon_0=5 +ellps=WGS84", -1_899_000, 2_199_000, 2000, 220, 190),
    ("+proj=lcc +lat_0=50.8 +lon_0=4.36 +lat_1=49.8 +lat_2=51.2 +ellps=GRS80", 0, 0, 1000, 97, 131),
    (
        "+proj=aea +lat_0=-37.9 +lon_0=144.8 +lat_1=-18 +lat_2=-36 +ellps=GRS80",
        -255e3,
        255e3,
        1000,
        512,
        512,
    ),
    ("+proj=utm +zone=33 +ellps=WGS84", 300_000, 5_600_000, 500, 203, 77),
]


@pytest.mark.parametrize(("proj4", "x0", "y0", "cell", "ny", "nx"), RADAR_GRIDS)
def test_lattice_matches_the_exact_transform_on_radar_grids(
    proj4: str, x0: float, y0: float, cell: float, ny: int, nx: int
) -> None:
    x, y = _cells(x0, cell, nx), _cells(y0, -cell, ny)  # north-up rows: y decreasing

    lon, lat = grid_lonlat(_to_lonlat(proj4), x, y)

    lon_exact, lat_exact = _every_cell(proj4, x, y)
    assert lon.shape == lat.shape == (ny, nx)
    assert np.max(np.abs(lon - lon_exact)) < 1e-7 and np.max(np.abs(lat - lat_exact)) < 1e-7


def test_lattice_is_used_there(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    exact = lattice._exact

    def counting(transformer: Transformer, x: np.ndarray, y: np.ndarray) -> object:
        calls.append(x.size * y.size)
        return exact(transformer, x, y)

    monkeypatch.setattr(lattice, "_exact", counting)
    proj4, x0, y0, cell, ny, nx = RADAR_GRIDS[0]
    grid_lonlat(_to_lonlat(proj4), _cells(x0, cell, nx), _cells(y0, -cell, ny))

    assert len(calls) == 2 and sum(calls) < ny * nx / 25  # nodes and check points only


@pytest.mark.parametrize(
    ("proj4", "x", "y"),
    [  # longitude jumps: the pole inside the grid, the antimeridian across it
        (
            "+proj=stere +lat_0=90 +lat_ts=60 +lon_0=0 +ellps=WGS84",
            (-60e3, 1000, 120),
            (60e3, -1000, 120),
        ),
        ("+proj=laea +lat_0=0 +lon_0=180 +ellps=WGS84", (-100e3, 2000, 100), (50e3, -2000, 60)),
    ],
)
def test_grids_where_longitude_jumps_are_transformed_exactly(
    proj4: str, x: tuple[float, float, int], y: tuple[float, float, int]
) -> None:
    xs, ys = _cells(*x), _cells(*y)

    lon, lat = grid_lonlat(_to_lonlat(proj4), xs, ys)

    lon_exact, lat_exact = _every_cell(proj4, xs, ys)
    np.testing.assert_array_equal(lon, lon_exact)
    np.testing.assert_array_equal(lat, lat_exact)


def test_irregular_small_and_partly_undefined_grids_are_transformed_exactly() -> None:
    laea = "+proj=laea +lat_0=52 +lon_0=5 +ellps=WGS84"
    ortho = "+proj=ortho +lat_0=52 +lon_0=5 +ellps=WGS84"
    irregular = np.cumsum(np.linspace(900.0, 1100.0, 64))
    cases = [
        (laea, irregular, _cells(0, -1000, 64)),  # uneven columns
        (laea, _cells(0, 1000, 20), _cells(0, -1000, 20)),  # too small for a lattice
        (ortho, _cells(-6.6e6, 2e5, 66), _cells(6.6e6, -2e5, 66)),  # corners beyond the disk
    ]
    for proj4, x, y in cases:
        lon, lat = grid_lonlat(_to_lonlat(proj4), x, y)

        lon_exact, lat_exact = _every_cell(proj4, x, y)
        np.testing.assert_array_equal(lon, lon_exact)
        np.testing.assert_array_equal(lat, lat_exact)


@settings(max_examples=25, deadline=None)
@given(
    lat_0=st.floats(-70, 70),
    lon_0=st.floats(-170, 170),
    cell=st.floats(100, 5000),
    ny=st.integers(32, 90),
    nx=st.integers(32, 90),
    offset=st.floats(-2e5, 2e5),
)
def test_lattice_never_departs_from_the_exact_transform_by_more_than_the_tolerance(
    lat_0: float, lon_0: float, cell: float, ny: int, nx: int, offset: float
) -> None:
    proj4 = f"+proj=laea +lat_0={lat_0} +lon_0={lon_0} +ellps=WGS84"
    x, y = _cells(offset, cell, nx), _cells(-offset, -cell, ny)

    lon, lat = grid_lonlat(_to_lonlat(proj4), x, y)

    lon_exact, lat_exact = _every_cell(proj4, x, y)
    assert np.max(np.abs(lon - lon_exact)) <= TOLERANCE_DEG
    assert np.max(np.abs(lat - lat_exact)) <= TOLERANCE_DEG
