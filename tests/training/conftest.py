"""Data shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.helpers import write_canonical


def write_blob_canonical(
    path: Path, n: int = 30, size: int = 32, variable: str = "rainfall_rate"
) -> Path:
    """A blob drifting right and down: ``n`` frames of ``size`` x ``size``, 300 s apart."""
    yy, xx = np.mgrid[0:size, 0:size]
    frames = [
        5 * np.exp(-((yy - 8 - 0.5 * t) ** 2 + (xx - 4 - 0.7 * t) ** 2) / 20) for t in range(n)
    ]
    return write_canonical(path, np.stack(frames).astype(np.float32), variable=variable)
