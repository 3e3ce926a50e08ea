"""Persistence and pySTEPS extrapolation baselines."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from nowcast.errors import ConfigError, InputError, NowcastError
from nowcast.verification import baselines
from nowcast.verification.baselines import (
    INSTALL_HINT,
    extrapolation_available,
    extrapolation_forecast,
    lk_motion,
    motion_chunks,
    persistence_forecast,
    rain_to_dbr,
)

needs_pysteps = pytest.mark.skipif(not extrapolation_available(), reason="pysteps/cv2 missing")

SIZE = 96
BLOBS = ((28, 30, 8.0), (55, 40, 12.0), (40, 70, 6.0), (70, 72, 10.0))


def _blobs(dy: float, dx: float) -> np.ndarray:
    """Gaussian rain cells (mm h-1) shifted by (dy, dx) pixels."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    field = np.zeros((SIZE, SIZE))
    for cy, cx, peak in BLOBS:
        field += peak * np.exp(-((yy - cy - dy) ** 2 + (xx - cx - dx) ** 2) / (2 * 6.0**2))
    return field


def test_persistence_repeats_the_last_frame() -> None:
    frame = np.array([[0.0, 1.5], [np.nan, 3.0]], dtype=np.float32)
    out = persistence_forecast(frame, 3)
    assert out.shape == (3, 2, 2)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[2], frame)
    out[0, 0, 0] = 9.0
    assert frame[0, 0] == 0.0  # a new array, not a view
    with pytest.raises(ConfigError):
        persistence_forecast(frame, 0)
    with pytest.raises(InputError):
        persistence_forecast(np.zeros((2, 2, 2)), 1)


def test_rain_to_dbr_keeps_nan() -> None:
    dbr = rain_to_dbr(np.array([np.nan, 0.0, 0.05, 0.1, 10.0]))
    np.testing.assert_allclose(dbr, [np.nan, -15.0, -15.0, -10.0, 10.0])


@needs_pysteps
def test_extrapolation_follows_the_motion() -> None:
    # cells move 2 px down and 1 px right per step
    frames = np.stack([_blobs(2 * t, t) for t in range(4)]).astype(np.float32)
    truth = np.stack([_blobs(2 * t, t) for t in range(4, 7)])
    forecast = extrapolation_forecast(frames, 3)
    assert forecast.shape == (3, SIZE, SIZE)
    assert forecast.dtype == np.float32
    persistence = persistence_forecast(frames[-1], 3)
    for k in range(3):
        ok = np.isfinite(forecast[k])
        mse_ext = np.mean((forecast[k][ok] - truth[k][ok]) ** 2)
        mse_per = np.mean((persistence[k] - truth[k]) ** 2)
        assert mse_ext < 0.05 * mse_per
    # the northern rows and western columns advect from outside the grid -> NaN
    assert np.isnan(forecast[0, :2]).all()
    assert np.isnan(forecast[2, :6]).all()
    assert np.isnan(forecast[2, :, :3]).all()
    assert np.isfinite(forecast[2, 8:, 5:]).all()


@needs_pysteps
def test_extrapolation_keeps_no_coverage_nan() -> None:
    frames = np.stack([_blobs(0, 2 * t) for t in range(3)])
    frames[:, :, :10] = np.nan  # western strip outside the radar coverage
    frames[-1, 50:52, 50:52] = np.nan  # a gap in the last frame only
    forecast = extrapolation_forecast(frames, 2)
    assert np.isnan(forecast[:, :, :10]).all()
    assert np.isnan(forecast[:, 50:52, 50:52]).all()
    # motion is eastward, so the column next to the strip advects from NaN
    assert np.isnan(forecast[0, :, 10]).all()
    assert np.isfinite(forecast[:, 5:-5, 20:48]).all()


@needs_pysteps
def test_extrapolation_without_rain_or_data() -> None:
    dry = np.zeros((3, 32, 32))
    np.testing.assert_array_equal(extrapolation_forecast(dry, 2), 0.0)
    empty = np.full((3, 32, 32), np.nan)
    assert np.isnan(extrapolation_forecast(empty, 2)).all()
    with pytest.raises(InputError):
        extrapolation_forecast(dry[:1], 2)


def test_motion_chunks_are_square_and_bounded() -> None:
    assert motion_chunks((96, 96)) == 1
    assert motion_chunks((765, 700)) == 9  # 535,500 pixels: 3 x 3 pieces
    assert motion_chunks((2200, 1900)) == 64  # 4.18 M pixels: 8 x 8 pieces of under 2**16


@needs_pysteps
def test_motion_interpolation_stays_in_pieces_at_every_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pySTEPS' own default of 4 pieces decays to 1 after its first call, so each later
    # start time of an evaluation interpolated the whole grid at once (5 GB on 2200 x 1900).
    frames = np.stack([_blobs(2 * t, t) for t in range(3)])
    whole = lk_motion(frames)  # 96 x 96 pixels: one piece
    monkeypatch.setattr(baselines, "MOTION_CHUNK_PIXELS", SIZE * SIZE // 16)
    one_piece_bytes = SIZE * SIZE * 1280  # ~1.3 kB per pixel: 20 neighbours and their vectors
    for _ in range(3):
        tracemalloc.start()
        try:
            motion = lk_motion(frames)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < one_piece_bytes / 4
        np.testing.assert_array_equal(motion, whole)  # the pieces do not change the motion


def test_missing_pysteps_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("pysteps", "pysteps.motion", "pysteps.extrapolation"):
        monkeypatch.setitem(sys.modules, name, None)
    assert not extrapolation_available()
    with pytest.raises(NowcastError, match="pysteps") as info:
        extrapolation_forecast(np.zeros((2, 8, 8)), 1)
    assert INSTALL_HINT in str(info.value)


@needs_pysteps
def test_pysteps_import_prints_nothing() -> None:
    code = (
        "from nowcast.verification.baselines import extrapolation_available\n"
        "assert extrapolation_available()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout == ""
