"""Shared figure helpers: the rain colour scale, its legend, map graticules, PNG and GIF output.

Used by the forecast plot and animation (:mod:`nowcast.forecasting.plot`,
:mod:`nowcast.forecasting.animate`) and the verification figures
(:mod:`nowcast.verification.plots`), so all show rain on the same scale, with
no coverage in grey and dry cells in white. Figures are drawn by the Agg
canvas, never ``pyplot``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from matplotlib import path as mpath
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colorbar import Colorbar
from matplotlib.colors import BoundaryNorm, Colormap, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from PIL import Image

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
"""Grey: cells without radar coverage (NaN), as opposed to :data:`DRY_COLOUR`."""
DRY_COLOUR = "#ffffff"
"""White: covered cells with less than the first of :data:`RAIN_LEVELS`."""
GRATICULE_COLOUR = "#303030"


def save_png(fig: Figure, path: str | os.PathLike[str], dpi: int) -> Path:
    """Render ``fig`` with Agg into a PNG at ``path`` (atomic), and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    with AtomicOutput(target, overwrite=True) as out, out.tmp.open("wb") as handle:
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


def utc(time: np.datetime64) -> str:
    """``2010-08-26 04:15 UTC``: a time as the figures show it."""
    return f"{str(time.astype('datetime64[m]')).replace('T', ' ')} UTC"


def lead_label(lead_s: float) -> str:
    """``+25 min`` after the reference time, ``-20 min`` before it, ``0 min`` at it."""
    minutes = lead_s / 60
    return f"{minutes:+g} min" if minutes else "0 min"


def rain_colour_bar(
    fig: Figure, image: ScalarMappable, axes: Axes | Sequence[Axes] | np.ndarray, label: str
) -> Colorbar:
    """A colour bar beside ``axes`` with every class bound of :data:`RAIN_LEVELS` labelled.

    Matplotlib's default ticks label only every other bound of a
    :class:`~matplotlib.colors.BoundaryNorm`, which leaves the reader to guess
    which class a colour is.
    """
    bar = fig.colorbar(image, ax=axes, extend="both", shrink=0.9)
    bar.set_ticks(list(RAIN_LEVELS))
    bar.set_ticklabels([f"{v:g}" for v in RAIN_LEVELS])
    bar.set_label(label)
    return bar


def coverage_legend(fig: Figure, units: str = "mm h-1") -> None:
    """Legend patches under the figure: grey = no radar coverage, white = dry.

    Both colours are outside the colour bar, so without this a reader cannot
    tell "not observed" from "no rain".
    """
    handles = [
        Patch(facecolor=NO_DATA_COLOUR, edgecolor="0.3", label="no radar coverage"),
        Patch(facecolor=DRY_COLOUR, edgecolor="0.3", label=f"dry (< {RAIN_LEVELS[0]:g} {units})"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False, fontsize=9)


def degrees(value: float, axis: str) -> str:
    """A graticule label such as ``52°N`` or ``4.5°E`` (``axis`` is ``lat`` or ``lon``)."""
    positive, negative = ("N", "S") if axis == "lat" else ("E", "W")
    hemisphere = positive if value >= 0 else negative
    return f"{abs(value):g}°{hemisphere if value else ''}"


def graticule_levels(values: np.ndarray, lines: int = 5) -> np.ndarray:
    """Round degree values (steps of 1, 2, 2.5 or 5 x 10^k) for about ``lines`` lines."""
    finite = values[np.isfinite(values)]
    locator = MaxNLocator(nbins=lines, steps=[1, 2, 2.5, 5, 10])
    levels = locator.tick_values(float(finite.min()), float(finite.max()))
    return levels[(levels > finite.min()) & (levels < finite.max())]


def draw_graticule(
    ax: Axes, x: np.ndarray, y: np.ndarray, lat: np.ndarray, lon: np.ndarray
) -> None:
    """Labelled lines of constant latitude and longitude over a map panel.

    Drawn as contours of the grid's own 2-D ``lat``/``lon`` (degrees, shape
    ``(len(y), len(x))``), so they are right for any projection without a
    map library. Latitudes are labelled near the west edge and longitudes
    near the south edge, as on a printed map, away from the rain in the middle.

    Args:
        ax: The panel.
        x: Column coordinates of the cell centres, in the panel's units (km).
        y: Row coordinates of the cell centres, in the panel's units (km).
        lat: Latitude of every cell centre, degrees north.
        lon: Longitude of every cell centre, degrees east.
    """
    width, height = float(np.ptp(x)), float(np.ptp(y))
    inside = (x.min() + 0.05 * width, x.max() - 0.05 * width, y.min() + 0.04 * height, y.max())
    edges = {"lat": (0, inside[0] + 0.05 * width), "lon": (1, inside[2] + 0.02 * height)}
    for values, axis in ((lat, "lat"), (lon, "lon")):
        lines = ax.contour(
            x,
            y,
            values,
            levels=graticule_levels(values),
            colors=GRATICULE_COLOUR,
            linewidths=0.6,
            linestyles="dotted",
        )
        coordinate, edge = edges[axis]
        labels = ax.clabel(
            lines,
            fmt=lambda v, a=axis: degrees(float(v), a),
            manual=label_positions(lines.get_paths(), coordinate, edge, inside),
            fontsize=7,
            inline_spacing=2,
        )
        for label in labels:
            label.set_bbox({"facecolor": "white", "alpha": 0.7, "pad": 0.6, "edgecolor": "none"})


def label_positions(
    paths: Sequence[mpath.Path], coordinate: int, edge: float, inside: tuple[float, ...]
) -> list[tuple[float, float]]:
    """Where to label each contour line: its vertex nearest to ``edge`` along ``coordinate``.

    Only vertices within ``inside`` count, so that no label is cut by the
    panel's frame; a line with none there stays unlabelled.

    Args:
        paths: One path per contour level (possibly empty).
        coordinate: 0 to look along x, 1 along y.
        edge: The x or y value the labels should be near.
        inside: ``(left, right, bottom, top)`` of the area labels may take.
    """
    left, right, bottom, top = inside
    positions = []
    for path in paths:
        vertices = np.asarray(path.vertices, dtype=float).reshape(-1, 2)
        x, y = vertices[:, 0], vertices[:, 1]
        vertices = vertices[(x >= left) & (x <= right) & (y >= bottom) & (y <= top)]
        if len(vertices):
            nearest = int(np.argmin(np.abs(vertices[:, coordinate] - edge)))
            positions.append((float(vertices[nearest, 0]), float(vertices[nearest, 1])))
    return positions


def render(fig: Figure, dpi: int) -> Image.Image:
    """``fig`` drawn by Agg as a palette image, one GIF frame."""
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
    return rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=256)


def save_gif(
    frames: Iterable[Image.Image], path: str | os.PathLike[str], seconds_per_frame: float
) -> Path:
    """Write ``frames`` (equal sizes) as a looping animated GIF at ``path`` (atomic)."""
    images = list(frames)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with AtomicOutput(target, overwrite=True) as out, out.tmp.open("wb") as handle:
        images[0].save(
            handle,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=round(seconds_per_frame * 1000),
            loop=0,
        )
    return target
