"""Reference forecasts every model is compared with.

- Persistence (Eulerian): the last observed frame repeated for every lead.
- Extrapolation (Lagrangian persistence): the motion of the last input frames,
  estimated with pySTEPS' Lucas-Kanade optical flow, advects the last frame
  with pySTEPS' semi-Lagrangian scheme. Needs the optional extra
  ``pip install "nowcast[baselines]"`` (pysteps and OpenCV).

Both take rain rates in mm h-1 with NaN outside the radar coverage and
return arrays ``(steps, ny, nx)``. pySTEPS' STEPS ensemble, the third
baseline, is in :mod:`nowcast.verification.steps_baseline` and uses the same
motion (:func:`lk_motion`).
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from types import ModuleType
from typing import Any

import numpy as np
import torch

from nowcast.errors import ConfigError, InputError, NowcastError
from nowcast.models.persistence import repeat_last_frame

INSTALL_HINT = 'pip install "nowcast[baselines]"'
RAIN_THRESHOLD = 0.1
"""mm h-1; weaker rates are set to the dBR floor before the motion is estimated."""
DBR_FLOOR = -15.0
"""dBR given to dry pixels, as in the pySTEPS examples (10 log10(R / 1 mm h-1))."""
MOTION_CHUNK_PIXELS = 2**16
"""Most grid pixels pySTEPS interpolates motion vectors onto at once (about 85 MB)."""


def check_steps(steps: int) -> int:
    """Return ``steps`` as an int, raising ConfigError when it is below 1."""
    if int(steps) < 1:
        raise ConfigError(f"the number of forecast steps must be at least 1, got {steps}")
    return int(steps)


def float_dtype(data: np.ndarray) -> np.dtype[np.floating[Any]]:
    """The dtype a baseline returns for input ``data``: its own if floating, else float64."""
    return data.dtype if np.issubdtype(data.dtype, np.floating) else np.dtype(np.float64)


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
    n_steps = check_steps(steps)
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


def lk_motion(frames: np.ndarray) -> np.ndarray:
    """Lucas-Kanade motion of rain-rate frames (pySTEPS), shared by the pySTEPS baselines.

    Estimated on the frames in dBR (:func:`rain_to_dbr`), pooled over all
    consecutive pairs of the trailing frames that hold data; with fewer than
    two such frames the motion is zero.

    Args:
        frames: Rain rates ``(T, ny, nx)``, mm h-1, NaN = no data.

    Returns:
        Velocity ``(2, ny, nx)`` (x then y component) in pixels per time step.

    Raises:
        NowcastError: If pysteps or OpenCV is missing (with the install hint).
    """
    motion, _ = _import_pysteps()
    usable = _motion_frames(frames)
    if usable.shape[0] < 2:
        return np.zeros((2, *frames.shape[1:]))
    with warnings.catch_warnings():
        # pySTEPS warns on a singular matrix in its outlier detection and carries on, and
        # numpy warns there when too few features are tracked (rain that does not move); a
        # scoring run over many start times would print them again and again.
        warnings.filterwarnings("ignore", message=".*during outlier detection")
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        chunks = {"nchunks": motion_chunks(frames.shape[-2:])}
        return motion.get_method("LK")(rain_to_dbr(usable), verbose=False, interp_kwargs=chunks)


def motion_chunks(shape: tuple[int, ...]) -> int:
    """How many pieces pySTEPS interpolates the motion vectors onto the grid in.

    Its inverse-distance interpolation holds about 1.3 kB per target pixel at
    once (distances, indices and weights of 20 neighbours, and their vectors):
    5 GB on a 2200 x 1900 grid in one piece. Its own default of 4 pieces holds
    only for the first call in a process: the decorator replaces that default
    with its square root (4, then 2, then 1), so every later start time of an
    evaluation interpolated the whole grid at once. Passed explicitly, the
    count holds at every call. Each pixel's neighbours and weights are its
    own, so the motion does not depend on the count, and small pieces cost no
    measurable time (one neighbour search per pixel either way).

    Returns:
        A square number of pieces (pySTEPS splits x and y by its root), each
        of at most about :data:`MOTION_CHUNK_PIXELS` pixels.
    """
    side = math.ceil(math.sqrt(shape[-2] * shape[-1] / MOTION_CHUNK_PIXELS))
    return max(side, 1) ** 2


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
    n_steps = check_steps(steps)
    _, extrapolation = _import_pysteps()
    dtype = float_dtype(data)
    last = data[-1].astype(np.float64)
    coverage = np.isfinite(last)
    if not coverage.any():
        return np.full((n_steps, *last.shape), np.nan, dtype=dtype)
    velocity = lk_motion(data)
    advect = extrapolation.get_method("semilagrangian")
    forecast = advect(last, velocity, n_steps, outval=np.nan, allow_nonfinite_values=True)
    forecast[:, ~coverage] = np.nan
    return forecast.astype(dtype, copy=False)
