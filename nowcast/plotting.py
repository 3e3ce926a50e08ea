"""Shared figure helpers: the rain colour scale and atomic PNG output.

Used by the forecast plot (:mod:`nowcast.forecasting.plot`) and the
verification figures (:mod:`nowcast.verification.plots`), so both show rain
on the same scale. Figures are drawn by the Agg canvas, never ``pyplot``.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, Colormap, ListedColormap
from matplotlib.figure import Figure

from nowcast.io.writers.atomic import AtomicOutput

RAIN_LEVELS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0)
"""mm h-1 bounds of the rain colour classes (roughly logarithmic)."""
RAIN_COLOURS = (
    "#c6dbef",
    "#6baed6",
    "#2171b5",
    "#a1d99b",
    "#41ab5d",
    "#fff176",
    "#fdae61",
    "#f46d43",
    "#d73027",
    "#a50026",
)
"""One colour per class between consecutive :data:`RAIN_LEVELS`."""
NO_DATA_COLOUR = "#9e9e9e"
DRY_COLOUR = "#ffffff"


def save_png(fig: Figure, path: str | os.PathLike[str], dpi: int) -> Path:
    """Render ``fig`` with Agg into a PNG at ``path`` (atomic), and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    with AtomicOutput(target) as out, out.tmp.open("wb") as handle:
        fig.savefig(handle, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.05)
    return target


def rain_colour_map() -> tuple[Colormap, BoundaryNorm]:
    """Discrete rain-rate colours: white below 0.1 mm h-1, grey for NaN.

    Returns:
        A colour map and the matching norm for ``imshow(..., cmap=, norm=)``.
    """
    listed = ListedColormap(RAIN_COLOURS, name="nowcast_rain")
    cmap = listed.with_extremes(bad=NO_DATA_COLOUR, under=DRY_COLOUR, over=RAIN_COLOURS[-1])
    return cmap, BoundaryNorm(RAIN_LEVELS, cmap.N)
