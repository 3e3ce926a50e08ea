"""The dataset summary table shared by ``ingest`` and ``info``."""

from __future__ import annotations

import numpy as np
from rich.table import Table

from nowcast.io.ingest.summary import DatasetSummary
from nowcast.io.plausible import value_limit


def _fmt_time(t: np.datetime64) -> str:
    return str(np.datetime64(t).astype("datetime64[s]")).replace("T", " ") + "Z"


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def summary_table(summary: DatasetSummary) -> Table:
    """Rows: file, variable, frames, span, step, gaps, grid, projection, fractions."""
    table = Table(title=str(summary.path), show_header=False, title_justify="left")
    table.add_column("item", style="bold")
    table.add_column("value")
    times = summary.times
    stats = summary.stats
    table.add_row("variable", f"{summary.variable} ({summary.units})")
    table.add_row(
        "frames", str(stats.frames) + (f" from {summary.files} files" if summary.files else "")
    )
    if summary.sequences:
        table.add_row("sequences", str(summary.sequences))
    if times.size:
        table.add_row("span", f"{_fmt_time(times[0])} .. {_fmt_time(times[-1])}")
    table.add_row("step", _duration(summary.timestep_s))
    gaps = summary.gaps
    gap_text = (
        "none"
        if not gaps
        else f"{len(gaps)}: "
        + ", ".join(f"{_fmt_time(a)} -> {_fmt_time(b)}" for a, b in gaps[:3])
        + (" ..." if len(gaps) > 3 else "")
    )
    table.add_row("gaps", gap_text)
    table.add_row("grid", summary.grid.describe())
    crs = summary.grid.crs or {}
    table.add_row("projection", str(crs.get("grid_mapping_name", "none (pixel grid)")))
    table.add_row("max value", f"{stats.max_value:.2f} {summary.units}")
    table.add_row("wet fraction (> 0.1)", f"{stats.wet_fraction:.4f}")
    table.add_row("NaN fraction", f"{stats.nan_fraction:.4f}")
    table.add_row("clipped negatives", str(stats.clipped))
    limit = value_limit(summary.variable, summary.max_rate)
    table.add_row(
        "implausible values", f"{stats.implausible} (infinite or beyond ±{limit:g}, now NaN)"
    )
    if summary.skipped:
        table.add_row("skipped files", "\n".join(f"{p}: {why}" for p, why in summary.skipped))
    return table
