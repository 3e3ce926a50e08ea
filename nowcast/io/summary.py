"""Summaries of canonical files (``nowcast info``), computed frame by frame."""

from __future__ import annotations

from pathlib import Path

from nowcast.io.canonical import open_canonical
from nowcast.io.ingest import DatasetSummary, FrameStats

#: Frames read per block: bounds memory on large grids.
_BLOCK = 16


def summarize(path: Path) -> DatasetSummary:
    """Statistics of a canonical file without loading it whole."""
    data = open_canonical(path)
    stats = FrameStats(clipped=int(data.attrs.get("nowcast_clipped_negative_values", 0)))
    for start in range(0, len(data), _BLOCK):
        for frame in data.read(start, min(start + _BLOCK, len(data))):
            stats.add(frame)
    sequences = None if data.sequence is None else len(set(data.sequence.tolist()))
    return DatasetSummary(
        path=Path(path),
        variable=data.variable,
        units=data.units,
        times=data.times,
        timestep_s=data.timestep_s,
        grid=data.grid,
        stats=stats,
        sequences=sequences,
    )
