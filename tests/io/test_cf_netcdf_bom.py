"""CF NetCDF reader on every real BOM Rainfields prcp-cscn file (the rules: test_cf_netcdf.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nowcast.io.projection import latlon, unproject
from nowcast.io.readers.cf.reader import CfNetcdfReader
from nowcast.io.readers.odim import OdimReader
from nowcast.io.readers.registry import detect_reader
from tests.helpers import read_every_file

BOM_NAME = re.compile(r"2_(\d{8})_(\d{6})\.prcp-cscn\.nc")


@pytest.fixture(scope="module")
def bom(bom_dir: Path) -> dict[str, Any]:
    """Read every BOM file once: per-file statistics and the first frame."""
    return read_every_file(CfNetcdfReader(), sorted(bom_dir.glob("*.nc")))


@pytest.mark.realdata
def test_bom_every_file_shape_time_window_and_nan(bom: dict[str, Any]) -> None:
    stats = bom["stats"]
    assert len(stats) == 61
    for s in stats:
        assert s["shape"] == (512, 512)
        date, clock = BOM_NAME.fullmatch(s["name"]).groups()  # type: ignore[union-attr]
        assert str(s["time"]).replace("-", "").replace(":", "") == f"{date}T{clock}"
        assert s["bounds"] == (s["time"] - np.timedelta64(360, "s"), s["time"])
        assert s["nan"] == 0.0 and s["min"] == 0.0
        assert 0.102 <= round(s["wet"], 3) <= 0.502
        assert s["grid"].same_as(stats[0]["grid"])
    times = np.array([s["time"] for s in stats])
    assert times[0] == np.datetime64("2018-06-16T10:00:00")
    assert times[-1] == np.datetime64("2018-06-16T16:00:00")
    assert np.all(np.diff(times) == np.timedelta64(360, "s"))


@pytest.mark.realdata
def test_bom_maximum_over_all_files(bom: dict[str, Any]) -> None:
    best = max(bom["stats"], key=lambda s: s["max"])
    assert best["max"] == pytest.approx(53.0, abs=1e-4)
    assert best["name"].startswith("2_20180616_100600")


@pytest.mark.realdata
def test_bom_first_file(bom: dict[str, Any]) -> None:
    first = bom["stats"][0]
    assert first["max"] == pytest.approx(32.0, abs=1e-4)
    assert first["wet"] == pytest.approx(0.1039, abs=5e-5)
    # 0.05 mm per 6 minutes: every rate is a multiple of 0.5 mm/h.
    values = bom["first"].values
    np.testing.assert_allclose(values * 2, np.round(values * 2), atol=1e-4)


@pytest.mark.realdata
def test_bom_grid_and_projection(bom: dict[str, Any]) -> None:
    grid = bom["first"].grid
    # The file's coordinate values are taken as cell centres (CF): -128 .. 127.5 km in x,
    # 128 .. -127.5 km in y (north up), 0.5 km apart.
    assert grid.spacing == (500.0, 500.0)
    assert (grid.x[0], grid.x[-1]) == (-128_000.0, 127_500.0)
    assert (grid.y[0], grid.y[-1]) == (128_000.0, -127_500.0)
    assert grid.crs["grid_mapping_name"] == "albers_conical_equal_area"
    assert grid.crs["standard_parallel"] == [-18.0, -36.0]
    lon, lat = unproject(
        grid.proj4, np.array([0.0, -128_000.0, 128_000.0]), np.array([0.0, 128_000.0, -128_000.0])
    )
    np.testing.assert_allclose(lon, [144.752, 143.323, 146.214], atol=1e-3)
    np.testing.assert_allclose(lat, [-37.852, -36.687, -39.008], atol=1e-3)
    lat2d, lon2d = latlon(grid)
    assert lat2d[256, 256] == pytest.approx(-37.852, abs=1e-4)  # x = y = 0
    assert lon2d[256, 256] == pytest.approx(144.752, abs=1e-4)
    assert lon2d[0, 0] == pytest.approx(143.323, abs=1e-3)
    assert lat2d[0, 0] == pytest.approx(-36.687, abs=1e-3)


@pytest.mark.realdata
def test_bom_sniffing(bom: dict[str, Any]) -> None:
    path = bom["files"][0]
    assert CfNetcdfReader().can_open(path)
    assert not OdimReader().can_open(path)
    assert detect_reader(path).name == "cf"
