"""ODIM_H5 reader on every real RMI composite file, ODIM_H5 v2.2 (the rules: test_odim.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nowcast.io.projection import latlon, unproject
from nowcast.io.readers.knmi import KnmiReader
from nowcast.io.readers.odim import OdimReader
from nowcast.io.readers.registry import detect_reader
from tests.helpers import read_every_file

RMI_NAME = re.compile(r"(\d{14})\.rad\.best\.comp\.rate\.qpe\.hdf")


@pytest.fixture(scope="module")
def rmi(rmi_dir: Path) -> dict[str, Any]:
    """Read every RMI file once: per-file statistics plus the first frame."""
    return read_every_file(OdimReader(), sorted(rmi_dir.glob("*.hdf")))


@pytest.mark.realdata
def test_rmi_every_file_shape_time_and_nan_fraction(rmi: dict[str, Any]) -> None:
    stats = rmi["stats"]
    assert len(stats) == 39
    for s in stats:
        assert s["shape"] == (700, 700)
        stamp = RMI_NAME.fullmatch(s["name"]).group(1)  # type: ignore[union-attr]
        assert str(s["time"]).replace("-", "").replace("T", "").replace(":", "") == stamp
        assert 0.3299 <= round(s["nan"], 4) <= 0.3317
        assert s["min"] == 0.0
        assert s["grid"].same_as(stats[0]["grid"])
    times = np.array([s["time"] for s in stats])
    assert times[0] == np.datetime64("2021-07-04T15:50:00")
    assert times[-1] == np.datetime64("2021-07-04T19:00:00")
    assert np.all(np.diff(times) == np.timedelta64(300, "s"))


@pytest.mark.realdata
def test_rmi_maximum_over_all_files(rmi: dict[str, Any]) -> None:
    best = max(rmi["stats"], key=lambda s: s["max"])
    assert best["max"] == pytest.approx(84.39, abs=0.005)
    assert best["name"].startswith("20210704185500")


@pytest.mark.realdata
def test_rmi_first_file_values_and_scan_window(rmi: dict[str, Any]) -> None:
    first = rmi["stats"][0]
    assert first["max"] == pytest.approx(60.02, abs=0.005)
    assert first["wet"] == pytest.approx(0.1690, abs=5e-5)
    assert first["nan"] == pytest.approx(0.3301, abs=5e-5)
    frame = rmi["first"]
    assert frame.bounds == (
        np.datetime64("2021-07-04T15:49:08"),
        np.datetime64("2021-07-04T15:49:27"),
    )


@pytest.mark.realdata
def test_rmi_grid_and_corners(rmi: dict[str, Any]) -> None:
    grid = rmi["first"].grid
    assert grid.spacing == (1000.0, 1000.0)
    assert grid.x[0] - 500 == 300_000.0 and grid.x[-1] + 500 == 1_000_000.0
    assert grid.y[0] + 500 == 1_000_000.0 and grid.y[-1] - 500 == 300_000.0
    assert grid.crs["grid_mapping_name"] == "lambert_conformal_conic"
    # Outer corners of the grid match the root where/UL_* and LR_* attributes.
    lon, lat = unproject(
        grid.proj4, np.array([300_000.0, 1_000_000.0]), np.array([1_000_000.0, 300_000.0])
    )
    np.testing.assert_allclose(lon, [-0.9255, 9.0029], atol=1e-3)
    np.testing.assert_allclose(lat, [53.6929, 47.4160], atol=1e-3)
    lat2d, lon2d = latlon(grid)
    assert lat2d.shape == (700, 700)
    assert lon2d[0, 0] == pytest.approx(-0.93, abs=0.02)
    assert lat2d[0, 0] == pytest.approx(53.69, abs=0.02)


@pytest.mark.realdata
def test_rmi_sniffing(rmi: dict[str, Any]) -> None:
    path = rmi["files"][0]
    assert OdimReader().can_open(path)
    assert not KnmiReader().can_open(path)
    assert detect_reader(path).name == "odim"
