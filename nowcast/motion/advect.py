"""Semi-Lagrangian advection with torch: displacements along a velocity field.

A velocity field ``(B, 2, H, W)`` holds, per pixel, the motion in pixels per
time step along the columns (channel 0) and the rows (channel 1). A field
advected ``n`` steps is read, at each pixel ``x``, from where the rain was
``n`` steps earlier: ``x - D_n(x)``, with the backward trajectory
``D_{k+1}(x) = D_k(x) + V(x - D_k(x))`` (velocity looked up along the way,
so curved motion is followed). Reads are bilinear; what comes from outside
the grid is 0, which is "dry" in the model's rain scale.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _sampling_grid(displacement: Tensor) -> Tensor:
    """``(B, 2, H, W)`` displacements -> grid_sample's ``(B, H, W, 2)`` grid at ``x - D``."""
    _, _, h, w = displacement.shape
    rows = torch.arange(h, device=displacement.device, dtype=displacement.dtype)
    cols = torch.arange(w, device=displacement.device, dtype=displacement.dtype)
    x = cols.view(1, 1, w) - displacement[:, 0]
    y = rows.view(1, h, 1) - displacement[:, 1]
    # align_corners=True: -1 and 1 are the centres of the first and last pixels.
    gx = x * (2.0 / max(w - 1, 1)) - 1.0
    gy = y * (2.0 / max(h - 1, 1)) - 1.0
    return torch.stack((gx, gy), dim=-1)


def warp(
    fields: Tensor, displacement: Tensor, padding: str = "zeros", mode: str = "bilinear"
) -> Tensor:
    """Read ``fields`` ``(B, C, H, W)`` at ``x - displacement(x)``.

    Args:
        fields: The fields to move; any floating dtype (computed in float32).
        displacement: ``(B, 2, H, W)`` pixels (columns, rows).
        padding: What lies outside the grid: ``"zeros"`` (no rain) or
            ``"border"`` (the nearest edge value, for velocities).
        mode: ``"bilinear"`` reads between pixels; ``"nearest"`` takes the
            nearest pixel's value, so the moved field keeps the values (and
            their distribution) of the original.

    Returns:
        ``(B, C, H, W)`` in the dtype of ``fields``.
    """
    grid = _sampling_grid(displacement.float())
    moved = F.grid_sample(fields.float(), grid, mode=mode, padding_mode=padding, align_corners=True)
    return moved.to(fields.dtype)


def displacements(velocity: Tensor, steps: int) -> Tensor:
    """Backward-trajectory displacements ``D_1 ... D_steps`` of a velocity field.

    Args:
        velocity: ``(B, 2, H, W)`` pixels per step.
        steps: How many steps to trace (0 gives an empty result).

    Returns:
        ``(steps, B, 2, H, W)`` float32; ``D_n`` is where the rain at each
        pixel was ``n`` steps earlier, as an offset in pixels.
    """
    v = velocity.float()
    out: list[Tensor] = []
    d = torch.zeros_like(v)
    for _ in range(steps):
        d = d + warp(v, d, padding="border")
        out.append(d)
    if not out:
        return v.new_zeros((0, *v.shape))
    return torch.stack(out)


def to_lagrangian(frames: Tensor, disp: Tensor) -> Tensor:
    """Carry every input frame forward to the time of the last one.

    Args:
        frames: ``(B, T, C, H, W)``, the last frame is the reference time.
        disp: ``(>= T-1, B, 2, H, W)`` from :func:`displacements`.

    Returns:
        ``(B, T, C, H, W)``: frame ``k`` advected ``T-1-k`` steps, so rain that
        only moved sits on the same pixels in every frame.
    """
    t = frames.shape[1]
    if t == 1:
        return frames
    moved = _warp_each(frames[:, :-1], disp[: t - 1].flip(0))
    return torch.cat([moved, frames[:, -1:]], dim=1)


def from_lagrangian(frames: Tensor, disp: Tensor) -> Tensor:
    """Carry forecasts made in the moving frame to the fixed grid.

    Args:
        frames: ``(B, L, C, H, W)``; lead ``l`` (1-based) is advected ``l`` steps.
        disp: ``(>= L, B, 2, H, W)`` from :func:`displacements`.

    Returns:
        ``(B, L, C, H, W)`` forecasts on the fixed grid.
    """
    return _warp_each(frames, disp[: frames.shape[1]])


def _warp_each(frames: Tensor, disp: Tensor) -> Tensor:
    """Frame ``k`` of ``(B, N, C, H, W)`` read with ``disp[k]`` of ``(N, B, 2, H, W)``, at once."""
    b, n = frames.shape[:2]
    flat = frames.transpose(0, 1).flatten(0, 1)  # (N*B, C, H, W), frame-major like disp
    moved = warp(flat, disp.flatten(0, 1))
    return moved.unflatten(0, (n, b)).transpose(0, 1)
