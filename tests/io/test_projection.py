"""Projection helpers: PROJ string repair, CF grid mappings, grids and lat/lon."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pyproj import CRS, Transformer

from nowcast.errors import InputError
from nowcast.io.grid import Grid
from nowcast.io.proj4 import metres_proj4
from nowcast.io.projection import (
    cf_grid_mapping,
    crs_from_cf,
    grid_mapping_from_cf,
    latlon,
    north_up_grid,
    project,
    unproject,
)

KNMI_PROJ4 = "+proj=stere +lat_0=90 +lon_0=0.0 +lat_ts=60.0 +a=6378.137 +b=6356.752 +x_0=0 +y_0=0"
LAEA = "+proj=laea +lat_0=55 +lon_0=10 +x_0=1950000 +y_0=-2100000 +ellps=WGS84 +units=m"


def test_metres_proj4_rewrites_km_ellipsoid_and_pyproj_accepts_it() -> None:
    fixed = metres_proj4(KNMI_PROJ4)
    assert "+a=6378137" in fixed and "+b=6356752" in fixed and fixed.endswith("+units=m")
    # De Bilt (5.179 E, 52.103 N) lies inside the KNMI grid: x 0..700 km, y -3650..-4415 km.
    x, y = project(fixed, np.array([5.179]), np.array([52.103]))
    assert 0 < x[0] < 700_000 and -4_415_000 < y[0] < -3_650_000


def test_metres_proj4_scales_false_origin_with_km_radius() -> None:
    fixed = metres_proj4("+proj=stere +lat_0=90 +lon_0=0 +R=6371.0 +x_0=10 +y_0=-5")
    assert "+R=6371000" in fixed and "+x_0=10000" in fixed and "+y_0=-5000" in fixed


def test_metres_proj4_keeps_metric_strings_and_replaces_km_units() -> None:
    assert metres_proj4(LAEA) == LAEA
    fixed = metres_proj4("+proj=laea +lat_0=55 +lon_0=10 +ellps=WGS84 +units=km")
    assert fixed == "+proj=laea +lat_0=55 +lon_0=10 +ellps=WGS84 +units=m"


def test_cf_grid_mapping_laea_has_appendix_f_parameters_and_wkt() -> None:
    attrs = cf_grid_mapping(LAEA)
    assert attrs["grid_mapping_name"] == "lambert_azimuthal_equal_area"
    assert attrs["latitude_of_projection_origin"] == 55.0
    assert attrs["longitude_of_projection_origin"] == 10.0
    assert attrs["false_easting"] == 1950000.0 and attrs["false_northing"] == -2100000.0
    assert attrs["semi_major_axis"] == 6378137.0
    assert attrs["inverse_flattening"] == pytest.approx(298.257223563)
    assert "semi_minor_axis" not in attrs
    assert attrs["crs_wkt"].startswith("PROJCRS")
    assert all(v != "unknown" for v in attrs.values())


def test_cf_grid_mapping_returns_a_fresh_dict() -> None:
    lcc = "+proj=lcc +lat_1=49 +lat_2=51 +lat_0=50 +lon_0=4 +ellps=GRS80 +units=m"
    first = cf_grid_mapping(lcc)
    first["grid_mapping_name"] = "changed"
    first["standard_parallel"].append(0.0)
    assert cf_grid_mapping(lcc)["grid_mapping_name"] == "lambert_conformal_conic"
    assert cf_grid_mapping(lcc)["standard_parallel"] == [49.0, 51.0]


def test_cf_grid_mapping_datum_names_all_or_none() -> None:
    datum = ("reference_ellipsoid_name", "prime_meridian_name", "horizontal_datum_name")
    assert all(k in cf_grid_mapping(LAEA) for k in datum)  # WGS 84: all three are known
    knmi = cf_grid_mapping(metres_proj4(KNMI_PROJ4))  # bare a/b: ellipsoid and datum unknown
    assert not any(k in knmi for k in datum)


def test_cf_grid_mapping_sphere_uses_earth_radius() -> None:
    attrs = cf_grid_mapping("+proj=aeqd +lat_0=52 +lon_0=5 +R=6371000 +units=m")
    assert attrs["earth_radius"] == 6371000.0
    assert not {"semi_major_axis", "semi_minor_axis", "inverse_flattening"} & set(attrs)


def test_cf_grid_mapping_polar_stereographic_gets_origin_latitude() -> None:
    attrs = cf_grid_mapping(metres_proj4(KNMI_PROJ4))
    assert attrs["grid_mapping_name"] == "polar_stereographic"
    assert attrs["latitude_of_projection_origin"] == 90.0
    assert attrs["standard_parallel"] == 60.0
    assert attrs["straight_vertical_longitude_from_pole"] == 0.0


def test_cf_grid_mapping_accepts_a_crs_and_round_trips_through_from_cf() -> None:
    attrs = cf_grid_mapping(CRS(LAEA))
    back = crs_from_cf({k: v for k, v in attrs.items() if k != "crs_wkt"})
    lon, lat = np.array([12.5]), np.array([56.0])
    x1, y1 = project(LAEA, lon, lat)
    x2, y2 = Transformer.from_crs(back.geodetic_crs, back, always_xy=True).transform(lon, lat)
    np.testing.assert_allclose([x2[0], y2[0]], [x1[0], y1[0]], atol=1e-3)


def test_cf_grid_mapping_without_cf_equivalent_keeps_only_wkt() -> None:
    # CF has no Robinson grid mapping: crs_wkt alone still describes it.
    attrs = cf_grid_mapping("+proj=robin +lon_0=0 +ellps=WGS84 +units=m")
    assert list(attrs) == ["crs_wkt"] and "Robinson" in attrs["crs_wkt"]


def test_bad_projections_raise_input_error() -> None:
    with pytest.raises(InputError, match="unusable projection"):
        cf_grid_mapping("+proj=nonsense +a=1")
    with pytest.raises(InputError, match="unusable grid mapping 'no_such_mapping'"):
        crs_from_cf({"grid_mapping_name": "no_such_mapping"})


def test_grid_mapping_from_cf_filters_attributes_and_adds_wkt() -> None:
    attrs = {
        "grid_mapping_name": "albers_conical_equal_area",
        "standard_parallel": np.array([-18.0, -36.0]),
        "longitude_of_central_meridian": np.float64(144.752),
        "latitude_of_projection_origin": -37.852,
        "false_easting": 0.0,
        "false_northing": 0.0,
        "semi_major_axis": 6378137.0,
        "inverse_flattening": 298.257222101,
        "long_name": "projection",
        "custom": "dropped",
    }
    crs, proj4 = grid_mapping_from_cf(attrs)
    assert "long_name" not in crs and "custom" not in crs
    assert crs["standard_parallel"] == [-18.0, -36.0]
    assert isinstance(crs["longitude_of_central_meridian"], float)
    assert crs["crs_wkt"].startswith("PROJCRS")
    assert "+proj=aea" in proj4 and "+units=m" in proj4
    lon, lat = unproject(proj4, np.array([0.0]), np.array([0.0]))
    np.testing.assert_allclose([lon[0], lat[0]], [144.752, -37.852], atol=1e-9)


def test_north_up_grid_centres_decrease_in_y() -> None:
    grid = north_up_grid(LAEA, 1000.0, 5000.0, 1000.0, 2000.0, nx=3, ny=2)
    np.testing.assert_array_equal(grid.x, [1500.0, 2500.0, 3500.0])
    np.testing.assert_array_equal(grid.y, [4000.0, 2000.0])
    assert grid.proj4 == LAEA and grid.crs is not None
    assert grid.crs["grid_mapping_name"] == "lambert_azimuthal_equal_area"


def test_latlon_at_projection_origin_and_dtype() -> None:
    # The cell centred on the false origin is the projection centre (55 N, 10 E).
    grid = north_up_grid(LAEA, 1950000.0 - 1500.0, -2100000.0 + 1500.0, 1000.0, 1000.0, 3, 3)
    lat, lon = latlon(grid)
    assert lat.shape == lon.shape == (3, 3) and lat.dtype == lon.dtype == np.float32
    assert lat[1, 1] == pytest.approx(55.0, abs=1e-5) and lon[1, 1] == pytest.approx(10.0, abs=1e-5)
    assert lat[0, 1] > lat[1, 1] > lat[2, 1]  # row 0 is north
    assert lon[1, 0] < lon[1, 1] < lon[1, 2]


def test_latlon_uses_cf_attributes_when_proj4_is_missing() -> None:
    grid = north_up_grid(LAEA, 1_000_000.0, 3_000_000.0, 2000.0, 2000.0, 4, 3)
    from_crs = Grid(x=grid.x, y=grid.y, crs=grid.crs, proj4=None)
    for a, b in zip(latlon(grid), latlon(from_crs), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_latlon_refuses_pixel_grids() -> None:
    with pytest.raises(ValueError, match="projected grid"):
        latlon(Grid(x=np.arange(3.0), y=np.arange(2.0)))


def test_project_unproject_round_trip() -> None:
    lon, lat = np.array([-10.0, 0.0, 25.0]), np.array([40.0, 55.0, 70.0])
    x, y = project(LAEA, lon, lat)
    lon2, lat2 = unproject(LAEA, x, y)
    np.testing.assert_allclose(lon2, lon, atol=1e-9)
    np.testing.assert_allclose(lat2, lat, atol=1e-9)


@pytest.mark.parametrize(
    "attrs",
    [
        {  # BOM Rainfields: ellipsoid, no datum or meridian names
            "grid_mapping_name": "albers_conical_equal_area",
            "semi_major_axis": 6378137.0,
            "inverse_flattening": 298.257222101,
            "standard_parallel": [-18.0, -36.0],
            "longitude_of_central_meridian": 144.752,
            "latitude_of_projection_origin": -37.852,
            "false_easting": 0.0,
            "false_northing": 0.0,
        },
        {
            "grid_mapping_name": "polar_stereographic",
            "earth_radius": 6371000.0,
            "straight_vertical_longitude_from_pole": 0.0,
            "standard_parallel": 60.0,
            "latitude_of_projection_origin": 90.0,
        },
        {  # no ellipsoid at all: pyproj's defaults, left alone
            "grid_mapping_name": "transverse_mercator",
            "scale_factor_at_central_meridian": 0.9996,
            "longitude_of_central_meridian": 9.0,
            "latitude_of_projection_origin": 0.0,
        },
        {
            "grid_mapping_name": "lambert_azimuthal_equal_area",
            "semi_major_axis": 6378137.0,
            "semi_minor_axis": 6356752.314245,
            "longitude_of_projection_origin": 10.0,
            "latitude_of_projection_origin": 52.0,
            "reference_ellipsoid_name": "WGS 84",
            "prime_meridian_name": "Greenwich",
            "horizontal_datum_name": "World Geodetic System 1984",
        },
    ],
)
def test_crs_from_cf_builds_the_crs_pyproj_builds(attrs: dict) -> None:
    """The Greenwich short cut (0.2 s less per grid) must not change the CRS."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = CRS.from_cf(attrs)
    assert crs_from_cf(attrs).to_wkt() == expected.to_wkt()


def test_latlon_is_computed_once_per_grid_and_read_only() -> None:
    grid = north_up_grid(LAEA, 0.0, 0.0, 1000.0, 1000.0, 4, 3)
    lat, lon = latlon(grid)
    assert latlon(grid)[0] is lat
    assert not lat.flags.writeable and not lon.flags.writeable
    other = north_up_grid(LAEA, 5000.0, 0.0, 1000.0, 1000.0, 4, 3)
    assert latlon(other)[1][0, 0] > lon[0, 0]
