"""What ``nowcast ingest`` and ``nowcast info`` report about a dataset, frame by frame.

Frames are counted as they stream past (:class:`FrameStats`), never kept, so
a summary costs no more memory for a thousand frames than for ten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nowcast.io.canonical import open_canonical
from nowcast.io.grid import Grid
from nowcast.io.plausible import DEFAULT_MAX_RATE, IMPLAUSIBLE_ATTR

#: Frames read per block: bounds memory on large grids.
_BLOCK = 16


#: mm h-1 above which a pixel counts as wet in the reports.
WET_THRESHOLD = 0.1


@dataclass(frozen=True)
class FrameCounts:
    """What :class:`FrameStats` needs of one frame, so frames can be counted in any thread."""

    size: int
    wet: int
    nan: int
    max_value: float | None
    clipped: int = 0


def frame_counts(values: np.ndarray, clipped: int = 0) -> FrameCounts:
    """Pixels above :data:`WET_THRESHOLD`, NaN pixels and the largest value of a frame."""
    finite = bool(np.isfinite(values).any())
    return FrameCounts(
        size=values.size,
        wet=int(np.count_nonzero(values > WET_THRESHOLD)),
        nan=int(np.count_nonzero(np.isnan(values))),
        max_value=float(np.nanmax(values)) if finite else None,
        clipped=clipped,
    )


@dataclass
class FrameStats:
    """Running statistics over the frames of a dataset (no frame is kept)."""

    frames: int = 0
    wet_sum: float = 0.0
    nan_sum: float = 0.0
    max_value: float = float("nan")
    clipped: int = 0
    implausible: int = 0

    def add(self, values: np.ndarray) -> None:
        """Account for one frame (after clipping)."""
        self.add_counts(frame_counts(values))

    def add_counts(self, counts: FrameCounts) -> None:
        """Account for one frame summarised by :func:`frame_counts` (in frame order)."""
        self.frames += 1
        self.wet_sum += float(counts.wet) / counts.size
        self.nan_sum += float(counts.nan) / counts.size
        if counts.max_value is not None:
            self.max_value = float(np.fmax(self.max_value, counts.max_value))
        self.clipped += counts.clipped

    @property
    def wet_fraction(self) -> float:
        """Mean over frames of the fraction of pixels above :data:`WET_THRESHOLD`."""
        return self.wet_sum / self.frames if self.frames else float("nan")

    @property
    def nan_fraction(self) -> float:
        """Mean over frames of the fraction of no-coverage pixels."""
        return self.nan_sum / self.frames if self.frames else float("nan")


@dataclass
class DatasetSummary:
    """What ``ingest`` and ``info`` print about a canonical dataset."""

    path: Path
    variable: str
    units: str
    times: np.ndarray
    timestep_s: int
    grid: Grid
    stats: FrameStats
    sequences: int | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    files: int = 0
    max_rate: float = DEFAULT_MAX_RATE

    @property
    def gaps(self) -> list[tuple[np.datetime64, np.datetime64]]:
        """(last frame before, first frame after) for every missing stretch of time."""
        if self.sequences or self.times.size < 2:
            return []
        steps = np.diff(self.times).astype(np.int64)
        return [(self.times[i], self.times[i + 1]) for i in np.nonzero(steps > self.timestep_s)[0]]


def summarize(path: Path) -> DatasetSummary:
    """Statistics of a canonical file without loading it whole."""
    with open_canonical(path) as data:
        stats = FrameStats(
            clipped=int(data.attrs.get("nowcast_clipped_negative_values", 0)),
            implausible=int(data.attrs.get(IMPLAUSIBLE_ATTR, 0)),
        )
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
        max_rate=data.max_rate,
    )
