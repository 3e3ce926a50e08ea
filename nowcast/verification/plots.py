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

from nowcast.errors import InputError
from nowcast.io.units import is_mm_per_hour
from nowcast.plotting import NO_DATA_COLOUR, RAIN_LEVELS, rain_colour_map, save_png


def _plain_colour_map(values: Sequence[np.ndarray]) -> tuple[Colormap, Normalize]:
    """Continuous map for non-rain fields (e.g. [0, 1] Moving MNIST), NaN grey."""
    finite = [v[np.isfinite(v)] for v in values]
    top = max((float(v.max()) for v in finite if v.size), default=1.0)
    bottom = min((float(v.min()) for v in finite if v.size), default=0.0)
    cmap = colormaps["viridis"].with_extremes(bad=NO_DATA_COLOUR)
    return cmap, Normalize(vmin=min(bottom, 0.0), vmax=max(top, bottom + 1e-6))


def _lead_columns(n_leads: int, max_columns: int) -> list[int]:
    """Up to ``max_columns`` lead indices spread evenly, always ending with the last."""
    if n_leads <= max_columns:
        return list(range(n_leads))
    return sorted({int(round(v)) for v in np.linspace(0, n_leads - 1, max_columns)})


def _minutes(seconds: float) -> str:
    """A lead time label such as ``+30 min``."""
    return f"+{seconds / 60:g} min"


def plot_example(
    observed: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    lead_times_s: Sequence[int],
    path: str | os.PathLike[str],
    units: str = "mm h-1",
    max_columns: int = 4,
    dpi: int = 100,
) -> Path:
    """Draw observation and forecasts side by side for a few lead times.

    Rows are the observation then each method; columns are up to
    ``max_columns`` lead times spread over the sequence. All panels share one
    colour scale: discrete rain classes for rain rates (``units`` in mm h-1),
    otherwise a continuous map over the data range. NaN is grey.

    Args:
        observed: Observed frames ``(L, ny, nx)``.
        forecasts: Method name -> forecast frames ``(L, ny, nx)``.
        lead_times_s: Lead time of each of the ``L`` frames, in seconds.
        path: PNG file to write.
        units: Units of the fields, shown on the colour bar.
        max_columns: Most lead times to show.
        dpi: Resolution of the PNG.

    Returns:
        The path written.
    """
    obs = np.asarray(observed)
    fields = {"observed": obs, **{name: np.asarray(f) for name, f in forecasts.items()}}
    for name, frames in fields.items():
        if frames.ndim != 3 or frames.shape != obs.shape:
            raise InputError(f"{name} frames have shape {frames.shape}, expected {obs.shape}")
    if len(lead_times_s) != obs.shape[0]:
        raise InputError(f"got {len(lead_times_s)} lead times for {obs.shape[0]} frames")
    columns = _lead_columns(obs.shape[0], max_columns)
    cmap: Colormap
    norm: Normalize
    rain = is_mm_per_hour(units)
    if rain:
        cmap, norm = rain_colour_map()
        extend = "both"
    else:
        cmap, norm = _plain_colour_map([f[columns] for f in fields.values()])
        extend = "neither"
    fig = Figure(figsize=(2.6 * len(columns) + 1.2, 2.6 * len(fields)), layout="constrained")
    axes = fig.subplots(len(fields), len(columns), squeeze=False)
    image = None
    for r, (name, frames) in enumerate(fields.items()):
        for c, lead in enumerate(columns):
            ax = axes[r, c]
            image = ax.imshow(frames[lead], cmap=cmap, norm=norm, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(_minutes(lead_times_s[lead]))
            if c == 0:
                ax.set_ylabel(name)
    assert image is not None  # at least one field and one lead (checked above)
    bar = fig.colorbar(image, ax=axes, extend=extend, shrink=0.9)
    bar.set_label(units)
    if rain:
        bar.set_ticks(list(RAIN_LEVELS))
        bar.set_ticklabels([f"{v:g}" for v in RAIN_LEVELS])
    return save_png(fig, path, dpi)


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
    """Plot one score against lead time, one line per method.

    Categorical rows (with a ``threshold`` key) get one panel per threshold;
    continuous rows get a single panel. NaN values leave gaps in the lines.

    Args:
        rows: Rows from :func:`~nowcast.verification.report.categorical_rows`
            or :func:`~nowcast.verification.report.continuous_rows`, any methods.
        score: Column to plot (``csi``, ``mse``, ``fss_10km``, ...).
        path: PNG file to write.
        thresholds: Thresholds to show (default: all in the rows).
        units: Units of the thresholds, for the panel titles.
        dpi: Resolution of the PNG.

    Returns:
        The path written.

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
    fig = Figure(figsize=(4.2 * len(panels), 3.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for ax, threshold in zip(axes, panels, strict=True):
        for (level, method), points in sorted(series.items(), key=lambda kv: kv[0][1]):
            if level != threshold:
                continue
            leads, values = zip(*points, strict=True)
            ax.plot(np.array(leads) / 60.0, values, marker="o", markersize=3, label=method)
        ax.set_xlabel("lead time (min)")
        ax.grid(True, alpha=0.3)
        if threshold is not None:
            ax.set_title(f"threshold {float(threshold):g} {units}")
    axes[0].set_ylabel(score)
    axes[-1].legend(fontsize="small")
    return save_png(fig, path, dpi)
