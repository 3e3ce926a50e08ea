"""Figures: valid PNGs of a reasonable size, without pyplot state."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from nowcast.errors import InputError
from nowcast.verification.categorical import ContingencyTable
from nowcast.verification.continuous import ContinuousScores
from nowcast.verification.plots import (
    example_figure,
    plot_example,
    plot_score_vs_lead,
    rain_colour_map,
    score_figure,
    score_label,
)
from nowcast.verification.report import categorical_rows, continuous_rows

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LEADS_S = [300, 600, 900, 1200, 1500, 1800]


def _assert_png(path: Path, min_bytes: int = 5000) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > min_bytes


def _rain_sequence(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:48]
    frames = []
    for t in range(len(LEADS_S)):
        cell = 25.0 * np.exp(-((yy - 20 - t) ** 2 + (xx - 15 - 2 * t) ** 2) / 60.0)
        frames.append(cell + rng.gamma(0.3, 0.5, (48, 48)))
    out = np.stack(frames)
    out[:, :, :4] = np.nan
    return out


def _rows() -> tuple[list[dict], list[dict]]:
    obs = _rain_sequence(0)
    cat, cont = [], []
    for method, seed in (("persistence", 1), ("convlstm", 2)):
        fc = _rain_sequence(seed)
        table = ContingencyTable([0.5, 2.0, 10.0], len(LEADS_S))
        table.update_all(fc, obs)
        scores = ContinuousScores(len(LEADS_S))
        scores.update_all(fc, obs)
        cat += categorical_rows(method, LEADS_S, table)
        cont += continuous_rows(method, LEADS_S, scores)
    return cat, cont


def test_score_vs_lead_png(tmp_path: Path) -> None:
    cat, cont = _rows()
    _assert_png(plot_score_vs_lead(cat, "csi", tmp_path / "csi.png"))
    _assert_png(plot_score_vs_lead(cat, "far", tmp_path / "far.png", thresholds=[2.0]))
    _assert_png(plot_score_vs_lead(cont, "mse", tmp_path / "mse.png"))
    with pytest.raises(InputError, match="no rows"):
        plot_score_vs_lead(cont, "nope", tmp_path / "x.png")


def test_example_png_rain_and_plain(tmp_path: Path) -> None:
    obs = _rain_sequence(0)
    forecasts = {"persistence": np.repeat(obs[:1], len(LEADS_S), 0), "model": _rain_sequence(3)}
    _assert_png(plot_example(obs, forecasts, LEADS_S, tmp_path / "example.png"), 20000)
    digits = np.clip(np.random.default_rng(1).random((3, 16, 16)), 0, 1)
    path = plot_example(digits, {"model": digits[::-1]}, [1, 2, 3], tmp_path / "m.png", units="1")
    _assert_png(path)
    with pytest.raises(InputError, match="shape"):
        plot_example(obs, {"bad": obs[:2]}, LEADS_S, tmp_path / "bad.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["example.png", "m.png"]


def test_rain_colours_and_no_pyplot() -> None:
    cmap, norm = rain_colour_map()
    assert cmap(norm(np.ma.masked_invalid([np.nan])))[0][:3] == pytest.approx((0.62,) * 3, abs=0.01)
    assert cmap(norm(0.0))[:3] == (1.0, 1.0, 1.0)  # dry, below 0.1 mm h-1
    assert norm(0.3) != norm(3.0)
    # the figures never go through pyplot: none is left registered there
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []


def test_score_labels_carry_the_units_of_the_fields() -> None:
    assert score_label("csi", "mm h-1", True) == "CSI (critical success index)"
    assert score_label("fss_10km", "mm h-1", True) == "FSS at 10 km"
    assert score_label("bias", "mm h-1", True) == "frequency bias"
    assert score_label("bias", "mm h-1", False) == "mean error (mm h-1)"
    assert score_label("mse", "mm h-1", False) == "MSE ((mm h-1)²)"
    assert score_label("mae", "mm h-1", False) == "MAE (mm h-1)"
    assert score_label("frame_mse", "1", False) == "FRAME MSE"


def test_score_figure_has_one_legend_labelled_axes_and_whole_minutes() -> None:
    cat, cont = _rows()
    leads = [150 * k for k in range(1, 13)]  # 2.5-minute cadence: ticks would be 7.5, 12.5
    rows = [{**r, "lead_time_s": leads[LEADS_S.index(r["lead_time_s"])]} for r in cat]
    fig = score_figure(rows, "csi")
    fig.canvas.draw()
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["persistence", "convlstm"]
    assert fig.axes[0].get_ylabel() == "CSI (critical success index)"
    assert [ax.get_title() for ax in fig.axes] == [
        f"threshold {t} mm h-1" for t in ("0.5", "2", "10")
    ]
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert score_figure(cont, "mse").axes[0].get_ylabel() == "MSE ((mm h-1)²)"


def test_example_figure_names_its_start_time_and_labels_every_rain_class() -> None:
    obs = _rain_sequence(0)
    start = np.datetime64("2024-06-01T13:15")
    fig = example_figure(obs, {"persistence": obs[::-1]}, LEADS_S, start=start)
    fig.canvas.draw()
    assert fig.get_suptitle() == (
        "Example forecasts from 2024-06-01 13:15 UTC, the wettest start time scored"
    )
    bar = next(ax for ax in fig.axes if ax.get_ylabel() == "rain rate (mm h-1)")
    assert [t.get_text() for t in bar.get_yticklabels()] == [
        "0.1",
        "0.2",
        "0.5",
        "1",
        "2",
        "5",
        "10",
        "20",
        "30",
        "50",
        "100",
    ]
    assert {t.get_text() for t in fig.legends[0].get_texts()} == {
        "no radar coverage",
        "dry (< 0.1 mm h-1)",
    }
