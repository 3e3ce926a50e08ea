"""Tidy rows, CSV and JSON writers."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from nowcast.verification.categorical import ContingencyTable
from nowcast.verification.continuous import ContinuousScores, FrameScores
from nowcast.verification.fss import FractionsSkillScore
from nowcast.verification.report import (
    categorical_rows,
    continuous_rows,
    write_csv,
    write_summary_json,
)


def _accumulators() -> tuple[ContingencyTable, FractionsSkillScore]:
    fc = np.zeros((2, 12, 12))
    ob = np.zeros((2, 12, 12))
    fc[0, 2:6, 2:6] = 3.0
    ob[0, 3:7, 3:7] = 3.0  # lead 0: overlapping rain; lead 1: dry everywhere
    table = ContingencyTable([1.0, 5.0], n_leads=2)
    table.update_all(fc, ob)
    fss = FractionsSkillScore([1.0, 5.0], [1, 5], n_leads=2)
    fss.update_all(fc, ob)
    return table, fss


def test_categorical_rows_columns_and_values() -> None:
    table, fss = _accumulators()
    rows = categorical_rows("persistence", [300, 600], table, fss=fss, scales_km=[1, 5.5])
    assert len(rows) == 4
    assert list(rows[0]) == [
        "method",
        "lead_time_s",
        "threshold",
        "hits",
        "misses",
        "false_alarms",
        "correct_negatives",
        "csi",
        "pod",
        "far",
        "bias",
        "ets",
        "hss",
        "fss_1km",
        "fss_5.5km",
    ]
    first = rows[0]
    assert (first["method"], first["lead_time_s"], first["threshold"]) == ("persistence", 300, 1.0)
    assert (first["hits"], first["misses"], first["false_alarms"]) == (9, 7, 7)
    assert first["csi"] == pytest.approx(9 / 23)
    assert first["fss_1km"] == pytest.approx(2 * 9 / 32)
    assert np.isnan(rows[3]["csi"])  # lead 1, dry: undefined
    assert isinstance(first["hits"], int) and isinstance(first["csi"], float)
    pixel_named = categorical_rows("x", [300, 600], table, fss=fss)
    assert "fss_5px" in pixel_named[0]


def test_continuous_rows_with_frame_scores() -> None:
    rng = np.random.default_rng(0)
    ob = rng.random((2, 3, 12, 12))
    scores = ContinuousScores(2)
    frames = FrameScores(2)
    scores.update_all(ob * 0.9, ob)
    frames.update_all(ob * 0.9, ob)
    rows = continuous_rows("convlstm", [300, 600], scores, frames)
    assert [r["lead_time_s"] for r in rows] == [300, 600]
    assert set(rows[0]) >= {"n", "mse", "mae", "bias", "corr", "frame_mse", "ssim", "psnr"}
    assert rows[0]["n"] == 3 * 144
    assert rows[0]["mse"] == pytest.approx(np.mean((0.1 * ob[0]) ** 2))
    assert "ssim" not in continuous_rows("convlstm", [300, 600], scores)[0]
    with pytest.raises(ValueError, match="lead times"):
        continuous_rows("convlstm", [300], scores)


def test_write_csv_nan_empty_and_atomic(tmp_path: Path) -> None:
    table, fss = _accumulators()
    path = tmp_path / "out" / "scores.csv"
    path.parent.mkdir()
    path.write_text("old content")
    rows = categorical_rows("persistence", [300, 600], table, fss=fss, scales_km=[1, 5])
    assert write_csv(rows, path) == path
    with path.open(newline="") as handle:
        read = list(csv.DictReader(handle))
    assert len(read) == 4
    assert read[3]["csi"] == ""
    assert float(read[0]["csi"]) == rows[0]["csi"]  # full precision round trip
    assert read[0]["hits"] == "9"
    assert [p.name for p in path.parent.iterdir()] == ["scores.csv"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's owner-only mode


def test_write_csv_union_of_columns(tmp_path: Path) -> None:
    path = write_csv([{"a": 1}, {"a": 2.5, "b": float("nan")}, {"b": "x"}], tmp_path / "u.csv")
    assert path.read_text().splitlines() == ["a,b", "1,", "2.5,", ",x"]


def test_write_summary_json_nan_to_null(tmp_path: Path) -> None:
    payload = {
        "csi": np.array([0.5, np.nan]),
        "n": np.int64(3),
        "psnr": np.float64(np.inf),
        "nested": {"path": tmp_path, "values": (1.0, float("nan"))},
    }
    path = write_summary_json(tmp_path / "summary.json", payload)
    loaded = json.loads(path.read_text())
    assert loaded == {
        "csi": [0.5, None],
        "n": 3,
        "psnr": None,
        "nested": {"path": str(tmp_path), "values": [1.0, None]},
    }
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
