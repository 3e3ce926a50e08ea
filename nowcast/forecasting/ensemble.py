"""Sharp deterministic forecasts and ensemble members from one network forecast.

The network's forecast is the best *mean* it can give: smooth, with a veil of
weak rain wherever rain might be and faded peaks. Two products are made from
it, without running the network again:

- **deterministic** (the default output): the network forecast
  probability-matched (:mod:`nowcast.forecasting.matching`) to the last
  observed frame carried along the motion to each lead. Its wet area and its
  intensities are the observed ones, placed where the network forecasts the
  most rain: no veil, no fading.
- **members**: the network forecast plus correlated noise in the log domain
  that gives back, scale by scale, the variability the forecast lacks
  (:mod:`nowcast.forecasting.noise`), each member probability-matched as above.
  Equally likely, each as sharp as the observations; they differ where the
  network hedges.

Both keep the coverage of the last observed frame (NaN elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nowcast.forecasting.matching import match_field
from nowcast.forecasting.noise import (
    BandNoise,
    band_correlation,
    band_index,
    band_power,
    log_domain,
)
from nowcast.motion import warp
from nowcast.motion.advect import Window

#: How the members are made, for the forecast file's ``nowcast_ensemble_method``.
ENSEMBLE_METHOD = (
    "network forecast plus spectral noise in log rain rate with the power the forecast lacks "
    "against the advected last observation, per octave band; each member probability-matched "
    "to the advected last observation"
)
#: How the deterministic output is made, for its ``long_name``.
DETERMINISTIC_METHOD = "network forecast probability-matched to the advected last observation"


@dataclass
class MovedObservations:
    """The observed frames carried along the motion, which set values and noise.

    Attributes:
        last: ``(steps, ny, nx)`` the last observed frame moved to each lead
            (nearest pixel, so its values are observed ones; 0 where it came
            from outside the grid or the coverage).
        covered: ``(ny, nx)`` bool, the last frame's coverage.
        latest: ``(ny, nx)`` the last observed frame itself (0 without coverage).
        previous: ``(ny, nx)`` the frame before it, moved one step to its time
            (0 without coverage): with ``latest``, the members' time correlation.
    """

    last: np.ndarray
    covered: np.ndarray
    latest: np.ndarray
    previous: np.ndarray

    def correlation(self) -> Tensor:
        """Lag-one correlation per band of the last two frames in the moving frame.

        Returns:
            ``(bands,)`` as :func:`~nowcast.forecasting.noise.band_correlation` gives it.
        """
        bands, count = band_index(self.covered.shape)
        before = log_domain(self.previous, self.covered)
        return band_correlation(before, log_domain(self.latest, self.covered), bands, count)


def moved_observations(
    raw: np.ndarray,
    disp: Tensor | None,
    steps: int,
    window: Window | None = None,
    first: Tensor | None = None,
) -> MovedObservations:
    """The last observed frames of ``raw`` ``(T, ny, nx)`` moved along ``disp``.

    Args:
        raw: Observed frames in the variable's units, NaN without coverage.
        disp: ``(steps, 1, 2, h, w)`` displacements on the data's grid
            (:func:`~nowcast.motion.displacements`) over ``window`` (default
            the whole grid); None for a forecast in the fixed frame, where
            the frames stay put.
        steps: Lead times.
        window: Where ``disp`` lies: the last frame's coverage
            (:func:`~nowcast.forecasting.detail.coverage_window`); the moved
            frames are 0 outside it, where nothing uses them.
        first: ``(1, 2, ny, nx)`` the first step's displacement over the
            whole grid, which moves the frame before the last; needed with a window.
    """
    covered = np.isfinite(raw[-1])
    last = torch.from_numpy(np.nan_to_num(raw[-1], nan=0.0).astype(np.float32))[None, None]
    previous = torch.from_numpy(np.nan_to_num(raw[-2 if raw.shape[0] > 1 else -1], nan=0.0))
    previous = previous.float()[None, None]
    if disp is None:
        moved = last[0].expand(steps, -1, -1).numpy().copy()
    else:
        rows, cols = window or (slice(None), slice(None))
        origin = (rows.start or 0, cols.start or 0)
        moved = np.zeros((steps, *covered.shape), dtype=np.float32)
        for k in range(steps):  # one lead at a time: warp's sampling grid is 4 fields per lead
            moved[k, rows, cols] = warp(last, disp[k], mode="nearest", origin=origin)[0, 0].numpy()
        previous = warp(previous, disp[0] if first is None else first, mode="nearest")
    return MovedObservations(moved, covered, last[0, 0].numpy(), previous[0, 0].numpy())


def sharpen(
    fields: np.ndarray, moved: MovedObservations, out: np.ndarray | None = None
) -> np.ndarray:
    """The deterministic output: ``fields`` ``(steps, ny, nx)`` probability-matched per lead.

    Equal forecast values (e.g. a wide area of exactly no rain) are ranked
    by the moved last observation. ``out`` may be ``fields`` itself (in place:
    one grid of ``steps`` fields less at the peak on a large grid).
    """
    out = np.empty_like(fields, dtype=np.float32) if out is None else out
    for k in range(fields.shape[0]):
        out[k] = match_field(fields[k], moved.last[k], moved.covered, tie_break=moved.last[k])
    return out


def members(
    fields: np.ndarray,
    moved: MovedObservations,
    count: int,
    seed: int = 0,
    on_lead: Callable[[int, int], Any] | None = None,
) -> np.ndarray:
    """``count`` equally likely members around the network forecast ``fields``.

    Args:
        fields: ``(steps, ny, nx)`` the network's (smooth) forecast, the variable's units.
        moved: The observations carried to each lead (:func:`moved_observations`).
        count: Number of members (>= 1).
        seed: Seed of the noise: the same inputs and seed give the same members.
        on_lead: Called as ``on_lead(done, steps)`` after each lead time.

    Returns:
        ``(count, steps, ny, nx)`` float32, NaN outside the coverage.
    """
    steps, ny, nx = fields.shape
    covered = moved.covered
    z_forecast = log_domain(fields, covered)
    bands, nbands = band_index((ny, nx))
    observed = band_power(
        torch.fft.rfft2(log_domain(moved.last, covered), norm="ortho"), bands, nbands
    )
    smooth = band_power(torch.fft.rfft2(z_forecast, norm="ortho"), bands, nbands)
    lacking = observed - smooth  # (steps, bands): what the forecast lacks, scale by scale
    noise = BandNoise((ny, nx), count, moved.correlation(), seed)
    out = np.empty((count, steps, ny, nx), dtype=np.float32)
    for k in range(steps):
        keys = (z_forecast[k] + noise.next(lacking[k])).numpy()  # (count, ny, nx)
        for m in range(count):
            out[m, k] = match_field(keys[m], moved.last[k], covered)
        if on_lead:
            on_lead(k + 1, steps)
    return out
