"""Continuous verification: pooled error sums and per-frame image scores.

:class:`ContinuousScores` pools every valid pixel of a lead time over all
start times, keeping only float64 sums, so memory stays constant. With the
error ``e = forecast - observed`` (units of the field, mm h-1 for rain) and
``n`` valid pixel pairs:

- ME (``bias``), mean error: ``sum(e) / n``
- MSE: ``sum(e**2) / n``; RMSE = ``sqrt(MSE)``
- MAE: ``sum(|e|) / n``
- Pearson correlation of forecast ``x`` and observation ``y``:
  ``(n Sxy - Sx Sy) / sqrt((n Sxx - Sx**2)(n Syy - Sy**2))``

Pairs where either value is NaN (or infinite) are left out. A score with
``n = 0`` or a zero variance in its denominator is NaN.

:class:`FrameScores` follows the Moving MNIST convention of OpenSTL (Tan et
al. 2023): per frame, MSE and MAE are the squared and absolute errors
**summed over the pixels**, then averaged over frames; SSIM and PSNR are
computed per frame and averaged over frames. Frames are images in
``[0, data_range]`` (``[0, 1]`` by default).
"""

from __future__ import annotations

import numpy as np

from nowcast.errors import ConfigError, InputError
from nowcast.verification.accumulator import Accumulator, check_lead, check_pair, valid_values

CONTINUOUS_SUMS: tuple[str, ...] = ("sum_error", "sum_sq_error", "sum_abs_error", "sum_x", "sum_y")
CONTINUOUS_SUMS += ("sum_xx", "sum_yy", "sum_xy")
FRAME_SUMS = ("sum_frame_sse", "sum_frame_sae", "sum_ssim", "sum_psnr")

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Divide element-wise with NaN (no warning) where the denominator is not positive."""
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def continuous_from_sums(
    n: np.ndarray,
    sum_error: np.ndarray,
    sum_sq_error: np.ndarray,
    sum_abs_error: np.ndarray,
    sum_x: np.ndarray,
    sum_y: np.ndarray,
    sum_xx: np.ndarray,
    sum_yy: np.ndarray,
    sum_xy: np.ndarray,
) -> dict[str, np.ndarray]:
    """Compute continuous scores from pooled sums (x = forecast, y = observed).

    Returns:
        ``{"n", "mse", "rmse", "mae", "bias", "corr"}``; ``n`` as int64, the
        others float64 in the units of the field (squared for MSE), NaN where
        undefined.
    """
    mse = _safe_divide(sum_sq_error, n)
    cov = n * np.asarray(sum_xy) - np.asarray(sum_x) * np.asarray(sum_y)
    var_x = n * np.asarray(sum_xx) - np.asarray(sum_x) ** 2
    var_y = n * np.asarray(sum_yy) - np.asarray(sum_y) ** 2
    return {
        "n": np.asarray(n, dtype=np.int64),
        "mse": mse,
        "rmse": np.sqrt(mse),
        "mae": _safe_divide(sum_abs_error, n),
        "bias": _safe_divide(sum_error, n),
        "corr": _safe_divide(cov, np.sqrt(np.clip(var_x, 0.0, None) * np.clip(var_y, 0.0, None))),
    }


class ContinuousScores(Accumulator):
    """Pooled error and correlation sums per lead time.

    Attributes:
        n_leads: Number of lead times.
        n: Valid pixel pairs per lead, int64 ``(n_leads,)``.
        sum_error, sum_sq_error, sum_abs_error: Sums of ``e``, ``e**2``, ``|e|``.
        sum_x, sum_y, sum_xx, sum_yy, sum_xy: Sums for the Pearson correlation
            (x = forecast, y = observed). All sums are float64 ``(n_leads,)``.
    """

    SUMS = ("n", *CONTINUOUS_SUMS)
    MERGE_KEYS = ("n_leads",)
    MERGE_ERROR = "cannot merge {other.n_leads} lead times into {self.n_leads}"

    def __init__(self, n_leads: int) -> None:
        super().__init__(n_leads)
        self.n = np.zeros(self.n_leads, dtype=np.int64)
        self.sum_error = np.zeros(self.n_leads)
        self.sum_sq_error = np.zeros(self.n_leads)
        self.sum_abs_error = np.zeros(self.n_leads)
        self.sum_x = np.zeros(self.n_leads)
        self.sum_y = np.zeros(self.n_leads)
        self.sum_xx = np.zeros(self.n_leads)
        self.sum_yy = np.zeros(self.n_leads)
        self.sum_xy = np.zeros(self.n_leads)

    def update(self, lead: int, forecast: np.ndarray, observed: np.ndarray) -> None:
        """Add the valid pixels of one forecast/observation pair to lead ``lead``.

        Args:
            lead: Lead-time index, ``0 .. n_leads - 1``.
            forecast: Forecast field(s), any shape.
            observed: Observed field(s) of the same shape and units.
        """
        index = check_lead(lead, self.n_leads)
        fc, ob = valid_values(forecast, observed)
        x = fc.astype(np.float64, copy=False)
        y = ob.astype(np.float64, copy=False)
        error = x - y
        self.n[index] += x.size
        self.sum_error[index] += error.sum()
        self.sum_sq_error[index] += np.dot(error, error)
        self.sum_abs_error[index] += np.abs(error).sum()
        self.sum_x[index] += x.sum()
        self.sum_y[index] += y.sum()
        self.sum_xx[index] += np.dot(x, x)
        self.sum_yy[index] += np.dot(y, y)
        self.sum_xy[index] += np.dot(x, y)

    def _sums(self, axis: int | None) -> dict[str, np.ndarray]:
        """The accumulators, summed over ``axis`` (None keeps the lead axis)."""
        if axis is None:
            return {name: getattr(self, name) for name in self.SUMS}
        return {name: getattr(self, name).sum(axis=axis) for name in self.SUMS}

    def scores(self) -> dict[str, np.ndarray]:
        """Scores per lead: ``n, mse, rmse, mae, bias, corr``, arrays ``(n_leads,)``."""
        return continuous_from_sums(**self._sums(None))

    def overall(self) -> dict[str, np.ndarray]:
        """The same scores from the sums pooled over all lead times (0-d arrays)."""
        return continuous_from_sums(**self._sums(0))


def _gaussian_taps(sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS) -> np.ndarray:
    """Normalised 1-D Gaussian weights of length ``2 * radius + 1``."""
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-(offsets**2) / (2.0 * sigma**2))
    return taps / taps.sum()


def _valid_filter(images: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable weighted mean over the last two axes, 'valid' part only.

    Args:
        images: Array ``(..., ny, nx)``.
        taps: 1-D weights of odd length ``w``.

    Returns:
        Array ``(..., ny - w + 1, nx - w + 1)``: the window means whose window
        lies fully inside the image (no padding, as in Wang et al. 2004).
    """
    width = taps.size
    ny, nx = images.shape[-2:]
    rows = sum(t * images[..., k : k + ny - width + 1, :] for k, t in enumerate(taps))
    return sum(t * rows[..., :, k : k + nx - width + 1] for k, t in enumerate(taps))


