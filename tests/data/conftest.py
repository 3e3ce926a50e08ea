"""Tiny canonical files whose every value says where it is, for the data-stage tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import T0, write_canonical

#: ``nowcast_max_rate`` of files holding :func:`encoded_values`, far above any rain rate.
ENCODED_MAX_RATE = 1e7


def encoded_values(n: int, ny: int, nx: int) -> np.ndarray:
    """Frame t, pixel (y, x) holds ``t * 10000 + y * 100 + x``: every value says where it is.

    The values are not rain rates; files holding them need ``max_rate=ENCODED_MAX_RATE``,
    or reading turns every value above 500 into no data (:mod:`nowcast.io.plausible`).
    """
    t, y, x = np.meshgrid(np.arange(n), np.arange(ny), np.arange(nx), indexing="ij")
    return (t * 10000 + y * 100 + x).astype(np.float32)


@pytest.fixture
def canonical(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``canonical(n=30, ny=32, nx=32, gaps=(), nan_frames=(), ...) -> path``."""

    def make(
        n: int = 30,
        ny: int = 32,
        nx: int = 32,
        gaps: tuple[int, ...] = (),
        nan_frames: tuple[int, ...] = (),
        sequence: np.ndarray | None = None,
        variable: str = "rainfall_rate",
        name: str = "canonical.nc",
    ) -> Path:
        steps = np.arange(n)
        for gap in gaps:  # one missing frame before index `gap`
            steps[gap:] += 1
        values = encoded_values(n, ny, nx)
        for t in nan_frames:
            values[t, : ny // 2] = np.nan
        times = T0 + np.timedelta64(300, "s") * steps
        return write_canonical(
            tmp_path / name,
            values,
            times=times,
            variable=variable,
            sequence=sequence,
            max_rate=ENCODED_MAX_RATE,
        )

    return make
