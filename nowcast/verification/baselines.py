"""Reference forecasts every model is compared with.

- Persistence (Eulerian): the last observed frame repeated for every lead.
- Extrapolation (Lagrangian persistence): the motion of the last input frames,
  estimated with pySTEPS' Lucas-Kanade optical flow, advects the last frame
  with pySTEPS' semi-Lagrangian scheme. Needs the optional extra
  ``pip install "nowcast[baselines]"`` (pysteps and OpenCV).

Both take rain rates in mm h-1 with NaN outside the radar coverage and
return arrays ``(steps, ny, nx)``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from types import ModuleType

import numpy as np
import torch

from nowcast.errors import ConfigError, InputError, NowcastError
from nowcast.models.persistence import repeat_last_frame

INSTALL_HINT = 'pip install "nowcast[baselines]"'
RAIN_THRESHOLD = 0.1
"""mm h-1; weaker rates are set to the dBR floor before the motion is estimated."""
DBR_FLOOR = -15.0
"""dBR given to dry pixels, as in the pySTEPS examples (10 log10(R / 1 mm h-1))."""


def _check_steps(steps: int) -> int:
    """Return ``steps`` as an int, raising ConfigError when it is below 1."""
    if int(steps) < 1:
        raise ConfigError(f"the number of forecast steps must be at least 1, got {steps}")
    return int(steps)


def persistence_forecast(last_frame: np.ndarray, steps: int) -> np.ndarray:
    """Repeat the last observed frame for every lead time.

    Args:
        last_frame: Field ``(ny, nx)``, any units; NaN stays NaN.
        steps: Number of lead times.

    Returns:
        A new array ``(steps, ny, nx)`` of the input dtype.
    """
    frame = np.asarray(last_frame)
    if frame.ndim != 2:
        raise InputError(f"persistence needs one 2-D frame (ny, nx), got shape {frame.shape}")
    n_steps = _check_steps(steps)
    # np.array copies: torch takes no negative strides and warns on read-only arrays
    frames = torch.from_numpy(np.array(frame))[None, None, None]  # (B, T, C, ny, nx)
    return repeat_last_frame(frames, n_steps)[0, :, 0].numpy()


def _import_pysteps() -> tuple[ModuleType, ModuleType]:
    """Import pySTEPS' motion and extrapolation packages without their start-up print.

    Raises:
        NowcastError: If pysteps or OpenCV cannot be imported, with the install hint.
    """
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import cv2  # noqa: F401  (pysteps' Lucas-Kanade needs OpenCV)
            from pysteps import extrapolation, motion
    except ImportError as exc:
        raise NowcastError(
            f"the extrapolation baseline needs pysteps and OpenCV "
            f"({exc.name or exc} is missing): {INSTALL_HINT}"
        ) from exc
    return motion, extrapolation


def extrapolation_available() -> bool:
    """Whether pysteps and OpenCV can be imported (the extrapolation baseline works)."""
    try:
        _import_pysteps()
    except NowcastError:
        return False
    return True


def rain_to_dbr(frames: np.ndarray, threshold: float = RAIN_THRESHOLD) -> np.ndarray:
    """Rain rate (mm h-1) to dBR for motion estimation, keeping NaN.

    Rates ``>= threshold`` become ``10 log10(R)``, drier pixels the floor
    :data:`DBR_FLOOR`; NaN pixels stay NaN, so pySTEPS' Lucas-Kanade masks them
    and detects no features at the edge of the coverage.
    """
    rates = np.asarray(frames, dtype=np.float64)
    dbr = np.full(rates.shape, DBR_FLOOR)
    wet = rates >= threshold
    dbr[wet] = 10.0 * np.log10(rates[wet])
    dbr[~np.isfinite(rates)] = np.nan
    return dbr


def _motion_frames(frames: np.ndarray) -> np.ndarray:
    """The trailing run of frames that have at least one finite pixel.

    A frame without data would break the tracking; frames before it are not
    one time step apart from the later ones, so they are dropped too.
    """
    has_data = np.isfinite(frames).reshape(frames.shape[0], -1).any(axis=1)
    start = frames.shape[0]
    while start > 0 and has_data[start - 1]:
        start -= 1
    return frames[start:]


def extrapolation_forecast(frames: np.ndarray, steps: int) -> np.ndarray:
    """Advect the last frame with the motion of the input sequence (pySTEPS).

    The motion field (pixels per time step) comes from Lucas-Kanade optical
    flow on the frames in dBR (:func:`rain_to_dbr`), pooled over all
    consecutive pairs; with fewer than two usable frames the motion is zero.
    The last frame (mm h-1) is then extrapolated backwards along the motion
    with bilinear interpolation. Pixels advected from outside the grid or from
    a NaN pixel are NaN, and pixels that are NaN in the last frame (no
    coverage) stay NaN at every lead.

    Args:
        frames: Rain rates ``(T, ny, nx)``, ``T >= 2``, mm h-1, NaN = no data.
        steps: Number of lead times (one input time step each).

    Returns:
        Rain rates ``(steps, ny, nx)`` in the dtype of ``frames`` (float64 for
        integer input).

    Raises:
        InputError: If ``frames`` is not a sequence of at least two 2-D frames.
        NowcastError: If pysteps or OpenCV is missing (with the install hint).
    """
    data = np.asarray(frames)
    if data.ndim != 3 or data.shape[0] < 2:
        raise InputError(f"extrapolation needs frames (T >= 2, ny, nx), got shape {data.shape}")
    n_steps = _check_steps(steps)
    motion, extrapolation = _import_pysteps()
    dtype = data.dtype if np.issubdtype(data.dtype, np.floating) else np.float64
    last = data[-1].astype(np.float64)
    coverage = np.isfinite(last)
    if not coverage.any():
        return np.full((n_steps, *last.shape), np.nan, dtype=dtype)
    usable = _motion_frames(data)
    if usable.shape[0] >= 2:
        with warnings.catch_warnings():
            # pySTEPS warns on a singular matrix in its outlier detection and carries on; a
            # scoring run over many start times would print it again and again.
            warnings.filterwarnings("ignore", message=".*during outlier detection")
            velocity = motion.get_method("LK")(rain_to_dbr(usable), verbose=False)
    else:
        velocity = np.zeros((2, *last.shape))
    advect = extrapolation.get_method("semilagrangian")
    forecast = advect(last, velocity, n_steps, outval=np.nan, allow_nonfinite_values=True)
    forecast[:, ~coverage] = np.nan
    return forecast.astype(dtype, copy=False)
