"""How much of the network's change a forecast keeps: per-lead weights fitted on observations.

A residual model's forecast is the last observed frame carried along the
motion (*advected*) plus the network's change to it; on a working grid the
sub-block detail is added back (:mod:`nowcast.forecasting.detail`). Measured
on three real radars (docs/lab/skill-notebook.md §7.7), the network's change at full
strength costs MSE: the change is right on average but uncertain, and an
uncertain change is best taken in part. So a calibrated model forecasts

    ``advected + gain[k] * (network - advected) + detail[k] * moved_detail``

at lead ``k``, all in the variable's units, with ``gain`` and ``detail`` in
[0, 1] fitted per lead by least squares on observed sequences
(``nowcast calibrate``) and stored in the checkpoint. Without weights the
forecast is the network plus the detail damped by its one-step persistence
``rho ** k`` (the behaviour before calibration existed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nowcast.errors import CheckpointError
from nowcast.forecasting.ensemble import MovedObservations


@dataclass(frozen=True)
class BlendWeights:
    """Per-lead weights of the network's change (``gain``) and of the detail (``detail``)."""

    gain: tuple[float, ...]
    detail: tuple[float, ...]

    def at(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """``(gain, detail)`` for leads ``1 .. steps``; leads past the fitted ones keep the last."""
        index = np.minimum(np.arange(steps), len(self.gain) - 1)
        return np.asarray(self.gain)[index], np.asarray(self.detail)[index]

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists, for the checkpoint."""
        return {"gain": list(self.gain), "detail": list(self.detail)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BlendWeights:
        """Rebuild from :meth:`to_dict`; a malformed entry is a :class:`CheckpointError`."""
        try:
            gain = tuple(float(g) for g in data["gain"])
            detail = tuple(float(d) for d in data["detail"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"malformed forecast.blend in the checkpoint: {exc}") from exc
        if not gain or len(gain) != len(detail):
            raise CheckpointError("forecast.blend needs as many gains as detail weights (>= 1)")
        return cls(gain, detail)


@dataclass
class Components:
    """The parts a forecast is made of, each ``(steps, ny, nx)`` float32 in physical units.

    Attributes:
        advected: The last (working-grid) frame carried along the motion, on the data's
            grid; ``None`` when left out (only a calibrated blend needs it).
        network: The network's forecast on the data's grid.
        detail: The sub-block detail advected to each lead, undamped (zeros without any).
        rho: The detail's one-step persistence factor (:mod:`nowcast.forecasting.detail`).
        moved: The observed frames carried along the motion to each lead, which
            set the values of the sharp output and the members
            (:mod:`nowcast.forecasting.ensemble`).
    """

    advected: np.ndarray | None
    network: np.ndarray
    detail: np.ndarray
    rho: float
    moved: MovedObservations

    def advected_frames(self) -> np.ndarray:
        """:attr:`advected`, which a calibrated blend and its calibration need."""
        if self.advected is None:
            raise ValueError("these components were made without the advected frame")
        return self.advected


def combine(
    parts: Components, weights: BlendWeights | None, out: np.ndarray | None = None
) -> np.ndarray:
    """The forecast from its parts: calibrated with ``weights``, else network + damped detail.

    ``out`` (``(steps, ny, nx)`` float32) may be ``parts.network`` itself:
    each lead is read before it is written.

    Returns:
        ``(steps, ny, nx)`` float32, clipped at zero.
    """
    steps = parts.network.shape[0]
    fields = np.empty(parts.network.shape, dtype=np.float32) if out is None else out
    damping = parts.rho ** np.arange(1, steps + 1, dtype=np.float32)
    gain, detail = weights.at(steps) if weights is not None else (None, None)
    for k in range(steps):  # one lead at a time: no temporaries of all leads on large grids
        if gain is None or detail is None:
            lead = parts.network[k] + parts.detail[k] * damping[k]
        else:
            advected = parts.advected_frames()[k]
            change = parts.network[k] - advected
            lead = advected + change * gain[k] + parts.detail[k] * detail[k]
        np.maximum(lead, 0.0, out=fields[k], casting="unsafe")
    return fields


class BlendSums:
    """Least-squares sums for the weights of one data set, per lead.

    For lead ``k`` the regressors are ``u = network - advected`` and
    ``v = detail``, the target ``r = observed - advected``, over the pixels
    where both the forecast and the observation are finite.
    """

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.normal = np.zeros((steps, 2, 2))  # [[uu, uv], [uv, vv]]
        self.rhs = np.zeros((steps, 2))  # [ur, vr]
        self.target = np.zeros(steps)  # rr
        self.count = np.zeros(steps, dtype=np.int64)

    def update(self, parts: Components, observed: np.ndarray) -> None:
        """Add one start time: its parts and the ``(steps, ny, nx)`` observations."""
        for k in range(self.steps):
            valid = np.isfinite(observed[k]) & np.isfinite(parts.network[k])
            base = parts.advected_frames()[k][valid].astype(np.float64)
            u = parts.network[k][valid] - base
            v = parts.detail[k][valid].astype(np.float64)
            r = observed[k][valid] - base
            self.normal[k] += [[u @ u, u @ v], [u @ v, v @ v]]
            self.rhs[k] += [u @ r, v @ r]
            self.target[k] += r @ r
            self.count[k] += int(valid.sum())

    def mse(self, weights: BlendWeights) -> np.ndarray:
        """MSE per lead of the forecast with ``weights`` (before clipping at zero)."""
        gain, detail = weights.at(self.steps)
        x = np.stack([gain, detail], axis=1)  # (steps, 2)
        quad = np.einsum("ki,kij,kj->k", x, self.normal, x)
        sse = self.target - 2 * np.einsum("ki,ki->k", x, self.rhs) + quad
        return sse / np.maximum(self.count, 1)


def fit_weights(sums: Sequence[BlendSums]) -> BlendWeights:
    """Weights that minimise the MSE, each data set counting equally (a mean per pixel each).

    Raises:
        ValueError: when no data set has a valid pixel at some lead.
    """
    steps = sums[0].steps
    gain, detail = [], []
    for k in range(steps):
        used = [s for s in sums if s.count[k] > 0]
        if not used:
            raise ValueError(f"no valid pixel to fit lead {k + 1}")
        normal = sum(s.normal[k] / s.count[k] for s in used)
        rhs = sum(s.rhs[k] / s.count[k] for s in used)
        g, d = box_least_squares(normal, rhs)
        gain.append(round(g, 4))
        detail.append(round(d, 4))
    return BlendWeights(tuple(gain), tuple(detail))


def box_least_squares(normal: np.ndarray, rhs: np.ndarray) -> tuple[float, float]:
    """Minimise ``x A x - 2 b x`` over ``x`` in [0, 1]², ``A`` 2x2 positive semi-definite.

    The minimum lies at the free solution, on an edge (one variable at a
    bound, the other solved) or at a corner; every candidate is clipped and
    the best kept. Exact for two variables. A variable that is always zero
    (a forecast without sub-block detail) gets the weight 0.
    """
    candidates = [np.array([g, d], dtype=float) for g in (0.0, 1.0) for d in (0.0, 1.0)]
    if np.linalg.det(normal) > 1e-12 * max(1.0, float(np.abs(normal).max()) ** 2):
        candidates.append(np.linalg.solve(normal, rhs))
    for fixed in (0, 1):
        free = 1 - fixed
        if normal[free, free] > 0:
            for value in (0.0, 1.0):
                x = np.zeros(2)
                x[fixed] = value
                x[free] = (rhs[free] - normal[free, fixed] * value) / normal[free, free]
                candidates.append(x)

    def objective(x: np.ndarray) -> float:
        return float(x @ normal @ x - 2 * rhs @ x)

    best = min((np.clip(x, 0.0, 1.0) for x in candidates), key=objective)
    best[np.diag(normal) <= 0] = 0.0  # a part that is always zero (no detail) gets no weight
    return float(best[0]), float(best[1])
