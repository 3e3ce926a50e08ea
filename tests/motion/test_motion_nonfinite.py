"""The motion fit never sees a non-finite value: NaN and infinities count as dry."""

from __future__ import annotations

import torch

from nowcast.motion import estimate_motion
from tests.motion.test_motion import blobs


def test_non_finite_pixels_are_fitted_as_dry() -> None:
    frames = blobs(4)
    corrupt = frames.clone()
    corrupt[0, 1, 5:8, 5:8] = float("inf")
    corrupt[0, 2, 40, 40] = float("-inf")
    corrupt[0, 3, :4] = float("nan")
    dry = torch.nan_to_num(corrupt, nan=0.0, posinf=0.0, neginf=0.0)
    velocity = estimate_motion(corrupt)
    assert torch.isfinite(velocity).all() and velocity.abs().max() > 1.0
    torch.testing.assert_close(velocity, estimate_motion(dry), rtol=0, atol=0)
