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

#: The pixel ``(row, column)`` where a window of displacements starts on its source grid.
Origin = tuple[int, int]
#: A window of a grid: its ``(rows, columns)`` slices (steps of 1).
Window = tuple[slice, slice]


def _sampling_grid(
    displacement: Tensor, origin: Origin = (0, 0), size: tuple[int, int] | None = None
) -> Tensor:
    """``(B, 2, h, w)`` displacements -> grid_sample's ``(B, h, w, 2)`` grid at ``x - D``.

    The displacements may cover a window of the source grid (``size`` ``(H, W)``,
    default their own) starting at pixel ``origin``; each pixel's grid point
    is then exactly the one the whole grid would give it.
    """
    _, _, h, w = displacement.shape
    top, left = origin
    height, width = size or (h, w)
    rows = torch.arange(top, top + h, device=displacement.device, dtype=displacement.dtype)
    cols = torch.arange(left, left + w, device=displacement.device, dtype=displacement.dtype)
    x = cols.view(1, 1, w) - displacement[:, 0]
    y = rows.view(1, h, 1) - displacement[:, 1]
    # align_corners=True: -1 and 1 are the centres of the first and last pixels.
    gx = x * (2.0 / max(width - 1, 1)) - 1.0
    gy = y * (2.0 / max(height - 1, 1)) - 1.0
    return torch.stack((gx, gy), dim=-1)


def warp(
    fields: Tensor,
    displacement: Tensor,
    padding: str = "zeros",
    mode: str = "bilinear",
    origin: Origin = (0, 0),
) -> Tensor:
    """Read ``fields`` ``(B, C, H, W)`` at ``x - displacement(x)``.

    Args:
        fields: The fields to move; any floating dtype (computed in float32).
        displacement: ``(B, 2, h, w)`` pixels (columns, rows): the whole grid,
            or a window of it starting at pixel ``origin`` (``(row, column)``),
            where only that window's pixels are wanted (no coverage elsewhere).
        padding: What lies outside the grid: ``"zeros"`` (no rain) or
            ``"border"`` (the nearest edge value, for velocities).
        mode: ``"bilinear"`` reads between pixels; ``"nearest"`` takes the
            nearest pixel's value, so the moved field keeps the values (and
            their distribution) of the original.
        origin: Where the window of ``displacement`` starts on ``fields``' grid.

    Returns:
        ``(B, C, h, w)`` in the dtype of ``fields``: each pixel as the whole grid gives it.
    """
    grid = _sampling_grid(displacement.float(), origin, (fields.shape[-2], fields.shape[-1]))
    moved = F.grid_sample(fields.float(), grid, mode=mode, padding_mode=padding, align_corners=True)
    return moved.to(fields.dtype)


def displacements(velocity: Tensor, steps: int, window: Window | None = None) -> Tensor:
    """Backward-trajectory displacements ``D_1 ... D_steps`` of a velocity field.

    Args:
        velocity: ``(B, 2, H, W)`` pixels per step.
        steps: How many steps to trace (0 gives an empty result).
        window: ``(rows, columns)`` slices: trace only the pixels of this
            window (each pixel's trajectory is its own, so they come out as
            on the whole grid); for use with :func:`warp`'s ``origin``.

    Returns:
        ``(steps, B, 2, h, w)`` float32 (``h, w`` the window's, default the
        grid's); ``D_n`` is where the rain at each pixel was ``n`` steps
        earlier, as an offset in pixels.
    """
    v = velocity.float()
    rows, cols = window or (slice(None), slice(None))
    d = torch.zeros_like(v[..., rows, cols])
    origin = (rows.start or 0, cols.start or 0)
    out: list[Tensor] = []
    for _ in range(steps):
        d = d + warp(v, d, padding="border", origin=origin)
        out.append(d)
    if not out:
        return d.new_zeros((0, *d.shape))
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
