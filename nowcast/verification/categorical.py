"""Categorical (yes/no) verification of deterministic forecasts.

An *event* is ``value >= threshold`` (mm h-1 for rain rates). Each forecast
and observed pixel pair falls in one cell of the 2x2 contingency table::

                       observed event     observed no event
    forecast event     hits H             false alarms F
    forecast no event  misses M           correct negatives C

The counts are accumulated over all start times and pixels of a lead time
(pooled), and the scores are computed once from the totals: they are never
averaged frame by frame. Scores follow the definitions of the WMO/WWRP Joint
Working Group on Forecast Verification Research (JWGFVR, "Forecast
verification: issues, methods and FAQ") and Jolliffe & Stephenson (2012,
*Forecast Verification*, ch. 3), with ``N = H + M + F + C``:

- POD, probability of detection: ``H / (H + M)``
- FAR, false alarm **ratio**: ``F / (H + F)``
- POFD, probability of false detection (false alarm rate): ``F / (F + C)``
- CSI, critical success index (threat score): ``H / (H + M + F)``
- BIAS, frequency bias: ``(H + F) / (H + M)``
- ETS, equitable threat score (Gilbert skill score):
  ``(H - Hr) / (H + M + F - Hr)`` with ``Hr = (H + M)(H + F) / N``
- HSS, Heidke skill score:
  ``2 (H C - M F) / ((H + M)(M + C) + (H + F)(F + C))``

A score whose denominator is zero is NaN (undefined), never 0 or 1.

The threshold is compared in the precision of the field (numpy's rule for a
Python float against an array), so a float32 value stored for 0.7 counts as
``>= 0.7`` although float32(0.7) is slightly below 0.7.

pySTEPS' ``det_cat_fct`` defines the event as ``value > threshold`` and counts
NaN pixels as "no event"; on fields without NaN and without values equal to a
threshold it gives exactly the counts of this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nowcast.errors import ConfigError
from nowcast.verification.accumulator import Accumulator, check_lead, valid_values

SCORE_NAMES = ("csi", "pod", "far", "pofd", "bias", "ets", "hss")


def check_thresholds(thresholds: Sequence[float]) -> tuple[float, ...]:
    """Validate event thresholds and return them as a tuple of floats.

    Args:
        thresholds: Event thresholds in the units of the fields (mm h-1 for rain).

    Returns:
        The thresholds as Python floats, in the given order.

    Raises:
        ConfigError: If the list is empty, holds a non-finite value or a duplicate.
    """
    values = tuple(float(t) for t in thresholds)
    if not values:
        raise ConfigError("at least one verification threshold is needed")
    if not all(np.isfinite(values)):
        raise ConfigError(f"verification thresholds must be finite numbers, got {values}")
    if len(set(values)) != len(values):
        raise ConfigError(f"verification thresholds must be distinct, got {values}")
    return values


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Divide element-wise, giving NaN (without a warning) where the denominator is 0."""
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def scores_from_counts(
    hits: np.ndarray | float,
    misses: np.ndarray | float,
    false_alarms: np.ndarray | float,
    correct_negatives: np.ndarray | float,
) -> dict[str, np.ndarray]:
    """Compute categorical scores from contingency-table counts.

    The inputs broadcast against each other; counts are converted to float64
    before any product so that large pooled totals cannot overflow. See the
    module docstring for the formulas.

    Args:
        hits: Forecast event and observed event (``H``).
        misses: No forecast event but observed event (``M``).
        false_alarms: Forecast event but no observed event (``F``).
        correct_negatives: Neither forecast nor observed event (``C``).

    Returns:
        ``{"csi", "pod", "far", "pofd", "bias", "ets", "hss"}`` -> float64
        arrays of the broadcast shape; NaN where a denominator is zero.
    """
    h, m, f, c = (
        np.asarray(v, dtype=np.float64) for v in (hits, misses, false_alarms, correct_negatives)
    )
    n = h + m + f + c
    hits_random = _ratio((h + m) * (h + f), n)
    return {
        "csi": _ratio(h, h + m + f),
        "pod": _ratio(h, h + m),
        "far": _ratio(f, h + f),
        "pofd": _ratio(f, f + c),
        "bias": _ratio(h + f, h + m),
        "ets": _ratio(h - hits_random, h + m + f - hits_random),
        "hss": _ratio(2.0 * (h * c - m * f), (h + m) * (m + c) + (h + f) * (f + c)),
    }


