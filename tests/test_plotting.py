"""The shared figure helpers: labels a reader can use, a graticule, the no-coverage legend, GIFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.path import Path as MplPath
from PIL import Image

from nowcast.plotting import (
    DRY_COLOUR,
    NO_DATA_COLOUR,
    RAIN_LEVELS,
    coverage_legend,
    degrees,
    draw_graticule,
    graticule_levels,
    label_positions,
    lead_label,
    rain_colour_bar,
    rain_colour_map,
    render,
    save_gif,
    utc,
)


def test_times_and_leads_read_as_a_forecaster_writes_them() -> None:
    assert utc(np.datetime64("2010-08-26T04:15:00")) == "2010-08-26 04:15 UTC"
    assert [lead_label(s) for s in (300, 1500, 0, -1200, 150)] == [
        "+5 min",
        "+25 min",
        "0 min",
        "-20 min",
        "+2.5 min",
    ]


def test_degrees_name_the_hemisphere() -> None:
    assert [degrees(v, "lat") for v in (52.0, -33.5, 0.0)] == ["52°N", "33.5°S", "0°"]
    assert [degrees(v, "lon") for v in (2.5, -4.0)] == ["2.5°E", "4°W"]


def test_graticule_levels_are_round_and_inside_the_range() -> None:
    lat = np.linspace(49.36, 55.97, 50)
    assert list(graticule_levels(lat)) == [50.0, 52.0, 54.0]
    lon = np.linspace(4.4, 5.6, 50)
    assert list(graticule_levels(lon)) == pytest.approx([4.5, 4.75, 5.0, 5.25, 5.5])


def test_labels_sit_near_the_edge_and_inside_the_panel() -> None:
    line = MplPath(np.array([[0.0, 5.0], [50.0, 6.0], [100.0, 7.0]]))
    assert label_positions([line], 0, 10.0, (5.0, 95.0, 0.0, 10.0)) == [(50.0, 6.0)]
    outside = MplPath(np.array([[0.0, 50.0], [100.0, 60.0]]))
    assert label_positions([outside, MplPath(np.empty((0, 2)))], 0, 10.0, (5, 95, 0, 10)) == []


def test_map_panel_has_labelled_lat_and_lon_lines() -> None:
    fig = Figure()
    ax = fig.subplots()
    x, y = np.arange(60.0), np.arange(50.0)
    lon, lat = np.meshgrid(4.0 + x / 30, 51.0 + y / 25)  # 4-6 E, 51-53 N
    draw_graticule(ax, x, y, lat, lon)
    labels = {t.get_text() for t in ax.texts}
    assert {"51.5°N", "52°N", "52.5°N", "4.5°E", "5°E", "5.5°E"} <= labels


def test_colour_bar_labels_every_rain_class_and_the_legend_names_both_blanks() -> None:
    fig = Figure(layout="constrained")
    ax = fig.subplots()
    cmap, norm = rain_colour_map()
    image = ax.imshow(np.array([[np.nan, 0.0], [3.0, 40.0]]), cmap=cmap, norm=norm)
    bar = rain_colour_bar(fig, image, ax, "rain rate (mm h-1)")
    coverage_legend(fig)
    fig.canvas.draw()
    ticks = [t.get_text() for t in bar.ax.get_yticklabels()]
    assert ticks == [f"{v:g}" for v in RAIN_LEVELS]
    assert bar.ax.get_ylabel() == "rain rate (mm h-1)"
    (legend,) = fig.legends
    entries = dict(
        zip([t.get_text() for t in legend.get_texts()], legend.get_patches(), strict=True)
    )
    assert set(entries) == {"no radar coverage", "dry (< 0.1 mm h-1)"}
    assert entries["no radar coverage"].get_facecolor()[:3] == pytest.approx((0.62,) * 3, abs=0.01)
    assert NO_DATA_COLOUR != DRY_COLOUR


def test_gif_holds_every_frame_and_loops(tmp_path: Path) -> None:
    fig = Figure(figsize=(2, 2))
    ax = fig.subplots()
    image = ax.imshow(np.zeros((4, 4)), vmin=0, vmax=3)
    frames = []
    for k in range(3):
        image.set_data(np.full((4, 4), k))
        frames.append(render(fig, dpi=40))
    path = save_gif(frames, tmp_path / "a.gif", seconds_per_frame=0.25)
    with Image.open(path) as gif:
        assert (gif.format, gif.n_frames, gif.size) == ("GIF", 3, (80, 80))
        assert gif.info["duration"] == 250 and gif.info["loop"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["a.gif"]  # no temporary file left
