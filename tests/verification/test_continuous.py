"""Continuous scores against pySTEPS and hand values; OpenSTL-style frame scores."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from nowcast.errors import ConfigError, InputError
from nowcast.verification.continuous import ContinuousScores, FrameScores, psnr, ssim

with contextlib.redirect_stdout(io.StringIO()):
    from pysteps.verification.detcontscores import (
        det_cont_fct_accum,
        det_cont_fct_compute,
        det_cont_fct_init,
    )


def _fields(seed: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Correlated positive forecast/observation pairs."""
    rng = np.random.default_rng(seed)
    ob = rng.gamma(0.7, 3.0, shape)
    fc = 0.8 * ob + rng.gamma(0.5, 1.0, shape)
    return fc, ob


def test_matches_pysteps_det_cont_fct_pooled() -> None:
    fc, ob = _fields(1, (4, 30, 40))
    ours = ContinuousScores(n_leads=1)
    ref = det_cont_fct_init()
    for k in range(4):
        ours.update(0, fc[k], ob[k])
        det_cont_fct_accum(ref, fc[k], ob[k])
    s = ours.scores()
    r = det_cont_fct_compute(ref)
    assert s["n"][0] == 4 * 30 * 40
    for ours_name, ref_name in [
        ("mse", "MSE"),
        ("mae", "MAE"),
        ("bias", "ME"),
        ("rmse", "RMSE"),
        ("corr", "corr_p"),
    ]:
        assert s[ours_name][0] == pytest.approx(float(r[ref_name]), abs=1e-9, rel=1e-9)


