"""Stage 6: how good is a forecast? Scores, reference forecasts, reports, plots.

Every score is an accumulator with the same life cycle (after pySTEPS'
init/accum/merge/compute pattern): create it for the thresholds and lead
times, ``update(lead, forecast, observed)`` once per start time and lead (or
``update_all`` with the whole sequence), ``merge`` accumulators filled in
parallel, and call ``scores()`` once at the end. Sums and counts are pooled
over all start times and pixels; scores are never averaged frame by frame.
Memory does not grow with the number of updates.

Figures live in :mod:`nowcast.verification.plots` (imported on demand so that
matplotlib is loaded only when drawing). Definitions: ``docs/evaluation.md``.
"""

from nowcast.verification.baselines import (
    extrapolation_available,
    extrapolation_forecast,
    persistence_forecast,
)
from nowcast.verification.categorical import ContingencyTable, scores_from_counts
from nowcast.verification.continuous import ContinuousScores, FrameScores, psnr, ssim
from nowcast.verification.fss import FractionsSkillScore, scales_to_pixels
from nowcast.verification.probabilistic import EnsembleScores
from nowcast.verification.report import (
    categorical_rows,
    continuous_rows,
    write_csv,
    write_summary_json,
)
from nowcast.verification.steps_baseline import steps_forecast

__all__ = [
    "ContingencyTable",
    "ContinuousScores",
    "EnsembleScores",
    "FractionsSkillScore",
    "FrameScores",
    "categorical_rows",
    "continuous_rows",
    "extrapolation_available",
    "extrapolation_forecast",
    "persistence_forecast",
    "psnr",
    "scales_to_pixels",
    "scores_from_counts",
    "ssim",
    "steps_forecast",
    "write_csv",
    "write_summary_json",
]
