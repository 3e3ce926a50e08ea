"""Verification figures: scores against lead time, and example forecasts.

Figures are built as :class:`matplotlib.figure.Figure` objects drawn by the
Agg canvas, never through ``pyplot``, so nothing global (current figure,
backend, open-figure list) changes and the functions are safe in threads and
tests. PNGs are written atomically (:func:`nowcast.plotting.save_png`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from nowcast.errors import InputError
from nowcast.io.units import is_mm_per_hour
from nowcast.plotting import (
    NO_DATA_COLOUR,
    coverage_legend,
    lead_label,
    rain_colour_bar,
    rain_colour_map,
    save_png,
    utc,
)

#: Lead-time tick spacings (times a power of ten): every 5, 10, 15 or 30 minutes, never 8 or 7.5.
MINUTE_STEPS = [1, 1.5, 3, 5, 10]
#: Lead times the example plot shows at most (its columns).
EXAMPLE_COLUMNS = 4
#: Axis labels of the scores without units (the rest: :func:`score_label`).
SCORE_NAMES = {
    "csi": "CSI (critical success index)",
    "pod": "POD (probability of detection)",
    "far": "FAR (false alarm ratio)",
    "ets": "ETS (equitable threat score)",
    "hss": "HSS (Heidke skill score)",
    "corr": "correlation",
    "ssim": "SSIM",
    "psnr": "PSNR (dB)",
}


def _plain_colour_map(values: Sequence[np.ndarray]) -> tuple[Colormap, Normalize]:
    """Continuous map for non-rain fields (e.g. [0, 1] Moving MNIST), NaN grey."""
    finite = [v[np.isfinite(v)] for v in values]
    top = max((float(v.max()) for v in finite if v.size), default=1.0)
    bottom = min((float(v.min()) for v in finite if v.size), default=0.0)
    cmap = colormaps["viridis"].with_extremes(bad=NO_DATA_COLOUR)
    return cmap, Normalize(vmin=min(bottom, 0.0), vmax=max(top, bottom + 1e-6))


def lead_columns(n_leads: int, max_columns: int = EXAMPLE_COLUMNS) -> list[int]:
    """Up to ``max_columns`` lead indices spread evenly, always ending with the last.

    The example plot's columns; the evaluation keeps only these leads of the
    example forecasts (:func:`~nowcast.verification.run.example_fields`).
    """
    if n_leads <= max_columns:
        return list(range(n_leads))
    return sorted({int(round(v)) for v in np.linspace(0, n_leads - 1, max_columns)})


def score_label(score: str, units: str, categorical: bool) -> str:
    """The axis label of a score column, with the units the score has.

    Continuous scores are in the units of the fields (``mm h-1`` for rain
    rates, after the model's transform is undone), squared for the MSE;
    ``units`` of ``1`` (Moving MNIST intensities) adds none.

    Args:
        score: A column of the report rows (``csi``, ``fss_10km``, ``mse``, ...).
        units: Units of the fields.
        categorical: Whether the rows are per threshold (``bias`` is then the
            frequency bias, otherwise the mean error).
    """
    unit = "" if units in ("", "1") else f" ({units})"
    squared = "" if units in ("", "1") else f" (({units})²)"
    if score in SCORE_NAMES:
        return SCORE_NAMES[score]
    if score.startswith("fss_"):
        return f"FSS at {score.removeprefix('fss_').replace('km', ' km')}"
    if score == "bias":
        return "frequency bias" if categorical else f"mean error{unit}"
    if score.removeprefix("frame_") == "mse":
        return f"{score.replace('_', ' ').upper()}{squared}"
    if score.removeprefix("frame_") in ("mae", "rmse"):
        return f"{score.replace('_', ' ').upper()}{unit}"
    return score


def plot_example(
    observed: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    lead_times_s: Sequence[int],
    path: str | os.PathLike[str],
    units: str = "mm h-1",
    max_columns: int = EXAMPLE_COLUMNS,
    dpi: int = 100,
    start: np.datetime64 | None = None,
) -> Path:
    """Draw observation and forecasts side by side for a few lead times (:func:`example_figure`).

    Args:
        observed: Observed frames ``(L, ny, nx)``.
        forecasts: Method name -> forecast frames ``(L, ny, nx)``.
        lead_times_s: Lead time of each of the ``L`` frames, in seconds.
        path: PNG file to write.
        units: Units of the fields, shown on the colour bar.
        max_columns: Most lead times to show.
        dpi: Resolution of the PNG.
        start: The forecasts' start time (UTC), named in the title.

    Returns:
        The path written.
    """
    figure = example_figure(observed, forecasts, lead_times_s, units, max_columns, start)
    return save_png(figure, path, dpi)


def example_figure(
    observed: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    lead_times_s: Sequence[int],
    units: str = "mm h-1",
    max_columns: int = EXAMPLE_COLUMNS,
    start: np.datetime64 | None = None,
) -> Figure:
    """Observation and forecasts side by side for a few lead times, one colour scale.

    Rows are the observation then each method; columns are up to
    ``max_columns`` lead times spread over the sequence. Rain rates (``units``
    in mm h-1) get the discrete rain classes, with grey for no coverage and
    white for dry in a legend; other fields a continuous map over the data
    range, NaN grey.

    Raises:
        InputError: for frames of different shapes, or a lead time per frame missing.
    """
    obs = np.asarray(observed)
    fields = {"observed": obs, **{name: np.asarray(f) for name, f in forecasts.items()}}
    for name, frames in fields.items():
        if frames.ndim != 3 or frames.shape != obs.shape:
            raise InputError(f"{name} frames have shape {frames.shape}, expected {obs.shape}")
    if len(lead_times_s) != obs.shape[0]:
        raise InputError(f"got {len(lead_times_s)} lead times for {obs.shape[0]} frames")
    columns = lead_columns(obs.shape[0], max_columns)
    rain = is_mm_per_hour(units)
    cmap: Colormap
    norm: Normalize
    if rain:
        cmap, norm = rain_colour_map()
    else:
        cmap, norm = _plain_colour_map([f[columns] for f in fields.values()])
    fig = Figure(figsize=(2.6 * len(columns) + 1.4, 2.6 * len(fields) + 0.8), layout="constrained")
    axes = fig.subplots(len(fields), len(columns), squeeze=False)
    for r, (name, frames) in enumerate(fields.items()):
        for c, lead in enumerate(columns):
            image = axes[r, c].imshow(frames[lead], cmap=cmap, norm=norm, interpolation="nearest")
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(lead_label(lead_times_s[lead]))
        axes[r, 0].set_ylabel(name)
    when = "" if start is None else f" from {utc(start)}"
    fig.suptitle(f"Example forecasts{when}, the wettest start time scored")
    if rain:
        rain_colour_bar(fig, image, axes, f"rain rate ({units})")
        coverage_legend(fig, units)
    else:
        fig.colorbar(image, ax=axes, shrink=0.9).set_label(units)
    return fig


def _series(
    rows: Sequence[Mapping[str, Any]], score: str
) -> dict[tuple[Any, str], list[tuple[float, float]]]:
    """Group rows into ``(threshold, method) -> [(lead_s, value), ...]`` sorted by lead."""
    series: dict[tuple[Any, str], list[tuple[float, float]]] = {}
    for row in rows:
        value = row.get(score)
        if value is None:
            continue
        key = (row.get("threshold"), str(row["method"]))
        series.setdefault(key, []).append((float(row["lead_time_s"]), float(value)))
    return {key: sorted(points) for key, points in series.items()}


def plot_score_vs_lead(
    rows: Sequence[Mapping[str, Any]],
    score: str,
    path: str | os.PathLike[str],
    thresholds: Sequence[float] | None = None,
    units: str = "mm h-1",
    dpi: int = 100,
) -> Path:
    """Plot one score against lead time, one line per method (see :func:`score_figure`).

    Args:
        rows: Rows from :func:`~nowcast.verification.report.categorical_rows`
            or :func:`~nowcast.verification.report.continuous_rows`, any methods.
        score: Column to plot (``csi``, ``mse``, ``fss_10km``, ...).
        path: PNG file to write.
        thresholds: Thresholds to show (default: all in the rows).
        units: Units of the fields: of the thresholds in the panel titles, and of
            the continuous scores on the y axis.
        dpi: Resolution of the PNG.

    Returns:
        The path written.

    Raises:
        InputError: If no row has the score (or a requested threshold).
    """
    return save_png(score_figure(rows, score, thresholds, units), path, dpi)


def score_figure(
    rows: Sequence[Mapping[str, Any]],
    score: str,
    thresholds: Sequence[float] | None = None,
    units: str = "mm h-1",
) -> Figure:
    """One score against lead time: a panel per threshold (one for continuous rows).

    Each method keeps its colour in every panel and is named once, in a
    legend beside the panels; lead times are whole minutes on the x axis; NaN
    values leave gaps in the lines.

    Raises:
        InputError: If no row has the score (or a requested threshold).
    """
    series = _series(rows, score)
    if thresholds is not None:
        wanted = {float(t) for t in thresholds}
        series = {k: v for k, v in series.items() if k[0] is not None and float(k[0]) in wanted}
    if not series:
        raise InputError(f"no rows with score {score!r} to plot")
    panels = sorted({key[0] for key in series}, key=lambda t: -np.inf if t is None else float(t))
    methods = list(dict.fromkeys(method for _, method in series))
    fig = Figure(figsize=(3.8 * len(panels) + 1.6, 3.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for ax, threshold in zip(axes, panels, strict=True):
        for (level, method), points in series.items():
            if level == threshold:
                leads, values = zip(*points, strict=True)
                ax.plot(
                    np.array(leads) / 60.0,
                    values,
                    marker="o",
                    markersize=3,
                    color=f"C{methods.index(method)}",
                    label=method,
                )
        ax.set_xlabel("lead time (min)")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=7, integer=True, steps=MINUTE_STEPS))
        ax.grid(True, alpha=0.3)
        if threshold is not None:
            ax.set_title(f"threshold {float(threshold):g} {units}")
    axes[0].set_ylabel(score_label(score, units, panels[0] is not None))
    handles = {h.get_label(): h for ax in axes for h in ax.get_legend_handles_labels()[0]}
    fig.legend(list(handles.values()), list(handles), loc="outside right upper", fontsize="small")
    return fig
