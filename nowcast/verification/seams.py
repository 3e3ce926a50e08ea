"""Patch seams: does a forecast show the grid of the network's space-to-depth patches?

The network reads and writes frames as ``p x p`` patches (``model.patch_size``,
:mod:`nowcast.data.patches`); a network that has not learnt to make the
pixels of one patch agree with those of the next leaves a visible ``p``-pixel
grid, a checkerboard, in its forecast. :func:`seam_ratio` measures it: the
mean absolute difference between neighbouring pixels across patch boundaries
divided by that between neighbours inside patches. A field without seams
(any observed rain field) gives about 1; a blocky forecast gives more than 1,
a pattern repeated inside every patch often less. The bundled model and the
``quickstart`` recipe stay within 1 +- 0.2 (``bench/skill/quickstart_check.py``).
"""

from __future__ import annotations

import numpy as np


def seam_ratio(fields: np.ndarray, patch: int) -> float:
    """Mean absolute neighbour difference across patch boundaries over that inside patches.

    Args:
        fields: ``(..., H, W)`` values (e.g. mm h-1 of every lead of a forecast);
            NaN is no data, and a pair of neighbours with a NaN is left out.
            Patches start at row and column 0, as the network's do (padding
            goes at the bottom and right).
        patch: Patch side in pixels (``model.patch_size`` times the forecast's
            block size on a working grid).

    Returns:
        The ratio (dimensionless); NaN when the fields have no pair of finite
        neighbours inside patches or across their boundaries, or no difference.

    Raises:
        ValueError: for a patch side below 2 (there is no inside).
    """
    if patch < 2:
        raise ValueError(f"a patch side must be >= 2 pixels, got {patch}")
    values = np.asarray(fields, dtype=np.float64)
    across, inside = [], []
    for axis in (-1, -2):
        steps = np.abs(np.diff(values, axis=axis))
        # The pair (k, k + 1) straddles a boundary when k + 1 is a multiple of the patch side.
        boundary = (np.arange(steps.shape[axis]) + 1) % patch == 0
        shape = [1] * steps.ndim
        shape[axis] = -1
        boundary = np.broadcast_to(boundary.reshape(shape), steps.shape)
        finite = np.isfinite(steps)
        across.append(steps[boundary & finite])
        inside.append(steps[~boundary & finite])
    pooled_across, pooled_inside = np.concatenate(across), np.concatenate(inside)
    if pooled_across.size == 0 or pooled_inside.size == 0 or not pooled_inside.mean() > 0:
        return float("nan")
    return float(pooled_across.mean() / pooled_inside.mean())