def test_hand_computed_and_undefined_correlation() -> None:
    scores = ContinuousScores(n_leads=2)
    scores.update(0, np.array([1.0, 2.0, 3.0, np.nan]), np.array([1.0, 1.0, 1.0, 5.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = scores.scores()
    assert s["n"].tolist() == [3, 0]
    assert s["mse"][0] == pytest.approx(5 / 3)
    assert s["mae"][0] == pytest.approx(1.0)
    assert s["bias"][0] == pytest.approx(1.0)
    assert np.isnan(s["corr"][0])  # constant observation: zero variance
    assert all(np.isnan(s[name][1]) for name in ("mse", "mae", "bias", "corr", "rmse"))


def test_nan_pairs_are_excluded() -> None:
    fc, ob = _fields(2, (25, 25))
    fc[:3] = np.nan
    ob[:, -4:] = np.nan
    valid = np.isfinite(fc) & np.isfinite(ob)
    scores = ContinuousScores(n_leads=1)
    scores.update(0, fc, ob)
    s = scores.scores()
    err = fc[valid] - ob[valid]
    assert s["n"][0] == valid.sum()
    assert s["mse"][0] == pytest.approx(np.mean(err**2), rel=1e-12)
    assert s["corr"][0] == pytest.approx(np.corrcoef(fc[valid], ob[valid])[0, 1], rel=1e-9)


def test_pooling_merge_and_concatenation_agree() -> None:
    fc, ob = _fields(3, (2, 3, 12, 12))  # (start, lead, y, x)
    parts = [ContinuousScores(3), ContinuousScores(3)]
    for start in range(2):
        parts[start].update_all(fc[start], ob[start])
    merged = parts[0].merge(parts[1]).scores()
    concat = ContinuousScores(3)
    for lead in range(3):
        concat.update(lead, fc[:, lead], ob[:, lead])
    for name in ("n", "mse", "mae", "bias", "corr"):
        np.testing.assert_allclose(merged[name], concat.scores()[name], rtol=1e-12)
    overall = concat.overall()
    assert overall["mse"] == pytest.approx(np.mean((fc - ob) ** 2), rel=1e-12)


def test_persistence_of_a_static_field_has_zero_error() -> None:
    frame, _ = _fields(4, (16, 16))
    scores = ContinuousScores(n_leads=3)
    scores.update_all(np.repeat(frame[None], 3, 0), np.repeat(frame[None], 3, 0))
    s = scores.scores()
    np.testing.assert_array_equal(s["mse"], 0.0)
    np.testing.assert_allclose(s["corr"], 1.0, rtol=1e-12)


def test_frame_scores_follow_the_openstl_convention() -> None:
    rng = np.random.default_rng(5)
    ob = rng.random((2, 4, 16, 16))  # (lead, batch, y, x)
    fc = np.clip(ob + rng.normal(0, 0.1, ob.shape), 0, 1)
    frames = FrameScores(n_leads=2)
    frames.update_all(fc, ob)
    s = frames.scores()
    assert s["n_frames"].tolist() == [4, 4]
    # per frame: summed over pixels; then the mean over frames
    np.testing.assert_allclose(s["frame_mse"], np.sum((fc - ob) ** 2, axis=(2, 3)).mean(axis=1))
    np.testing.assert_allclose(s["frame_mae"], np.abs(fc - ob).sum(axis=(2, 3)).mean(axis=1))
    np.testing.assert_allclose(s["psnr"], psnr(fc, ob).mean(axis=1))
    overall = frames.overall()
    assert overall["frame_mse"] == pytest.approx(np.sum((fc - ob) ** 2, axis=(2, 3)).mean())


def test_psnr_hand_values() -> None:
    ob = np.zeros((2, 12, 12))
    fc = ob + 0.1  # MSE 0.01 -> 20 dB for data range 1
    assert psnr(fc, ob) == pytest.approx([20.0, 20.0])
    assert psnr(ob, ob)[0] == np.inf
    assert psnr(fc * 255, ob, data_range=255.0)[0] == pytest.approx(20.0)


def _ssim_brute_force(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM with explicit 11x11 Gaussian windows at every inside position."""
    offsets = np.arange(-5, 6)
    window = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * 1.5**2))
    window /= window.sum()
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            a, b = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            ma, mb = (window * a).sum(), (window * b).sum()
            va = (window * (a - ma) ** 2).sum()
            vb = (window * (b - mb) ** 2).sum()
            cov = (window * (a - ma) * (b - mb)).sum()
            values.append(
                (2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
            )
    return float(np.mean(values))


def test_ssim_matches_brute_force_and_scipy_gaussian() -> None:
    rng = np.random.default_rng(6)
    x = gaussian_filter(rng.random((18, 20)), 1.0)
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    assert ssim(x, y) == pytest.approx(_ssim_brute_force(x, y), rel=1e-10)
    # the same statistics from scipy.ndimage, cropped to the windows inside the frame
    g = {name: gaussian_filter(v, 1.5, truncate=3.5) for name, v in {"x": x, "y": y}.items()}
    sxx = gaussian_filter(x * x, 1.5, truncate=3.5) - g["x"] ** 2
    syy = gaussian_filter(y * y, 1.5, truncate=3.5) - g["y"] ** 2
    sxy = gaussian_filter(x * y, 1.5, truncate=3.5) - g["x"] * g["y"]
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * g["x"] * g["y"] + c1) * (2 * sxy + c2)) / (
        (g["x"] ** 2 + g["y"] ** 2 + c1) * (sxx + syy + c2)
    )
    assert ssim(x, y) == pytest.approx(ssim_map[5:-5, 5:-5].mean(), rel=1e-10)
    assert ssim(x, x) == pytest.approx(1.0)
    assert ssim(np.stack([x, y]), np.stack([x, x])).shape == (2,)


def test_invalid_inputs() -> None:
    with pytest.raises(InputError, match="11x11"):
        ssim(np.zeros((8, 8)), np.zeros((8, 8)))
    frames = FrameScores(n_leads=1)
    with pytest.raises(InputError, match="NaN"):
        frames.update(0, np.full((12, 12), np.nan), np.zeros((12, 12)))
    with pytest.raises(ValueError, match="cannot merge"):
        ContinuousScores(2).merge(ContinuousScores(3))
    with pytest.raises(ConfigError):
        ContinuousScores(0)
    with pytest.raises(ConfigError):
        FrameScores(1, data_range=0.0)
