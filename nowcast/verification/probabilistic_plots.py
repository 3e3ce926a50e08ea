"""Figures of the probabilistic scores: reliability diagram and rank histogram.

Built like :mod:`nowcast.verification.plots`: :class:`~matplotlib.figure.Figure`
objects drawn by the Agg canvas, never through ``pyplot``, written atomically
by :func:`nowcast.plotting.save_png`. Only methods with two members or more
are drawn (a deterministic forecast has two probability bins and no ranks),
each in the colour of its place among all the methods given, which is its
colour in the score-against-lead figures.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter

from nowcast.errors import InputError
from nowcast.io.units import is_mm_per_hour
from nowcast.plotting import save_png
from nowcast.verification.ensemble_formulas import reliability_curve
from nowcast.verification.probabilistic import EnsembleScores


def _ensembles(scores: Mapping[str, EnsembleScores]) -> dict[str, tuple[str, EnsembleScores]]:
    """Method name -> (colour, scores) of the methods with two members or more.

    Raises:
        InputError: when there is none.
    """
    chosen = {
        name: (f"C{index}", acc)
        for index, (name, acc) in enumerate(scores.items())
        if acc.is_ensemble
    }
    if not chosen:
        raise InputError("no method with two members or more to plot")
    return chosen


def _event(threshold: float, units: str) -> str:
    """Panel title of a threshold: ``rain >= 1 mm h-1``, or ``>= 0.5`` without rain units."""
    if is_mm_per_hour(units):
        return f"rain >= {threshold:g} {units}"
    return f"value >= {threshold:g}"


def plot_reliability(
    scores: Mapping[str, EnsembleScores],
    path: str | os.PathLike[str],
    units: str = "mm h-1",
    dpi: int = 100,
) -> Path:
    """Write the reliability diagram of every ensemble method (:func:`reliability_figure`)."""
    return save_png(reliability_figure(scores, units), path, dpi)


def reliability_figure(scores: Mapping[str, EnsembleScores], units: str = "mm h-1") -> Figure:
    """Observed frequency against forecast probability, one column per threshold.

    Counts are pooled over all lead times (:meth:`EnsembleScores.reliability`).
    The top row is the reliability diagram with the diagonal of a perfectly
    reliable forecast; the bottom row the number of forecasts (pixels) of each
    probability on a log scale, which says how much each point can be trusted
    and how sharp the forecasts are. Empty probability bins are left out.

    Raises:
        InputError: when no method has two members or more.
    """
    ensembles = _ensembles(scores)
    thresholds = next(iter(ensembles.values()))[1].thresholds
    fig = Figure(figsize=(3.4 * len(thresholds) + 1.8, 5.2), layout="constrained")
    axes = fig.subplots(
        2, len(thresholds), squeeze=False, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    for column, threshold in enumerate(thresholds):
        top, bottom = axes[0, column], axes[1, column]
        top.plot([0, 1], [0, 1], color="0.6", linestyle="--", label="perfect reliability")
        for name, (colour, acc) in ensembles.items():
            forecasts, events = acc.reliability()
            probability, frequency = reliability_curve(forecasts[column], events[column])
            style = {"color": colour, "marker": "o", "markersize": 3}
            top.plot(probability, frequency, label=f"{name} ({acc.members} members)", **style)
            counted = np.where(forecasts[column] > 0, forecasts[column], np.nan)
            bottom.plot(probability, counted, **style)
        top.set_title(_event(threshold, units))
        top.set_xlim(-0.02, 1.02)
        top.set_ylim(-0.02, 1.02)
        top.set_aspect("equal", adjustable="box")
        top.grid(True, alpha=0.3)
        bottom.set_yscale("log")
        bottom.yaxis.set_minor_formatter(NullFormatter())  # powers of ten only
        bottom.set_xlabel("forecast probability")
        bottom.grid(True, alpha=0.3)
    axes[0, 0].set_ylabel("observed frequency")
    axes[1, 0].set_ylabel("forecasts (pixels)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize="small")
    fig.suptitle("Reliability, pooled over lead times")
    return fig


def plot_rank_histograms(
    scores: Mapping[str, EnsembleScores], path: str | os.PathLike[str], dpi: int = 100
) -> Path:
    """Write the rank histogram of every ensemble method (:func:`rank_histogram_figure`)."""
    return save_png(rank_histogram_figure(scores), path, dpi)


def rank_histogram_figure(scores: Mapping[str, EnsembleScores]) -> Figure:
    """Rank of the observation among the members, one panel per ensemble method.

    Frequencies are pooled over all lead times and sum to 1; a reliable
    ensemble is flat at ``1 / (M + 1)`` (the dashed line). A U shape means
    too little spread, a dome too much, a slope a bias.

    Raises:
        InputError: when no method has two members or more.
    """
    ensembles = _ensembles(scores)
    fig = Figure(figsize=(3.6 * len(ensembles) + 0.4, 3.2), layout="constrained")
    axes = fig.subplots(1, len(ensembles), squeeze=False, sharey=True)[0]
    for ax, (name, (colour, acc)) in zip(axes, ensembles.items(), strict=True):
        _rank_panel(ax, name, acc.rank_histogram(), colour)
    axes[0].set_ylabel("relative frequency")
    fig.suptitle("Rank histograms, pooled over lead times")
    return fig


def _rank_panel(ax: Axes, name: str, counts: np.ndarray, colour: str) -> None:
    """One method's histogram, its flat line and the number of pixels ranked."""
    bins = counts.size
    total = int(counts.sum())
    frequency = counts / total if total else np.zeros(bins)
    ax.bar(np.arange(bins), frequency, width=0.85, color=colour)
    ax.axhline(1.0 / bins, color="0.3", linestyle="--", label="flat (reliable)")
    ax.set_title(f"{name}: {bins - 1} members, {total:,} pixels", fontsize="medium")
    ax.set_xlabel("rank of the observation")
    ax.set_xlim(-0.7, bins - 0.3)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper center", fontsize="small")