def ssim(forecast: np.ndarray, observed: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Mean structural similarity per frame (Wang et al. 2004, Gaussian window).

    The local means, variances and covariance use an 11x11 Gaussian window
    (sigma 1.5 px) and population moments; the SSIM map is
    ``(2 mx my + C1)(2 sxy + C2) / ((mx**2 + my**2 + C1)(sx2 + sy2 + C2))``
    with ``C1 = (0.01 L)**2``, ``C2 = (0.03 L)**2``, ``L = data_range``, and
    is averaged over the window positions that lie inside the frame.

    Args:
        forecast: Frames ``(..., ny, nx)`` with ``ny, nx >= 11``, finite values.
        observed: Frames of the same shape.
        data_range: ``L``, the span of possible values (1 for [0, 1] images).

    Returns:
        float64 array of shape ``forecast.shape[:-2]``: SSIM of each frame.
    """
    fc, ob = check_pair(forecast, observed)
    width = 2 * SSIM_RADIUS + 1
    if fc.ndim < 2 or min(fc.shape[-2:]) < width:
        raise InputError(f"SSIM needs frames of at least {width}x{width} pixels, got {fc.shape}")
    x = fc.astype(np.float64)
    y = ob.astype(np.float64)
    taps = _gaussian_taps()
    mean_x = _valid_filter(x, taps)
    mean_y = _valid_filter(y, taps)
    var_x = _valid_filter(x * x, taps) - mean_x**2
    var_y = _valid_filter(y * y, taps) - mean_y**2
    cov = _valid_filter(x * y, taps) - mean_x * mean_y
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    index = ((2 * mean_x * mean_y + c1) * (2 * cov + c2)) / (
        (mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2)
    )
    return index.mean(axis=(-2, -1))


def psnr(forecast: np.ndarray, observed: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio per frame, ``10 log10(L**2 / MSE)`` in dB.

    Args:
        forecast: Frames ``(..., ny, nx)``.
        observed: Frames of the same shape.
        data_range: ``L``, the span of possible values.

    Returns:
        float64 array ``forecast.shape[:-2]``; ``+inf`` for identical frames.
    """
    fc, ob = check_pair(forecast, observed)
    error = fc.astype(np.float64) - ob.astype(np.float64)
    mse = np.mean(error**2, axis=(-2, -1))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / mse)


