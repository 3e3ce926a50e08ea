"""What the ingested frames must agree on, and the order they are written in.

Kept apart from the pipeline (:mod:`nowcast.io.ingest.pipeline`) because these are
the rules of the canonical file, not its mechanics: every frame is checked
against the first (same variable, quantity and grid, no duplicate time), and
the frames' times give the file's order (Moving MNIST sequences one after
another) and its nominal time step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nowcast.errors import CanonicalDataError, InputError
from nowcast.io.grid import Frame


class FrameChecker:
    """Refuses frames that do not belong with the first one."""

    def __init__(self, first: Frame) -> None:
        self.first = first
        self.seen: dict[tuple[int | None, np.datetime64], str] = {}

    def check(self, frame: Frame) -> None:
        """Raise CanonicalDataError when ``frame`` does not belong with the first."""
        first = self.first
        if frame.variable != first.variable:
            raise CanonicalDataError(
                f"{frame.source} holds {frame.variable} but {first.source} holds {first.variable}"
            )
        quantity, first_quantity = frame.extra.get("quantity"), first.extra.get("quantity")
        if quantity != first_quantity:
            raise CanonicalDataError(
                f"mixed quantities: {frame.source} is {quantity}, "
                f"{first.source} is {first_quantity}"
            )
        if not frame.grid.same_as(first.grid):
            raise CanonicalDataError(
                f"{frame.source} is on a different grid ({frame.grid.describe()}) "
                f"than {first.source} ({first.grid.describe()})"
            )
        key = (frame.sequence, frame.time)
        if key in self.seen:
            raise CanonicalDataError(
                f"duplicate time {frame.time}Z in {frame.source} and {self.seen[key]}"
            )
        self.seen[key] = frame.source


def frame_order(times: Sequence[np.datetime64], sequences: Sequence[int]) -> np.ndarray:
    """Indices that put the frames in file order: by sequence, then by time."""
    keys = np.asarray(times).astype(np.int64)
    return np.lexsort((keys, np.asarray(sequences)))


def is_sorted(times: Sequence[np.datetime64], sequences: Sequence[int]) -> bool:
    """Whether the frames are already in file order, with strictly increasing times."""
    order = frame_order(times, sequences)
    strictly = np.all(np.diff(np.asarray(times).astype(np.int64)) > 0)
    return bool(np.array_equal(order, np.arange(len(order))) and strictly)


def nominal_step(times: Sequence[np.datetime64], sequences: Sequence[int], first: Frame) -> int:
    """The most common positive interval between consecutive frames, in seconds."""
    order = frame_order(times, sequences)
    ordered = np.asarray(times).astype(np.int64)[order]
    steps = np.diff(ordered)
    steps = steps[steps > 0]
    if steps.size:
        values, counts = np.unique(steps, return_counts=True)
        return int(values[np.argmax(counts)])
    if first.bounds is not None and first.bounds[1] == first.time:
        return int((first.bounds[1] - first.bounds[0]).astype(np.int64))
    raise InputError(
        "a single frame without an accumulation window ending at its time: "
        "cannot tell the time step; ingest at least two frames"
    )
