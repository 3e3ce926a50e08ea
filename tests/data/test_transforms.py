"""Intensity transforms: values, inverses, NaN handling, serialisation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nowcast.config import DataConfig
from nowcast.data.transforms import (
    Identity,
    Linear,
    LogRain,
    make_transform,
    transform_from_dict,
)
from nowcast.errors import ConfigError

LOG = LogRain(threshold=0.1, max_rate=100.0)
THR32 = float(np.float32(0.1))
rates_above = st.floats(float(np.float32(0.10001)), 500.0, allow_nan=False, width=32)
rates_below = st.floats(0.0, THR32, exclude_max=True, allow_nan=False, width=32)


def test_log_rain_hand_values() -> None:
    r = np.array([0.0, 0.05, 0.1, 1.0, 10.0, 100.0, 1000.0], dtype=np.float32)
    # (log10 R + 1) / 3 for R >= 0.1
    expected = np.array([0, 0, 0, 1 / 3, 2 / 3, 1, 4 / 3], dtype=np.float32)
    np.testing.assert_allclose(LOG.forward(r), expected, atol=1e-6)
    np.testing.assert_allclose(LOG.inverse(expected[3:]), r[3:], rtol=1e-5)


@settings(max_examples=60, deadline=None)
@given(st.lists(rates_above, min_size=1, max_size=20))
def test_log_rain_round_trip_above_threshold(values: list[float]) -> None:
    r = np.array(values, dtype=np.float32)
    np.testing.assert_allclose(LOG.inverse(LOG.forward(r)), r, rtol=2e-5)
    t = torch.from_numpy(r)
    torch.testing.assert_close(LOG.inverse(LOG.forward(t)), t, rtol=2e-5, atol=0.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(rates_below, min_size=1, max_size=20))
def test_log_rain_below_threshold_is_dry(values: list[float]) -> None:
    r = np.array(values, dtype=np.float32)
    assert np.all(LOG.forward(r) == 0)
    assert np.all(LOG.inverse(LOG.forward(r)) == 0)


def test_inverse_never_returns_negative_rain() -> None:
    y = np.array([-5.0, -0.1, 0.0], dtype=np.float32)
    assert np.all(LOG.inverse(y) == 0)
    assert torch.all(LOG.inverse(torch.from_numpy(y)) == 0)
    assert np.all(Linear(50.0).inverse(y) == 0)
    assert torch.all(Linear(50.0).inverse(torch.from_numpy(y)) == 0)


@pytest.mark.parametrize("transform", [LOG, Linear(10.0), Identity()])
def test_nan_stays_nan_and_numpy_matches_torch(transform: object) -> None:
    r = np.array([np.nan, 0.0, 0.3, 7.0, np.nan], dtype=np.float32)
    y = transform.forward(r)  # type: ignore[attr-defined]
    assert y.dtype == np.float32
    assert np.isnan(y[[0, 4]]).all() and np.isfinite(y[1:4]).all()
    yt = transform.forward(torch.from_numpy(r))  # type: ignore[attr-defined]
    np.testing.assert_allclose(yt.numpy(), y, rtol=1e-6)


def test_linear_scales_by_max_rate() -> None:
    lin = Linear(20.0)
    np.testing.assert_allclose(lin.forward(np.array([0.0, 5.0, 20.0])), [0.0, 0.25, 1.0])
    np.testing.assert_allclose(lin.inverse(np.array([0.5])), [10.0])


@pytest.mark.parametrize("name", ["log_rain", "linear", "identity"])
def test_dict_round_trip(name: str) -> None:
    cfg = dataclasses.replace(DataConfig(), transform=name, rain_threshold=0.2, max_rate=64.0)
    transform = make_transform(cfg)
    d = transform.to_dict()
    assert d["name"] == name
    assert all(isinstance(v, (str, float)) for v in d.values())
    again = transform_from_dict(d)
    assert again.to_dict() == d
    r = np.array([0.0, 0.5, 3.0], dtype=np.float32)
    np.testing.assert_array_equal(again.forward(r), transform.forward(r))


def test_bad_names_and_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown transform 'dbz'.*log_rain"):
        make_transform(dataclasses.replace(DataConfig(), transform="dbz"))
    with pytest.raises(ConfigError, match="rain_threshold"):
        LogRain(threshold=5.0, max_rate=1.0)
    with pytest.raises(ConfigError, match="unknown transform"):
        transform_from_dict({})