class FrameScores(Accumulator):
    """Per-frame image scores averaged over frames (OpenSTL Moving MNIST convention).

    Attributes:
        n_leads: Number of lead times.
        data_range: Span of the pixel values (1 for [0, 1] frames).
        n_frames: Frames per lead, int64 ``(n_leads,)``.
        sum_frame_sse: Sum over frames of the per-frame sum of squared errors.
        sum_frame_sae: Sum over frames of the per-frame sum of absolute errors.
        sum_ssim, sum_psnr: Sums over frames of the per-frame SSIM and PSNR.
    """

    SUMS = ("n_frames", *FRAME_SUMS)
    MERGE_KEYS = ("n_leads", "data_range")
    MERGE_ERROR = "cannot merge frame scores with different leads or data range"

    def __init__(self, n_leads: int, data_range: float = 1.0) -> None:
        super().__init__(n_leads)
        if not data_range > 0:
            raise ConfigError(f"data_range must be positive, got {data_range}")
        self.data_range = float(data_range)
        self.n_frames = np.zeros(self.n_leads, dtype=np.int64)
        self.sum_frame_sse = np.zeros(self.n_leads)
        self.sum_frame_sae = np.zeros(self.n_leads)
        self.sum_ssim = np.zeros(self.n_leads)
        self.sum_psnr = np.zeros(self.n_leads)

    def update(self, lead: int, forecast: np.ndarray, observed: np.ndarray) -> None:
        """Add one frame ``(ny, nx)`` or a batch of frames ``(..., ny, nx)`` to lead ``lead``.

        Raises:
            InputError: If a frame holds NaN or infinite values.
        """
        index = check_lead(lead, self.n_leads)
        fc, ob = check_pair(forecast, observed)
        if not (np.isfinite(fc).all() and np.isfinite(ob).all()):
            raise InputError("frame scores (SSIM, PSNR) need frames without NaN or inf")
        error = fc.astype(np.float64) - ob.astype(np.float64)
        n_frames = int(np.prod(fc.shape[:-2], dtype=np.int64))
        self.n_frames[index] += n_frames
        self.sum_frame_sse[index] += np.sum(error**2)
        self.sum_frame_sae[index] += np.sum(np.abs(error))
        self.sum_ssim[index] += np.sum(ssim(fc, ob, self.data_range))
        self.sum_psnr[index] += np.sum(psnr(fc, ob, self.data_range))

    @staticmethod
    def _from_sums(n_frames: np.ndarray, sums: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Frame-averaged scores from frame counts and sums."""
        return {
            "n_frames": np.asarray(n_frames, dtype=np.int64),
            "frame_mse": _safe_divide(sums["sum_frame_sse"], n_frames),
            "frame_mae": _safe_divide(sums["sum_frame_sae"], n_frames),
            "ssim": _safe_divide(sums["sum_ssim"], n_frames),
            "psnr": _safe_divide(sums["sum_psnr"], n_frames),
        }

    def scores(self) -> dict[str, np.ndarray]:
        """Per lead: ``n_frames, frame_mse, frame_mae, ssim, psnr``, arrays ``(n_leads,)``."""
        return self._from_sums(self.n_frames, {k: getattr(self, k) for k in FRAME_SUMS})

    def overall(self) -> dict[str, np.ndarray]:
        """The same scores over all frames of all leads (the single OpenSTL numbers)."""
        sums = {k: getattr(self, k).sum() for k in FRAME_SUMS}
        return self._from_sums(self.n_frames.sum(), sums)