class ContingencyTable(Accumulator):
    """Pooled 2x2 contingency counts per lead time and threshold.

    Counts are int64 arrays of shape ``(n_leads, n_thresholds)``. Pixels where
    the forecast or the observation is NaN (or infinite) are left out of every
    cell and counted in ``n_excluded[lead]`` instead. Memory does not grow
    with the number of updates.

    Attributes:
        thresholds: Event thresholds (event = value >= threshold).
        n_leads: Number of lead times.
        hits: ``H`` counts, shape ``(n_leads, n_thresholds)``.
        misses: ``M`` counts.
        false_alarms: ``F`` counts.
        correct_negatives: ``C`` counts.
        n_excluded: Pixels left out per lead because of NaN, shape ``(n_leads,)``.
    """

    SUMS = ("hits", "misses", "false_alarms", "correct_negatives", "n_excluded")
    MERGE_KEYS = ("thresholds", "n_leads")
    MERGE_ERROR = (
        "cannot merge tables with thresholds/leads {other.thresholds}/{other.n_leads} "
        "into {self.thresholds}/{self.n_leads}"
    )

    def __init__(self, thresholds: Sequence[float], n_leads: int) -> None:
        self.thresholds = check_thresholds(thresholds)
        super().__init__(n_leads)
        shape = (self.n_leads, len(self.thresholds))
        self.hits = np.zeros(shape, dtype=np.int64)
        self.misses = np.zeros(shape, dtype=np.int64)
        self.false_alarms = np.zeros(shape, dtype=np.int64)
        self.correct_negatives = np.zeros(shape, dtype=np.int64)
        self.n_excluded = np.zeros(self.n_leads, dtype=np.int64)

    def update(self, lead: int, forecast: np.ndarray, observed: np.ndarray) -> None:
        """Add the pixels of one forecast/observation pair to lead ``lead``.

        Args:
            lead: Lead-time index, ``0 .. n_leads - 1``.
            forecast: Forecast field(s), 2-D or N-D (e.g. a batch of frames).
            observed: Observed field(s) of the same shape and units.
        """
        index = check_lead(lead, self.n_leads)
        fc, ob = valid_values(forecast, observed)
        self.n_excluded[index] += np.asarray(forecast).size - fc.size
        n_valid = fc.size
        for k, threshold in enumerate(self.thresholds):
            fc_event = fc >= threshold
            ob_event = ob >= threshold
            n_hits = np.count_nonzero(fc_event & ob_event)
            n_fc = np.count_nonzero(fc_event)
            n_ob = np.count_nonzero(ob_event)
            self.hits[index, k] += n_hits
            self.misses[index, k] += n_ob - n_hits
            self.false_alarms[index, k] += n_fc - n_hits
            self.correct_negatives[index, k] += n_valid - n_fc - n_ob + n_hits

    def scores(self) -> dict[str, np.ndarray]:
        """Scores per lead and threshold from the pooled counts.

        Returns:
            ``{"csi", "pod", "far", "pofd", "bias", "ets", "hss"}`` -> float64
            arrays ``(n_leads, n_thresholds)``, NaN where undefined.
        """
        return scores_from_counts(self.hits, self.misses, self.false_alarms, self.correct_negatives)

    def overall(self) -> dict[str, np.ndarray]:
        """Scores per threshold from the counts pooled over all lead times.

        Returns:
            The same keys as :meth:`scores`, arrays of shape ``(n_thresholds,)``.
        """
        return scores_from_counts(
            self.hits.sum(axis=0),
            self.misses.sum(axis=0),
            self.false_alarms.sum(axis=0),
            self.correct_negatives.sum(axis=0),
        )
