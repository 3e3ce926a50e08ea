"""Probabilistic verification of ensemble forecasts, pooled like every other score.

:class:`EnsembleScores` is an accumulator (:mod:`~nowcast.verification.accumulator`):
per lead time it keeps counts and float64 sums over all start times and pixels,
never the fields, so memory does not grow with the period. A pixel counts
where the observation and every member are finite. Kept per lead:

- fair CRPS sum (:func:`~nowcast.verification.ensemble_formulas.fair_crps`);
- for the spread-skill ratio (Fortin et al. 2014): the sum of the unbiased
  (``ddof=1``) member variance and of the squared error of the ensemble mean,
  ``ratio = sqrt((M + 1) / M * mean variance) / RMSE(ensemble mean)``;
- rank-histogram counts (``M + 1`` bins);
- per threshold, forecasts and observed events in each probability bin ``k / M``
  (Brier score and its decomposition, ROC area, reliability diagram).

A deterministic forecast is scored as one member (``M = 1``): its 0/1
probabilities give the Brier score and ROC area (for Brier skill against
persistence); the CRPS, spread and rank histogram need ``M >= 2`` and are NaN
(or refused) for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nowcast.errors import ConfigError, InputError
from nowcast.verification.accumulator import Accumulator, check_lead
from nowcast.verification.categorical import check_thresholds
from nowcast.verification.ensemble_formulas import (
    brier_from_counts,
    divide_or_nan,
    fair_crps,
    observation_ranks,
    probability_bins,
    roc_area_from_counts,
)

#: The scores per lead and threshold, in the column order of ``probabilistic.csv``.
BRIER_SCORES = ("brier", "reliability", "resolution", "uncertainty", "roc_auc")
#: The scores per lead that need two members or more (the ``continuous.csv`` columns).
ENSEMBLE_SCORES = ("crps", "spread_skill")
ENSEMBLE_SUMS = ("sum_crps", "sum_variance", "sum_sq_mean_error")


def check_members(members: int, option: str = "members") -> int:
    """``members`` as an int when it is 0 (no ensemble) or at least 2.

    One member has no spread: the fair CRPS, the spread-skill ratio and the
    rank histogram are undefined for it.

    Raises:
        ConfigError: naming ``option``, for a count below 0 or of exactly 1.
    """
    count = int(members)
    if count < 0 or count == 1:
        raise ConfigError(
            f"{option} must be 0 (no probabilistic scores) or at least 2 "
            f"(the CRPS and the spread need two members), got {members}"
        )
    return count


def valid_members(
    members: np.ndarray, observed: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """The pixels where the observation and every member are finite.

    Args:
        members: Members ``(M, ...)`` of one lead time.
        observed: The observation, shape ``members.shape[1:]``.
        count: ``M``, the members expected.

    Returns:
        ``(members (M, n), observed (n,))`` in the dtype given.

    Raises:
        InputError: for another member count or shapes that do not match.
    """
    mem = np.asarray(members)
    obs = np.asarray(observed)
    if mem.ndim != obs.ndim + 1 or mem.shape[1:] != obs.shape:
        raise InputError(f"members of shape {mem.shape} do not match observed shape {obs.shape}")
    if mem.shape[0] != count:
        raise InputError(f"expected {count} members, got {mem.shape[0]}")
    flat = mem.reshape(count, -1)  # (M, ny, nx) -> (M, ny * nx)
    valid = np.isfinite(obs.ravel()) & np.all(np.isfinite(flat), axis=0)
    if valid.all():
        return flat, obs.ravel()
    return flat[:, valid], obs.ravel()[valid]


class EnsembleScores(Accumulator):
    """Pooled counts and sums of the probabilistic scores per lead time (and threshold).

    Attributes:
        thresholds: Event thresholds (event = value >= threshold), field units.
        n_leads: Number of lead times.
        members: ``M``; 1 for a deterministic forecast (Brier and ROC only).
        n: Pixels scored per lead, int64 ``(n_leads,)``.
        forecasts: Forecasts per probability bin ``k / M``, int64
            ``(n_leads, n_thresholds, M + 1)``.
        events: Observed events per probability bin, same shape.
        rank_counts: Observations per rank ``0 .. M``, int64 ``(n_leads, M + 1)``
            (zeros for ``M = 1``).
        sum_crps: Sum of the fair CRPS, float64 ``(n_leads,)``, field units.
        sum_variance: Sum of the unbiased member variance, units squared.
        sum_sq_mean_error: Sum of the squared ensemble-mean error, units squared.
    """

    SUMS = ("n", "forecasts", "events", "rank_counts", *ENSEMBLE_SUMS)
    MERGE_KEYS = ("thresholds", "n_leads", "members")
    MERGE_ERROR = (
        "cannot merge ensemble scores of {other.members} members, thresholds "
        "{other.thresholds} and {other.n_leads} leads into {self.members}, "
        "{self.thresholds} and {self.n_leads}"
    )

    def __init__(
        self, thresholds: Sequence[float], n_leads: int, members: int, seed: int = 0
    ) -> None:
        self.thresholds = check_thresholds(thresholds)
        super().__init__(n_leads)
        if int(members) < 1:
            raise ConfigError(f"an ensemble needs at least 1 member, got {members}")
        self.members = int(members)
        bins = self.members + 1
        self.n = np.zeros(self.n_leads, dtype=np.int64)
        self.forecasts = np.zeros((self.n_leads, len(self.thresholds), bins), dtype=np.int64)
        self.events = np.zeros_like(self.forecasts)
        self.rank_counts = np.zeros((self.n_leads, bins), dtype=np.int64)
        self.sum_crps = np.zeros(self.n_leads)
        self.sum_variance = np.zeros(self.n_leads)
        self.sum_sq_mean_error = np.zeros(self.n_leads)
        self._rng = np.random.default_rng(seed)

    @property
    def is_ensemble(self) -> bool:
        """Whether there are members enough (2) for the CRPS, spread and rank histogram."""
        return self.members >= 2

    def update(self, lead: int, forecast: np.ndarray, observed: np.ndarray) -> None:
        """Add one start time's members ``(M, ...)`` and observation ``(...)`` to lead ``lead``."""
        index = check_lead(lead, self.n_leads)
        members, obs = valid_members(forecast, observed, self.members)
        self.n[index] += obs.size
        bins = self.members + 1
        for k, threshold in enumerate(self.thresholds):
            level = probability_bins(members, threshold)
            self.forecasts[index, k] += np.bincount(level, minlength=bins)
            self.events[index, k] += np.bincount(level[obs >= threshold], minlength=bins)
        if self.is_ensemble and obs.size:
            self._add_spread(index, members, obs)

    def _add_spread(self, index: int, members: np.ndarray, observed: np.ndarray) -> None:
        """CRPS, variance and ensemble-mean sums, and the ranks, of one lead's valid pixels."""
        values = members.astype(np.float64, copy=False)
        obs = observed.astype(np.float64, copy=False)
        self.sum_crps[index] += fair_crps(values, obs).sum()
        self.sum_variance[index] += np.var(values, axis=0, ddof=1).sum()
        self.sum_sq_mean_error[index] += np.sum((values.mean(axis=0) - obs) ** 2)
        ranks = observation_ranks(members, observed, min(self.thresholds), self._rng)
        self.rank_counts[index] += np.bincount(ranks, minlength=self.members + 1)

    def update_all(self, forecast: np.ndarray, observed: np.ndarray) -> None:
        """Add a whole forecast: members ``(M, n_leads, ...)``, observed ``(n_leads, ...)``.

        Raises:
            InputError: for shapes that do not match or another number of leads.
        """
        members = np.asarray(forecast)
        obs = np.asarray(observed)
        if members.ndim != obs.ndim + 1 or members.shape[1:] != obs.shape:
            raise InputError(
                f"members of shape {members.shape} do not match observed shape {obs.shape}"
            )
        if obs.shape[0] != self.n_leads:
            raise InputError(f"expected {self.n_leads} lead times, got {obs.shape[0]}")
        for lead in range(self.n_leads):
            self.update(lead, members[:, lead], obs[lead])

    def scores(self) -> dict[str, np.ndarray]:
        """The scores per lead (and threshold) from the pooled counts and sums.

        Returns:
            ``n`` and ``crps`` (field units), ``spread_skill`` (1: spread as large
            as the error), arrays ``(n_leads,)``, NaN for ``M = 1``; and ``brier``,
            ``reliability``, ``resolution``, ``uncertainty`` (probability
            squared) and ``roc_auc``, arrays ``(n_leads, n_thresholds)``. NaN
            where undefined (no pixel, no event or no non-event).
        """
        out = {"n": self.n.copy(), **brier_from_counts(self.forecasts, self.events)}
        out["roc_auc"] = roc_area_from_counts(self.forecasts, self.events)
        if not self.is_ensemble:
            out["crps"] = np.full(self.n_leads, np.nan)
            out["spread_skill"] = np.full(self.n_leads, np.nan)
            return out
        inflation = (self.members + 1) / self.members
        spread = np.sqrt(inflation * divide_or_nan(self.sum_variance, self.n))
        skill = np.sqrt(divide_or_nan(self.sum_sq_mean_error, self.n))  # RMSE of the mean
        out["crps"] = divide_or_nan(self.sum_crps, self.n)
        out["spread_skill"] = divide_or_nan(spread, skill)
        return out

    def rank_histogram(self) -> np.ndarray:
        """Observations per rank ``0 .. M``, pooled over all lead times (int64 ``(M + 1,)``).

        Raises:
            ConfigError: for a single member, which has no rank histogram.
        """
        if not self.is_ensemble:
            raise ConfigError("a rank histogram needs at least 2 members")
        return self.rank_counts.sum(axis=0)

    def reliability(self) -> tuple[np.ndarray, np.ndarray]:
        """Forecasts and observed events per probability bin, pooled over all lead times.

        Pooling over leads gives the reliability diagram enough forecasts in
        the rare high-probability bins; per lead counts stay in ``forecasts``
        and ``events``.

        Returns:
            ``(forecasts, events)``, int64 ``(n_thresholds, M + 1)``.
        """
        return self.forecasts.sum(axis=0), self.events.sum(axis=0)
