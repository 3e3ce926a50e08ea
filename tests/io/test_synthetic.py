"""The synthetic rain generator: determinism, rain statistics, motion and the Frame API."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import CRS, Transformer

from nowcast.errors import ConfigError
from nowcast.synthetic.generate import (
    PROJ4,
    synthetic_frames,
    synthetic_grid,
    synthetic_params,
    synthetic_rain,
)
from nowcast.synthetic.model import RainModel
from nowcast.synthetic.texture import Texture

SHAPE = (96, 96)


@pytest.fixture(scope="module")
def runs() -> dict[int, np.ndarray]:
    """Twelve frames (one hour) for six seeds, computed once."""
    return {seed: synthetic_rain(12, SHAPE, seed=seed) for seed in range(6)}


def _overlap_corr(a: np.ndarray, b: np.ndarray, dy: int, dx: int) -> float:
    """Correlation of ``a`` with ``b`` displaced by ``(dy, dx)`` pixels, on the overlap."""
    ny, nx = a.shape
    first = a[max(0, -dy) : ny - max(0, dy), max(0, -dx) : nx - max(0, dx)]
    second = b[max(0, dy) : ny - max(0, -dy), max(0, dx) : nx - max(0, -dx)]
    return float(np.corrcoef(first.ravel(), second.ravel())[0, 1])


def _best_shift(a: np.ndarray, b: np.ndarray, reach: int = 6) -> tuple[np.ndarray, float]:
    """Integer displacement ``(rows, cols)`` from ``a`` to ``b`` maximising the correlation."""
    best = max(
        (_overlap_corr(a, b, dy, dx), dy, dx)
        for dy in range(-reach, reach + 1)
        for dx in range(-reach, reach + 1)
    )
    return np.array(best[1:]), best[0]


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_bytes() -> None:
    first = synthetic_rain(4, (40, 56), seed=11)
    second = synthetic_rain(4, (40, 56), seed=11)
    assert first.tobytes() == second.tobytes()


def test_different_seeds_differ(runs: dict[int, np.ndarray]) -> None:
    assert not np.array_equal(runs[0], runs[1])
    assert np.abs(runs[0] - runs[1]).mean() > 0.1


def test_longer_run_starts_with_the_shorter_one(runs: dict[int, np.ndarray]) -> None:
    short = synthetic_rain(5, SHAPE, seed=2)
    np.testing.assert_array_equal(short, runs[2][:5])


def test_params_depend_on_seed_only() -> None:
    a = synthetic_params(3, (64, 64), timestep_s=300, pixel_km=1.0)
    b = synthetic_params(3, (200, 100), timestep_s=600, pixel_km=2.0)
    assert a.speed_kmh == b.speed_kmh and a.heading_deg == b.heading_deg
    assert a.wet_target == b.wet_target
    # 600 s at 2 km/px covers the same number of pixels as 300 s at 1 km/px.
    np.testing.assert_allclose(a.shift_px, b.shift_px)


# --------------------------------------------------------------------------- statistics


def test_output_is_float32_finite_and_non_negative(runs: dict[int, np.ndarray]) -> None:
    for rain in runs.values():
        assert rain.dtype == np.float32 and rain.shape == (12, *SHAPE)
        assert np.isfinite(rain).all()
        assert rain.min() == 0.0


def test_wet_fraction_is_realistic(runs: dict[int, np.ndarray]) -> None:
    wet = np.array([(rain > 0.1).mean(axis=(1, 2)) for rain in runs.values()])
    assert wet.min() > 0.01 and wet.max() < 0.4
    assert 0.05 < wet.mean() < 0.3
    for seed in runs:
        target = synthetic_params(seed, SHAPE).wet_target
        assert 0.09 <= target <= 0.2
        assert abs(wet[seed].mean() - target) < 0.1


def test_rates_are_mostly_light_with_occasional_cores(runs: dict[int, np.ndarray]) -> None:
    rates = np.concatenate([rain[rain > 0.1] for rain in runs.values()])
    assert 0.3 < np.median(rates) < 2.0
    assert (rates < 5.0).mean() > 0.85
    peaks = np.array([rain.max() for rain in runs.values()])
    assert peaks.min() > 3.0 and peaks.max() < 150.0
    assert peaks.max() > 15.0  # at least one convective core among the seeds


def test_heavy_cores_appear_on_larger_domains() -> None:
    rain = synthetic_rain(6, (192, 192), seed=7)
    assert 20.0 < rain.max() < 150.0


def test_texture_has_a_minus_three_spectrum() -> None:
    params = synthetic_params(0)
    field = Texture(params, 256, 1.0, seed=0).field(0.0)
    assert field.dtype == np.float32
    assert abs(float(field.std()) - 1.0) < 1e-3
    power = np.abs(np.fft.fft2(field)) ** 2
    k = np.hypot(np.fft.fftfreq(256)[:, None], np.fft.fftfreq(256)[None, :]).ravel()
    edges = np.geomspace(1 / 30, 1 / 4, 12)  # 4-30 km scales, below the scale break
    which = np.digitize(k, edges)
    centres = [k[which == i].mean() for i in range(1, edges.size)]
    means = [power.ravel()[which == i].mean() for i in range(1, edges.size)]
    slope = np.polyfit(np.log(centres), np.log(means), 1)[0]
    assert slope == pytest.approx(-params.beta_small, abs=0.3)
    assert -3.5 < slope < -2.5


# --------------------------------------------------------------------------- motion


@pytest.mark.parametrize("seed", [0, 1, 3, 5])
def test_frames_move_with_the_configured_advection(seed: int) -> None:
    rain = np.log1p(synthetic_rain(3, SHAPE, seed=seed))
    expected = np.array(synthetic_params(seed, SHAPE).shift_px)
    for k in range(2):
        shift, corr = _best_shift(rain[k], rain[k + 1])
        assert np.abs(shift - expected).max() <= 1.0, (seed, k, shift, expected)
        assert corr > 0.85  # Lagrangian persistence over one 5-min step


def test_consecutive_frames_are_correlated(runs: dict[int, np.ndarray]) -> None:
    for rain in runs.values():
        corr = [np.corrcoef(rain[k].ravel(), rain[k + 1].ravel())[0, 1] for k in range(11)]
        assert min(corr) > 0.1 and np.mean(corr) > 0.4


def test_lifetime_scale_stretches_only_the_lifetimes() -> None:
    base, slow = synthetic_params(7, SHAPE), synthetic_params(7, SHAPE, lifetime_scale=3.0)
    assert slow.lifetime_10km_min == pytest.approx(3 * base.lifetime_10km_min)
    assert slow.cell_life_min == pytest.approx(tuple(3 * v for v in base.cell_life_min))
    unchanged = {"lifetime_10km_min", "cell_life_min"}
    for name, value in vars(base).items():
        if name not in unchanged:
            assert getattr(slow, name) == value, name
    np.testing.assert_array_equal(
        synthetic_rain(2, (32, 32), seed=7, lifetime_scale=1.0), synthetic_rain(2, (32, 32), seed=7)
    )


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_longer_lifetimes_keep_the_pattern_longer_in_the_moving_frame(seed: int) -> None:
    shape = (128, 128)
    shift = np.array(synthetic_params(seed, shape).shift_px) * 12  # one hour of advection
    dy, dx = (int(round(v)) for v in shift)
    corr = {}
    for scale in (1.0, 3.0):
        rain = np.log1p(synthetic_rain(13, shape, seed=seed, lifetime_scale=scale))
        corr[scale] = _overlap_corr(rain[0], rain[12], dy, dx)
    assert corr[3.0] > corr[1.0] + 0.1, corr


def test_motion_scales_with_timestep_and_pixel_size() -> None:
    base = synthetic_params(4)
    slow = synthetic_params(4, timestep_s=150)
    coarse = synthetic_params(4, pixel_km=2.0)
    np.testing.assert_allclose(np.array(slow.shift_px) * 2, base.shift_px)
    np.testing.assert_allclose(np.array(coarse.shift_px) * 2, base.shift_px)
    step = math.hypot(*base.shift_px)
    assert step == pytest.approx(base.speed_kmh * 300 / 3600)
    assert 5.0 <= base.speed_kmh <= 60.0
    heading = math.degrees(math.atan2(base.shift_px[1], -base.shift_px[0])) % 360
    assert heading == pytest.approx(base.heading_deg)


def test_flow_map_round_trips_and_rotates() -> None:
    model = RainModel((64, 64), 2, 300, 1.0)
    points = np.array([[0.0, 10.0, 63.0], [0.0, -5.0, -63.0]])
    back = model._departure(7, model._forward(7, points))
    np.testing.assert_allclose(back, points, atol=1e-9)
    # The displacement field is rigid: distances between material points are kept.
    moved = model._forward(30, points)
    np.testing.assert_allclose(
        np.linalg.norm(np.diff(moved, axis=1), axis=0),
        np.linalg.norm(np.diff(points, axis=1), axis=0),
    )
    turned = np.degrees(
        np.arctan2(*np.diff(moved, axis=1)[::-1, 0]) - np.arctan2(*np.diff(points, axis=1)[::-1, 0])
    )
    assert turned == pytest.approx(model.p.rotation_deg_h * 30 * 300 / 3600)


# --------------------------------------------------------------------------- growth and decay


def test_total_rain_grows_and_decays(runs: dict[int, np.ndarray]) -> None:
    steps = []
    for rain in runs.values():
        total = rain.sum(axis=(1, 2))
        assert (total.max() - total.min()) / total.mean() > 0.1
        steps.append(np.diff(total) / total.mean())
    growth = np.concatenate(steps)
    assert (growth > 0.02).sum() > 5 and (growth < -0.02).sum() > 5


def test_cell_life_cycle_envelope() -> None:
    envelope = RainModel._envelope
    age = np.array([0.0, 0.35, 1.0, 0.1, 0.7])
    values = envelope(age)
    np.testing.assert_allclose(values[:3], [0.0, 1.0, 0.0], atol=1e-12)
    assert 0 < values[3] < 1 and 0 < values[4] < 1


def test_cells_are_born_and_die() -> None:
    model = RainModel(SHAPE, 1, 300, 1.0)
    early, late = model._alive(0.0), model._alive(3 * 3600.0)
    assert early.col.size > 0 and late.col.size > 0
    assert not set(early.birth.tolist()) & set(late.birth.tolist())


# --------------------------------------------------------------------------- API


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_frames": -1}, "n_frames"),
        ({"n_frames": 2, "shape": (1, 10)}, "shape"),
        ({"n_frames": 2, "seed": -3}, "seed"),
        ({"n_frames": 2, "timestep_s": 0}, "timestep_s"),
        ({"n_frames": 2, "pixel_km": 0.0}, "pixel_km"),
        ({"n_frames": 2, "lifetime_scale": 0.0}, "lifetime_scale"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        synthetic_rain(**kwargs)  # type: ignore[arg-type]


def test_frames_carry_grid_times_and_values() -> None:
    frames = list(synthetic_frames(3, (20, 30), seed=4, timestep_s=600, pixel_km=2.0))
    rain = synthetic_rain(3, (20, 30), seed=4, timestep_s=600, pixel_km=2.0)
    assert [f.time for f in frames] == [
        np.datetime64("2024-06-01T12:00:00"),
        np.datetime64("2024-06-01T12:10:00"),
        np.datetime64("2024-06-01T12:20:00"),
    ]
    for frame, expected in zip(frames, rain, strict=True):
        np.testing.assert_array_equal(frame.values, expected)
        assert frame.variable == "rainfall_rate" and frame.sequence is None
        assert frame.source == "synthetic(seed=4)"
    grid = frames[0].grid
    assert grid.shape == (20, 30) and grid.is_projected
    assert grid.spacing == (2000.0, 2000.0)
    assert np.all(np.diff(grid.x) > 0) and np.all(np.diff(grid.y) < 0)
    assert grid.x[0] == -grid.x[-1] and grid.y[0] == -grid.y[-1]


def test_grid_is_laea_centred_on_52n_5e() -> None:
    grid = synthetic_grid((5, 5), pixel_km=10.0)
    assert grid.proj4 == PROJ4
    assert grid.crs is not None
    assert grid.crs["grid_mapping_name"] == "lambert_azimuthal_equal_area"
    assert grid.crs["latitude_of_projection_origin"] == 52.0
    assert grid.crs["longitude_of_projection_origin"] == 5.0
    assert grid.crs["semi_major_axis"] == 6378137.0
    assert "crs_wkt" in grid.crs and "semi_minor_axis" not in grid.crs
    assert CRS.from_cf(grid.crs).equals(CRS.from_proj4(PROJ4))
    to_lonlat = Transformer.from_crs(CRS.from_proj4(PROJ4), "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(grid.x[2], grid.y[2])
    assert (lon, lat) == pytest.approx((5.0, 52.0))
    lon, lat = to_lonlat.transform(grid.x[2], grid.y[0])  # row 0 is 20 km north
    assert lat == pytest.approx(52.0 + 20 / 111.25, abs=0.01)


def test_nan_border_marks_no_coverage() -> None:
    frames = list(synthetic_frames(2, (16, 20), seed=1, nan_border=3))
    values = frames[1].values
    assert np.isnan(values[:3]).all() and np.isnan(values[-3:]).all()
    assert np.isnan(values[:, :3]).all() and np.isnan(values[:, -3:]).all()
    inner = values[3:-3, 3:-3]
    assert np.isfinite(inner).all()
    np.testing.assert_array_equal(inner, synthetic_rain(2, (16, 20), seed=1)[1, 3:-3, 3:-3])
    assert np.isnan(values).sum() == 16 * 20 - 10 * 14


def test_nan_border_must_leave_data() -> None:
    with pytest.raises(ConfigError, match="nan_border"):
        next(synthetic_frames(1, (10, 10), nan_border=5))
