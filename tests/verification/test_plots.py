"""Figures: valid PNGs of a reasonable size, without pyplot state."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from nowcast.errors import InputError
from nowcast.verification.categorical import ContingencyTable
from nowcast.verification.continuous import ContinuousScores
from nowcast.verification.plots import plot_example, plot_score_vs_lead, rain_colour_map
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
