"""The detail a working grid averages away, given back to the first lead times.

On a working grid (:mod:`nowcast.forecasting.scale`) the network forecasts
block means; the pixels' departures from their block mean (convective cores,
sharp edges) are lost even at the first lead time, where they are still
predictable. For a model in the moving frame the motion is known, so this
detail is carried along it (:mod:`nowcast.motion`) and added back, damped at
each lead by how well the detail of one input frame, advected one step,
predicted the next: the least-squares factor ``rho`` per step, ``rho**lead``
at a lead (a first-order autoregression, as in STEPS-like cascades). Detail
that lives longer than one step keeps weight; noise fades out quickly.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from nowcast.forecasting.scale import block_mean, interpolate_back
from nowcast.motion import displacements, warp
from nowcast.motion.advect import Window


def sub_block_detail(frames: np.ndarray, factor: int) -> np.ndarray:
    """Departures of ``(T, ny, nx)`` frames from their interpolated block means (NaN -> 0)."""
    smooth = interpolate_back(block_mean(frames, factor), factor, frames.shape[1:])
    return np.nan_to_num(np.asarray(frames, dtype=np.float32) - smooth, nan=0.0)


def fine_velocity(velocity: torch.Tensor, factor: int, shape: tuple[int, int]) -> torch.Tensor:
    """A working-grid velocity ``(1, 2, by, bx)`` (blocks per step) on the fine grid (pixels)."""
    fine = F.interpolate(velocity * factor, scale_factor=factor, mode="bilinear")
    return fine[..., : shape[0], : shape[1]]


def persistence_factor(previous: np.ndarray, current: np.ndarray) -> float:
    """Least-squares ``rho`` in ``current ~ rho * previous``, clipped to [0, 1]."""
    power = float(np.sum(previous.astype(np.float64) ** 2))
    if power == 0.0:
        return 0.0
    return float(np.clip(np.sum(previous * current, dtype=np.float64) / power, 0.0, 1.0))


def fine_displacements(
    velocity: torch.Tensor,
    factor: int,
    shape: tuple[int, int],
    steps: int,
    window: Window | None = None,
) -> torch.Tensor:
    """Displacements ``(steps, 1, 2, h, w)`` on the data's grid of a working-grid velocity.

    ``h, w`` are the ``window``'s (:func:`coverage_window`), default the grid's.
    """
    return displacements(data_grid_velocity(velocity, factor, shape), steps, window)


def data_grid_velocity(velocity: torch.Tensor, factor: int, shape: tuple[int, int]) -> torch.Tensor:
    """A working-grid velocity ``(1, 2, by, bx)`` on the data's grid (itself for ``factor`` 1)."""
    return velocity if factor == 1 else fine_velocity(velocity, factor, shape)


def coverage_window(covered: np.ndarray) -> Window | None:
    """The smallest window of the grid holding every ``covered`` pixel ``(ny, nx)``.

    Outside it a forecast is NaN, so what is carried along the motion there
    is never used: a national composite on a larger grid (KNMI's: a quarter
    of its 765 x 700 pixels covered, within a third of the grid) needs only
    that window traced and moved. None when the window is the whole grid or
    nothing is covered.
    """
    rows, cols = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
    if rows.size == 0:
        return None
    span = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
    if span == (0, covered.shape[0], 0, covered.shape[1]):
        return None
    return slice(span[0], span[1]), slice(span[2], span[3])


def moved_detail(
    frames: np.ndarray, velocity: torch.Tensor, factor: int, steps: int
) -> tuple[np.ndarray, float]:
    """The last frame's sub-block detail advected to each lead, undamped, and its ``rho``.

    Args:
        frames: Observed frames ``(T, ny, nx)`` in physical units, ``T >= 2``, NaN = no data.
        velocity: ``(1, 2, by, bx)`` motion on the working grid, blocks per step.
        factor: Pixels per block side.
        steps: Lead times.

    Returns:
        ``(moved, rho)`` as :func:`detail_along` gives them.
    """
    return detail_along(
        frames, fine_displacements(velocity, factor, frames.shape[1:], steps), factor
    )


def detail_along(
    frames: np.ndarray,
    disp: torch.Tensor,
    factor: int,
    window: Window | None = None,
    first: torch.Tensor | None = None,
) -> tuple[np.ndarray, float]:
    """The last frame's sub-block detail moved along ``disp``, undamped, and its ``rho``.

    Args:
        frames: Observed frames ``(T, ny, nx)`` in physical units, ``T >= 2``, NaN = no data.
        disp: ``(steps, 1, 2, h, w)`` displacements on the data's grid, pixels,
            over ``window`` (default the whole grid).
        factor: Pixels per block side.
        window: Where ``disp`` lies (:func:`coverage_window`).
        first: ``(1, 2, ny, nx)`` the first step's displacement over the whole
            grid, for ``rho`` (which sums over every pixel); needed with a window.

    Returns:
        ``(moved, rho)``: ``(steps, ny, nx)`` float32 detail (may be negative;
        zero outside the window) and the one-step persistence factor of the
        detail in ``[0, 1]``.
    """
    steps = disp.shape[0]
    detail = torch.from_numpy(sub_block_detail(frames[-2:], factor))[:, None]  # (2, 1, ny, nx)
    previous = warp(detail[:1], disp[0] if first is None else first)[0, 0].numpy()
    rho = persistence_factor(previous, detail[1, 0].numpy())
    rows, cols = window or (slice(None), slice(None))
    origin = (rows.start or 0, cols.start or 0)
    moved = np.zeros((steps, *frames.shape[1:]), dtype=np.float32)
    for k in range(steps):  # one lead at a time: warp's sampling grid is 4 fields per lead
        moved[k, rows, cols] = warp(detail[1:], disp[k], origin=origin)[0, 0].numpy()
    return moved, rho
