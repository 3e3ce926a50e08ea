"""Tidy score tables (one row per method, lead time and threshold) and their files.

Rows are plain dicts of Python scalars, ready for :func:`write_csv`, a
DataFrame or a rich table. NaN means "undefined" (a zero denominator or no
data); it is written as an empty CSV field and as ``null`` in JSON.
Both writers are atomic (:mod:`nowcast.io.writers.atomic`): they write a temporary
file in the target folder and rename it into place, so a reader never sees
half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nowcast.io.writers.atomic import AtomicOutput
from nowcast.verification.categorical import SCORE_NAMES, ContingencyTable
from nowcast.verification.continuous import ContinuousScores, FrameScores
from nowcast.verification.fss import FractionsSkillScore

Row = dict[str, Any]

CATEGORICAL_COLUMNS = ("hits", "misses", "false_alarms", "correct_negatives")
CATEGORICAL_SCORES = tuple(name for name in SCORE_NAMES if name != "pofd")
CONTINUOUS_COLUMNS = ("n", "mse", "rmse", "mae", "bias", "corr")
FRAME_COLUMNS = ("n_frames", "frame_mse", "frame_mae", "ssim", "psnr")


def _check_leads(lead_times_s: Sequence[int], n_leads: int) -> list[int]:
    """Return the lead times as ints after checking there is one per accumulator lead."""
    leads = [int(t) for t in lead_times_s]
    if len(leads) != n_leads:
        raise ValueError(f"got {len(leads)} lead times for {n_leads} accumulated leads")
    return leads


def _scalar(value: Any) -> Any:
    """A numpy scalar as the matching Python scalar (int, float, bool, str)."""
    return value.item() if isinstance(value, np.generic) else value


def fss_column(scale_km: float | None, scale_px: int) -> str:
    """Column name of one FSS scale: ``fss_10km`` or, without km, ``fss_11px``."""
    if scale_km is None:
        return f"fss_{scale_px}px"
    return f"fss_{float(scale_km):g}km"


def categorical_rows(
    method: str,
    lead_times_s: Sequence[int],
    table: ContingencyTable,
    fss: FractionsSkillScore | None = None,
    scales_km: Sequence[float] | None = None,
) -> list[Row]:
    """One row per lead time and threshold with the counts and pooled scores.

    Args:
        method: Name of the forecast method (``convlstm``, ``persistence``, ...).
        lead_times_s: Lead time in seconds of each accumulated lead.
        table: Pooled contingency counts.
        fss: Optional FSS accumulator with the same thresholds and leads.
        scales_km: The FSS window sides in km, one per ``fss.scales_px``, for
            the column names; without it the columns are named in pixels.

    Returns:
        Rows with ``method, lead_time_s, threshold, hits, misses, false_alarms,
        correct_negatives, csi, pod, far, bias, ets, hss`` and one
        ``fss_<scale>km`` column per FSS scale.
    """
    leads = _check_leads(lead_times_s, table.n_leads)
    scores = table.scores()
    fss_columns: list[str] = []
    fss_values = None
    if fss is not None:
        if fss.thresholds != table.thresholds or fss.n_leads != table.n_leads:
            raise ValueError("the FSS accumulator has other thresholds or leads than the table")
        kms: Sequence[float | None] = (
            [None] * len(fss.scales_px) if scales_km is None else scales_km
        )
        if len(kms) != len(fss.scales_px):
            raise ValueError(f"got {len(kms)} km scales for {len(fss.scales_px)} FSS scales")
        fss_columns = [fss_column(km, px) for km, px in zip(kms, fss.scales_px, strict=True)]
        fss_values = fss.scores()
    rows = []
    for i, lead_s in enumerate(leads):
        for k, threshold in enumerate(table.thresholds):
            row: Row = {"method": method, "lead_time_s": lead_s, "threshold": threshold}
            for name in CATEGORICAL_COLUMNS:
                row[name] = int(getattr(table, name)[i, k])
            for name in CATEGORICAL_SCORES:
                row[name] = float(scores[name][i, k])
            if fss_values is not None:
                for s, column in enumerate(fss_columns):
                    row[column] = float(fss_values[i, k, s])
            rows.append(row)
    return rows


def continuous_rows(
    method: str,
    lead_times_s: Sequence[int],
    scores: ContinuousScores,
    frames: FrameScores | None = None,
) -> list[Row]:
    """One row per lead time with the pooled continuous scores.

    Args:
        method: Name of the forecast method.
        lead_times_s: Lead time in seconds of each accumulated lead.
        scores: Pooled error sums.
        frames: Optional per-frame (Moving MNIST) scores with the same leads.

    Returns:
        Rows with ``method, lead_time_s, n, mse, rmse, mae, bias, corr`` and,
        with ``frames``, ``n_frames, frame_mse, frame_mae, ssim, psnr``.
    """
    leads = _check_leads(lead_times_s, scores.n_leads)
    values = scores.scores()
    frame_values = None
    if frames is not None:
        _check_leads(leads, frames.n_leads)
        frame_values = frames.scores()
    rows = []
    for i, lead_s in enumerate(leads):
        row: Row = {"method": method, "lead_time_s": lead_s}
        row.update({name: _scalar(values[name][i]) for name in CONTINUOUS_COLUMNS})
        if frame_values is not None:
            row.update({name: _scalar(frame_values[name][i]) for name in FRAME_COLUMNS})
        rows.append(row)
    return rows


def _csv_field(value: Any) -> Any:
    """A cell value: NaN and None become empty, floats keep full precision."""
    value = _scalar(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return value


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        AtomicOutput(path, overwrite=True) as out,
        out.tmp.open("w", encoding="utf-8", newline="") as handle,
    ):
        handle.write(text)


def rows_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Render rows as CSV text; the header is the union of keys in first-seen order."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _csv_field(value) for key, value in row.items()})
    return buffer.getvalue()


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write score rows as CSV (UTF-8, newline line ends), atomically.

    Missing keys and NaN are empty fields; floats are written with full precision.

    Returns:
        The path written.
    """
    target = Path(path)
    _write_atomic(target, rows_to_csv(rows))
    return target


def _jsonable(value: Any) -> Any:
    """Convert numpy values, paths and non-finite floats into JSON-ready objects."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    value = _scalar(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_summary_json(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """Write a JSON summary atomically; NaN and infinities become ``null``.

    numpy arrays and scalars are converted to lists and Python numbers.

    Returns:
        The path written.
    """
    target = Path(path)
    text = json.dumps(_jsonable(payload), indent=2, allow_nan=False) + "\n"
    _write_atomic(target, text)
    return target
