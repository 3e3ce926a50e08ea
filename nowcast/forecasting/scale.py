"""Forecasting on a working grid coarser than the data's.

The network can run on block averages of the observed frames instead of the
frames themselves; its forecast is interpolated back onto the input's grid.
Why: measured on three real radars (docs/lab/skill-notebook.md §6), the model's
rain fades far less on a working grid of 2–4 km than on the data's own
0.5–1 km pixels. Scales the model cannot predict (small convective texture)
are averaged away before they reach the network, instead of being hedged away
by it step after step. The price is detail at the first lead times.

A working grid is given in kilometres (``scale_km``), so the same setting suits
radars of any resolution: it becomes a whole number of pixels per block side.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from nowcast.errors import InputError
from nowcast.io.grid import Grid


def block_factor(grid: Grid, scale_km: float) -> int:
    """Pixels per side of a working-grid block: ``scale_km`` over the grid spacing.

    Rounded to the nearest whole number, at least 1 (``scale_km`` of 0 or
    finer than the data keeps the data's grid).

    Raises:
        InputError: for a positive ``scale_km`` on a grid without metres
            (e.g. Moving MNIST pixels), or blocks larger than the grid.
    """
    if scale_km <= 0:
        return 1
    if not grid.is_projected:
        raise InputError(
            f"a working grid of {scale_km:g} km needs a projected grid in metres; "
            "this data is on a pixel grid (use --scale-km 0)"
        )
    spacing_km = float(np.mean(grid.spacing)) / 1000.0
    factor = max(1, round(scale_km / spacing_km))
    if factor > min(grid.shape):
        ny, nx = grid.shape
        raise InputError(
            f"a working grid of {scale_km:g} km is coarser than the whole grid "
            f"({ny} x {nx} pixels of {spacing_km:g} km); use a smaller --scale-km"
        )
    return factor


def block_mean(frames: np.ndarray, factor: int) -> np.ndarray:
    """Means of ``factor x factor`` blocks of ``(T, ny, nx)`` frames, ignoring NaN.

    The grid is padded at its far edges to a whole number of blocks; a block
    without any valid value is NaN (no coverage).

    Returns:
        ``(T, ceil(ny / factor), ceil(nx / factor))`` float32.
    """
    if factor == 1:
        return frames
    t, ny, nx = frames.shape
    pad_y, pad_x = -ny % factor, -nx % factor
    padded = np.pad(
        np.asarray(frames, dtype=np.float32),
        ((0, 0), (0, pad_y), (0, pad_x)),
        constant_values=np.nan,
    )
    blocks = padded.reshape(t, (ny + pad_y) // factor, factor, (nx + pad_x) // factor, factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice": no coverage
        return np.nanmean(blocks, axis=(2, 4)).astype(np.float32)


def interpolate_back(fields: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear interpolation of block fields ``(T, by, bx)`` onto the ``(ny, nx)`` grid.

    Block values sit at block centres (the inverse of :func:`block_mean`);
    NaN counts as no rain, so edges of coverage do not spread NaN inwards.

    Returns:
        ``(T, ny, nx)`` float32.
    """
    if factor == 1:
        return fields
    blocks = torch.from_numpy(np.nan_to_num(np.asarray(fields, dtype=np.float32), nan=0.0))
    fine = F.interpolate(blocks[None], scale_factor=factor, mode="bilinear", align_corners=False)
    return fine[0, :, : shape[0], : shape[1]].numpy()


def working_factor(grid: Grid, scale_km: float | None, model_scale_km: float) -> int:
    """The block factor of one forecast: the user's ``scale_km``, else the model's own.

    A model's recommended working grid (stored in its checkpoint) is ignored on
    pixel grids, where kilometres mean nothing; a scale the user asks for is not.
    """
    if scale_km is None:
        if not grid.is_projected:
            return 1
        scale_km = model_scale_km
    return block_factor(grid, scale_km)
