"""Tidy rows of the probabilistic scores, and Brier skill against reference methods.

Rows are plain dicts of Python scalars like those of
:mod:`~nowcast.verification.report` (NaN = undefined): ``probabilistic.csv``
has one row per method, lead time and threshold; the CRPS and spread-skill
ratio, one number per lead, go into the ``continuous.csv`` rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from nowcast.verification.probabilistic import BRIER_SCORES, ENSEMBLE_SCORES, EnsembleScores

Row = dict[str, Any]

#: The columns of ``probabilistic.csv`` after ``method, lead_time_s, threshold``.
PROBABILISTIC_COLUMNS = ("n", *BRIER_SCORES)
#: Methods the Brier skill score is computed against, when they were scored.
BSS_REFERENCES = ("persistence", "steps")


def probabilistic_rows(
    method: str, lead_times_s: Sequence[int], scores: EnsembleScores
) -> list[Row]:
    """One row per lead time and threshold: pixels scored, Brier score and parts, ROC area.

    Raises:
        ValueError: when there is not one lead time per accumulated lead.
    """
    if len(lead_times_s) != scores.n_leads:
        raise ValueError(f"got {len(lead_times_s)} lead times for {scores.n_leads} leads")
    values = scores.scores()
    rows = []
    for i, lead_s in enumerate(lead_times_s):
        for k, threshold in enumerate(scores.thresholds):
            row: Row = {"method": method, "lead_time_s": int(lead_s), "threshold": threshold}
            row["n"] = int(values["n"][i])
            row.update({name: float(values[name][i, k]) for name in BRIER_SCORES})
            rows.append(row)
    return rows


def ensemble_columns(n_leads: int, scores: EnsembleScores | None) -> list[dict[str, float]]:
    """``crps`` and ``spread_skill`` per lead: NaN for a method without two members or more."""
    if scores is None:
        return [dict.fromkeys(ENSEMBLE_SCORES, math.nan) for _ in range(n_leads)]
    values = scores.scores()
    return [{name: float(values[name][i]) for name in ENSEMBLE_SCORES} for i in range(n_leads)]


def brier_skill(brier: float, reference: float) -> float:
    """``1 - brier / reference``: 1 is perfect, 0 no better than the reference, < 0 worse.

    NaN when the reference's Brier score is 0 (a perfect reference) or undefined.
    """
    if not reference > 0 or math.isnan(brier):
        return math.nan
    return 1.0 - brier / reference


def brier_skill_rows(
    rows: Iterable[Mapping[str, Any]], references: Sequence[str] = BSS_REFERENCES
) -> list[Row]:
    """Brier skill of every method against each reference method present in ``rows``.

    Args:
        rows: Rows of :func:`probabilistic_rows` (any methods).
        references: Reference method names; those not in ``rows`` are skipped.

    Returns:
        Rows ``method, reference, lead_time_s, threshold, bss``, in the order of
        ``rows``, for each reference that ``rows`` holds (not the reference itself).
    """
    table = list(rows)
    brier = {(r["method"], r["lead_time_s"], r["threshold"]): r["brier"] for r in table}
    out = []
    for reference in references:
        for row in table:
            key = (reference, row["lead_time_s"], row["threshold"])
            if row["method"] == reference or key not in brier:
                continue
            out.append(
                {
                    "method": row["method"],
                    "reference": reference,
                    "lead_time_s": row["lead_time_s"],
                    "threshold": row["threshold"],
                    "bss": brier_skill(row["brier"], brier[key]),
                }
            )
    return out
