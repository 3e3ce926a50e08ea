"""Probability matching: a forecast's pattern with an observed field's values.

A network trained to minimise a squared error hedges where it is unsure: it
spreads a thin layer of rain over everything that *might* get wet (a veil)
and shaves the peaks it cannot place (heavy rain fades). Its *ranking* of the
pixels, wettest first, is still informative. Probability matching keeps that
ranking and gives the pixels, in that order, the values of a field that has
the right distribution: the last observed frame carried along the motion to
the lead time. The result has the observed wet area and the observed peak
intensities, placed where the forecast puts its most rain. This is the
"CDF matching" of STEPS-type nowcasts (pySTEPS ``probmatching``).
"""

from __future__ import annotations

import numpy as np


def match_values(keys: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The values of ``target`` rearranged in the order of ``keys``.

    Args:
        keys: ``(n,)`` ranking of the pixels (larger = wetter); ties are
            broken by position (stable sort).
        target: ``(n,)`` values with the wanted distribution, any order.

    Returns:
        ``(n,)`` float32: the ``i``-th smallest key gets the ``i``-th smallest target value.
    """
    if keys.shape != target.shape:
        raise ValueError(f"keys {keys.shape} and target {target.shape} differ in size")
    out = np.empty(keys.shape, dtype=np.float32)
    out[np.argsort(keys, kind="stable")] = np.sort(target)
    return out


def match_field(
    keys: np.ndarray, target: np.ndarray, covered: np.ndarray, tie_break: np.ndarray | None = None
) -> np.ndarray:
    """One ``(ny, nx)`` field probability-matched over the pixels ``covered``.

    Args:
        keys: ``(ny, nx)`` forecast whose ranking is kept.
        target: ``(ny, nx)`` field whose values (over ``covered``) are given out.
        covered: ``(ny, nx)`` bool, the pixels with coverage; the rest becomes NaN.
        tie_break: Optional ``(ny, nx)`` second key, for pixels whose ``keys``
            are equal (e.g. a forecast of exactly zero over a wide area, where
            the target still has rain to place): the larger, the wetter.

    Returns:
        ``(ny, nx)`` float32.
    """
    ranking = keys[covered].astype(np.float64)
    if tie_break is not None:
        second = tie_break[covered].astype(np.float64)
        span = float(np.ptp(second)) if second.size else 0.0
        # Equal keys share an integer rank; the second key, scaled into [0, 0.5],
        # orders them and no others (a fixed tiny offset would also reorder
        # distinct keys closer than it, e.g. weak rates below 0.01).
        ranking = np.unique(ranking, return_inverse=True)[1].reshape(-1).astype(np.float64)
        if span > 0:
            ranking += 0.5 * (second - second.min()) / span
    out = np.full(keys.shape, np.nan, dtype=np.float32)
    out[covered] = match_values(ranking, target[covered])
    return out
