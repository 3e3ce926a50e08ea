"""Run a trained model over a grid of any size, tile by tile.

A ConvLSTM's memory grows with the grid area, so large composites are cut
into overlapping square tiles; each tile is forecast independently and the
tiles are blended with weights that fall linearly to zero across the
overlap, which hides the seams. Small grids are one tile. Frames are padded
to a multiple of the patch size and cropped back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nowcast.data.patches import crop_padding, pad_to_multiple


@dataclass(frozen=True)
class TilePlan:
    """Where the tiles of a ``(ny, nx)`` grid start, and their size."""

    size: int
    overlap: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]

    @property
    def count(self) -> int:
        """Number of tiles."""
        return len(self.rows) * len(self.cols)


def _starts(length: int, size: int, overlap: int) -> tuple[int, ...]:
    if length <= size:
        return (0,)
    step = size - overlap
    starts = list(range(0, length - size, step)) + [length - size]
    return tuple(dict.fromkeys(starts))


def plan_tiles(shape: tuple[int, int], size: int, overlap: int) -> TilePlan:
    """Tile a grid with squares of ``size`` overlapping by at least ``overlap`` pixels."""
    if overlap >= size:
        raise ValueError(f"tile overlap {overlap} must be smaller than the tile size {size}")
    ny, nx = shape
    return TilePlan(size, overlap, _starts(ny, size, overlap), _starts(nx, size, overlap))


def _ramp(length: int, overlap: int, lead: bool, trail: bool) -> np.ndarray:
    """1-D blend weights: rise over ``overlap`` after a neighbour, fall before one."""
    weight = np.ones(length, dtype=np.float32)
    ramp = (np.arange(overlap, dtype=np.float32) + 1) / (overlap + 1)
    if lead and overlap:
        weight[:overlap] = ramp
    if trail and overlap:
        weight[-overlap:] = np.minimum(weight[-overlap:], ramp[::-1])
    return weight


@torch.no_grad()
def _run_tile(
    model: nn.Module,
    frames: np.ndarray,
    steps: int,
    patch: int,
    device: torch.device,
    velocity: Tensor | None = None,
) -> np.ndarray:
    """``(T, h, w)`` transformed frames -> ``(steps, h, w)`` transformed forecast.

    ``velocity`` ``(2, h, w)``, when given, is padded like the frames, by
    repeating its edge (the motion at the border goes on into the padding).
    """
    x = torch.from_numpy(np.ascontiguousarray(frames))[None, :, None].to(device)  # (1, T, 1, h, w)
    x, pads = pad_to_multiple(x, patch)
    if velocity is None:
        y = model(x, steps)  # (1, steps, 1, H, W)
    else:
        v = F.pad(velocity[None].to(device), (0, pads[1], 0, pads[0]), mode="replicate")
        y = model(x, steps, velocity=v)
    return crop_padding(y, pads)[0, :, 0].float().cpu().numpy()


def predict(
    model: nn.Module,
    frames: np.ndarray,
    steps: int,
    *,
    patch: int,
    device: torch.device,
    tile: int = 768,
    overlap: int = 64,
    on_tile: Callable[[int, int], Any] | None = None,
    velocity: Tensor | None = None,
) -> np.ndarray:
    """Forecast ``steps`` frames from transformed input ``frames`` ``(T, ny, nx)``.

    Args:
        model: A model with ``forward(x: BTCHW, out_len)``, in eval mode.
        frames: Transformed input frames, finite (no NaN), float32.
        steps: Lead times to produce (may exceed the trained output length).
        patch: The model's patch size (frames are padded to a multiple of it).
        device: Where to run.
        tile: Tile side in pixels (grids up to this size run in one piece).
        overlap: Pixels shared by neighbouring tiles, blended linearly.
        on_tile: ``on_tile(done, total)`` before the first tile (``done`` 0) and after
            each tile (progress).
        velocity: ``(2, ny, nx)`` motion of the whole grid (pixels per step) for
            a model in the moving frame; each tile gets its crop, so every tile
            moves its rain as the whole grid's fit says.

    Returns:
        ``(steps, ny, nx)`` float32 forecast in the transformed space.
    """
    _, ny, nx = frames.shape
    plan = plan_tiles((ny, nx), tile, overlap)
    if on_tile:
        on_tile(0, plan.count)
    if plan.count == 1:
        out = _run_tile(model, frames, steps, patch, device, velocity)
        if on_tile:
            on_tile(1, 1)
        return out
    total = np.zeros((steps, ny, nx), dtype=np.float32)
    weights = np.zeros((ny, nx), dtype=np.float32)
    done = 0
    for r in plan.rows:
        for c in plan.cols:
            h, w = min(tile, ny - r), min(tile, nx - c)
            wy = _ramp(h, overlap, r > 0, r + h < ny)
            wx = _ramp(w, overlap, c > 0, c + w < nx)
            weight = wy[:, None] * wx[None, :]
            crop = None if velocity is None else velocity[:, r : r + h, c : c + w]
            part = _run_tile(model, frames[:, r : r + h, c : c + w], steps, patch, device, crop)
            total[:, r : r + h, c : c + w] += part * weight
            weights[r : r + h, c : c + w] += weight
            done += 1
            if on_tile:
                on_tile(done, plan.count)
    total /= weights
    return total
