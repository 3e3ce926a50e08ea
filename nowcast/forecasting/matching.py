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
    return _in_order(np.argsort(keys, kind="stable"), target)


def _in_order(order: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``target``'s sorted values given out to the positions ``order`` lists, smallest first."""
    if order.shape != target.shape:
        raise ValueError(f"keys {order.shape} and target {target.shape} differ in size")
    out = np.empty(order.shape, dtype=np.float32)
    out[order] = np.sort(target)
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
    ranking = keys[covered]
    if tie_break is None:
        order = np.argsort(ranking, kind="stable")
    else:  # by the keys, equal keys by the second key, then by position (both sorts stable)
        order = np.lexsort((tie_break[covered], ranking))
    out = np.full(keys.shape, np.nan, dtype=np.float32)
    out[covered] = _in_order(order, target[covered])
    return out
