"""The formulas of the probabilistic scores: per pixel from members, per lead from counts.

:class:`~nowcast.verification.probabilistic.EnsembleScores` keeps sums and
counts; the functions here turn one lead's members into those sums (fair
CRPS, observation ranks) and pooled counts into scores (Brier score and its
decomposition, ROC area, reliability curve). They hold no state, so each can
be tested on its own against hand-computed cases and pySTEPS. Definitions:
``docs/evaluation.md``, section "Probabilistic scores".

Probabilities come from ``M`` members, so a forecast probability is always
one of the ``M + 1`` values ``k / M``: counts per probability *bin* ``k``
(forecasts ``N_k``, observed events ``O_k``) give every Brier and ROC number
exactly, with no binning error.
"""

from __future__ import annotations

import numpy as np

from nowcast.errors import ConfigError


def divide_or_nan(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Divide element-wise, NaN (without a warning) where the denominator is not positive."""
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def fair_crps(members: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """The fair CRPS of each pixel, in the units of the fields (Ferro 2014).

    ``CRPS = mean_i |x_i - y| - sum_ij |x_i - x_j| / (2 M (M - 1))``. The
    ``M (M - 1)`` (instead of ``M**2``) makes the expected score of ``M``
    members drawn from a distribution equal that distribution's CRPS, so
    ensembles of different sizes can be compared. The double sum uses the
    sorted members ``x_(1) <= ... <= x_(M)``:
    ``sum_ij |x_i - x_j| = 2 sum_i (2 i - M - 1) x_(i)``, O(M log M) per pixel.

    Args:
        members: Members ``(M, n)``, finite, any order.
        observed: Observations ``(n,)``, finite.

    Returns:
        float64 ``(n,)``.

    Raises:
        ConfigError: for fewer than 2 members (the fair estimator is undefined).
    """
    count = members.shape[0]
    if count < 2:
        raise ConfigError(f"the fair CRPS needs at least 2 members, got {count}")
    values = members.astype(np.float64, copy=False)
    ordered = np.sort(values, axis=0)
    weights = (2.0 * np.arange(1, count + 1) - count - 1)[:, None]  # (M, 1), against (M, n)
    spread = np.sum(weights * ordered, axis=0) / (count * (count - 1))
    error = np.mean(np.abs(values - observed.astype(np.float64, copy=False)), axis=0)
    return error - spread


def observation_ranks(
    members: np.ndarray, observed: np.ndarray, x_min: float, rng: np.random.Generator
) -> np.ndarray:
    """Rank of each observation among its members, ``0 .. M``, for the rank histogram.

    Pixels where the observation and every member are below ``x_min`` (dry
    everywhere) are left out, and values below ``x_min`` count as equal, as in
    pySTEPS' ``rankhist`` with ``X_min``: a dry observation among dry members
    says nothing about the spread of rain. An observation equal to ``t``
    members gets a rank drawn uniformly from ``below .. below + t``, with one
    ``rng.random()`` per tied pixel, so the histogram of the same updates is
    the same, and pixels split over two calls draw what one call would.

    Args:
        members: Members ``(M, n)``, finite, any order.
        observed: Observations ``(n,)``, finite.
        x_min: The smallest rain rate (threshold) told apart from dry.
        rng: Generator for the tie breaks.

    Returns:
        int64 ranks ``(n_kept,)``.
    """
    keep = (observed >= x_min) | np.any(members >= x_min, axis=0)
    wet, obs = members[:, keep], observed[keep]
    wet = np.where(wet < x_min, x_min - 1.0, wet)  # every dry value ties with every other
    obs = np.where(obs < x_min, x_min - 1.0, obs)
    ranks = np.count_nonzero(wet < obs, axis=0).astype(np.int64)
    ties = np.count_nonzero(wet == obs, axis=0)
    tied = np.flatnonzero(ties)
    draws = np.floor(rng.random(tied.size) * (ties[tied] + 1)).astype(np.int64)
    ranks[tied] += draws
    return ranks


def probability_bins(members: np.ndarray, threshold: float) -> np.ndarray:
    """Members at or above ``threshold`` per pixel: the probability bin ``k`` of ``k / M``.

    The threshold is compared in the precision of the members (as in
    :mod:`~nowcast.verification.categorical`).

    Args:
        members: Members ``(M, n)``.
        threshold: Event threshold in the units of the fields.

    Returns:
        int64 ``(n,)``, values ``0 .. M``.
    """
    return np.count_nonzero(members >= threshold, axis=0).astype(np.int64)


def brier_from_counts(forecasts: np.ndarray, events: np.ndarray) -> dict[str, np.ndarray]:
    """Brier score and its decomposition (Murphy 1973) from counts per probability bin.

    With ``p_k = k / M``, ``N_k`` forecasts and ``O_k`` observed events in bin
    ``k``, ``N = sum N_k``, ``obar_k = O_k / N_k`` and ``obar = sum O_k / N``::

        brier       = sum_k (N_k p_k**2 - 2 p_k O_k + O_k) / N
        reliability = sum_k N_k (p_k - obar_k)**2 / N
        resolution  = sum_k N_k (obar_k - obar)**2 / N
        uncertainty = obar (1 - obar)

    Every forecast in a bin has the same probability, so
    ``brier = reliability - resolution + uncertainty`` holds exactly (up to
    rounding), not only approximately as with binned probabilities.

    Args:
        forecasts: ``N_k``, shape ``(..., M + 1)``.
        events: ``O_k``, the same shape.

    Returns:
        ``{"brier", "reliability", "resolution", "uncertainty"}``, float64
        arrays of shape ``forecasts.shape[:-1]``, NaN where ``N = 0``.
    """
    n_k = np.asarray(forecasts, dtype=np.float64)
    o_k = np.asarray(events, dtype=np.float64)
    p_k = np.arange(n_k.shape[-1]) / (n_k.shape[-1] - 1)
    total = n_k.sum(axis=-1)
    base = divide_or_nan(o_k.sum(axis=-1), total)
    frequency = np.divide(o_k, n_k, out=np.zeros_like(o_k), where=n_k > 0)  # empty bins: 0
    squares = n_k * p_k**2 - 2.0 * p_k * o_k + o_k  # sum over the bin of (p_k - o)**2
    return {
        "brier": divide_or_nan(np.sum(squares, axis=-1), total),
        "reliability": divide_or_nan(np.sum(n_k * (p_k - frequency) ** 2, axis=-1), total),
        "resolution": divide_or_nan(
            np.sum(n_k * (frequency - base[..., None]) ** 2, axis=-1), total
        ),
        "uncertainty": base * (1.0 - base),
    }


def roc_curve_from_counts(
    forecasts: np.ndarray, events: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """POFD and POD of "event forecast when ``p >= k / M``" for ``k = 0 .. M + 1``.

    ``k = 0`` always forecasts the event, the point (1, 1); ``k = M + 1``
    never does, the point (0, 0); in between, the POD is
    ``sum_{j >= k} O_j / sum O_j`` and the POFD
    ``sum_{j >= k} (N_j - O_j) / sum (N_j - O_j)``.

    Args:
        forecasts: ``N_k``, shape ``(..., M + 1)``.
        events: ``O_k``, the same shape.

    Returns:
        ``(pofd, pod)``, float64 ``(..., M + 2)`` from (1, 1) down to (0, 0);
        NaN where no event, or no non-event, was observed.
    """
    n_k = np.asarray(forecasts, dtype=np.int64)
    o_k = np.asarray(events, dtype=np.int64)
    zero = np.zeros((*n_k.shape[:-1], 1), dtype=np.int64)
    hits = np.concatenate([np.cumsum(o_k[..., ::-1], axis=-1)[..., ::-1], zero], axis=-1)
    false = np.concatenate([np.cumsum((n_k - o_k)[..., ::-1], axis=-1)[..., ::-1], zero], axis=-1)
    return divide_or_nan(false, false[..., :1]), divide_or_nan(hits, hits[..., :1])


def roc_area_from_counts(forecasts: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of :func:`roc_curve_from_counts`, by the trapezoid rule.

    1 is a perfect forecast, 0.5 one without discrimination; a 0/1 forecast
    (``M = 1``) gets ``(1 + POD - POFD) / 2``.

    Returns:
        float64 of shape ``forecasts.shape[:-1]``, NaN where the curve is undefined.
    """
    pofd, pod = roc_curve_from_counts(forecasts, events)
    widths = pofd[..., :-1] - pofd[..., 1:]
    return np.sum(widths * (pod[..., :-1] + pod[..., 1:]) / 2.0, axis=-1)


def reliability_curve(forecasts: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forecast probability ``k / M`` and observed frequency ``O_k / N_k`` of each bin.

    Returns:
        ``(probability (M + 1,), frequency (..., M + 1))``; NaN for empty bins.
    """
    n_k = np.asarray(forecasts)
    return np.arange(n_k.shape[-1]) / (n_k.shape[-1] - 1), divide_or_nan(events, n_k)
