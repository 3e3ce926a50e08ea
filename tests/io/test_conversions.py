"""Unit conversions of the readers: CF units to mm h-1, mm and metres; Z-R reflectivity."""

from __future__ import annotations

import numpy as np
import pytest

from nowcast.io.readers.cf.reader import depth_factor, length_factor, rate_factor
from nowcast.io.readers.zr import dbz_to_rate, rate_to_dbz


@pytest.mark.parametrize(
    ("units", "factor"),
    [
        ("mm h-1", 1.0),
        ("mm/h", 1.0),
        ("mm hr-1", 1.0),
        ("mm.h-1", 1.0),
        ("m s-1", 3.6e6),
        ("m/s", 3.6e6),
        ("mm s-1", 3600.0),
        ("kg m-2 s-1", 3600.0),
        ("kg/m2/s", 3600.0),
        ("kg m**-2 s**-1", 3600.0),
        ("mm/min", 60.0),
        ("mm day-1", 1 / 24),
    ],
)
def test_rate_units(units: str, factor: float) -> None:
    assert rate_factor(units) == pytest.approx(factor, rel=1e-12)


@pytest.mark.parametrize(
    ("units", "factor"),
    [("mm", 1.0), ("m", 1000.0), ("kg m-2", 1.0), ("kg/m^2", 1.0), ("cm", 10.0)],
)
def test_depth_units(units: str, factor: float) -> None:
    assert depth_factor(units) == pytest.approx(factor, rel=1e-12)


def test_bad_units() -> None:
    with pytest.raises(ValueError, match="not a precipitation rate"):
        rate_factor("mm")
    with pytest.raises(ValueError, match="not a precipitation amount"):
        depth_factor("mm/h")
    with pytest.raises(ValueError, match="unknown units"):
        rate_factor("furlongs per fortnight")
    assert length_factor("km") == 1000.0 and length_factor("metres") == 1.0


def test_zr_marshall_palmer_values() -> None:
    # Z = 200 R^1.6: 1 mm/h <-> 10 log10(200) = 23.0103 dBZ.
    assert rate_to_dbz(np.array([1.0]))[0] == pytest.approx(23.0103, abs=1e-4)
    assert dbz_to_rate(np.array([23.0103]))[0] == pytest.approx(1.0, abs=1e-4)
    assert dbz_to_rate(np.array([40.0]), a=300.0, b=1.5)[0] == pytest.approx(
        (1e4 / 300.0) ** (1 / 1.5), rel=1e-6
    )


def test_zr_round_trip_nan_and_dry() -> None:
    rate = np.array([0.1, 1.0, 10.0, 100.0, np.nan, 0.0])
    dbz = rate_to_dbz(rate)
    assert np.isnan(dbz[4]) and dbz[5] == -np.inf
    back = dbz_to_rate(dbz[:5])
    np.testing.assert_allclose(back[:4], rate[:4], rtol=1e-5)
    assert np.isnan(back[4]) and back.dtype == np.float32
    with pytest.raises(ValueError, match="positive"):
        dbz_to_rate(dbz, a=0.0)
