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
    velocity: torch.Tensor, factor: int, shape: tuple[int, int], steps: int
) -> torch.Tensor:
    """Displacements ``(steps, 1, 2, ny, nx)`` on the data's grid of a working-grid velocity."""
    if factor == 1:
        return displacements(velocity, steps)
    return displacements(fine_velocity(velocity, factor, shape), steps)


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


def detail_along(frames: np.ndarray, disp: torch.Tensor, factor: int) -> tuple[np.ndarray, float]:
    """The last frame's sub-block detail moved along ``disp``, undamped, and its ``rho``.

    Args:
        frames: Observed frames ``(T, ny, nx)`` in physical units, ``T >= 2``, NaN = no data.
        disp: ``(steps, 1, 2, ny, nx)`` displacements on the data's grid, pixels.
        factor: Pixels per block side.

    Returns:
        ``(moved, rho)``: ``(steps, ny, nx)`` float32 detail (may be negative)
        and the one-step persistence factor of the detail in ``[0, 1]``.
    """
    steps = disp.shape[0]
    detail = torch.from_numpy(sub_block_detail(frames[-2:], factor))[:, None]  # (2, 1, ny, nx)
    previous = warp(detail[:1], disp[0])[0, 0].numpy()
    rho = persistence_factor(previous, detail[1, 0].numpy())
    moved = np.empty((steps, *frames.shape[1:]), dtype=np.float32)
    for k in range(steps):  # one lead at a time: warp's sampling grid is 4 fields per lead
        moved[k] = warp(detail[1:], disp[k])[0, 0].numpy()
    return moved, rho
