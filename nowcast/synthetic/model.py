"""Frame-by-frame synthetic rain: motion, convective cells and the rate map (:class:`RainModel`).

:class:`RainModel` turns one seed's regime (:mod:`nowcast.synthetic.params`)
and texture (:mod:`nowcast.synthetic.texture`) into rain-rate frames: the
rigid flow and its semi-Lagrangian sampling, the cells' births, life cycles
and bumps, and the threshold-and-profile map to mm/h. It is the engine behind
the public functions of :mod:`nowcast.synthetic.generate`, whose docstring describes
the model in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from nowcast.synthetic.params import synthetic_params
from nowcast.synthetic.texture import Texture

#: Rate at the edge of a rain area (the wet threshold), mm/h.
EDGE_RATE = 0.1
#: Field excess that multiplies the edge rate by ``2^s`` (sets how fast rates rise).
_PROFILE_X0 = 0.3
#: Cells are grouped by birth time into blocks of this many seconds.
_BLOCK_S = 3600
#: Share of the domain-mean texture anomaly removed before thresholding.
_GUARD = 0.8
#: Fraction of the life cycle at which a cell peaks.
_CELL_PEAK = 0.35
#: Gaussian cells are drawn out to this many standard deviations.
_CELL_REACH = 3.0


def _world_size(shape: tuple[int, int]) -> int:
    """Side of the periodic world: a power of two >= twice the domain and >= 128.

    Twice the domain keeps the rotated view and the reach of its cells inside
    one period, so nothing wraps visibly into the frame.
    """
    return max(128, 1 << math.ceil(math.log2(2 * max(shape))))


def _rotation(angle: float) -> np.ndarray:
    """Anticlockwise 2x2 rotation matrix for ``angle`` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


@dataclass(frozen=True)
class _Cells:
    """Cells born in one block, as parallel arrays (world pixels, seconds)."""

    col: np.ndarray
    row: np.ndarray
    birth: np.ndarray
    life: np.ndarray
    peak: np.ndarray
    sigma_major: np.ndarray
    sigma_minor: np.ndarray
    angle: np.ndarray

    @staticmethod
    def concat(blocks: list[_Cells]) -> _Cells:
        """All cells of ``blocks`` in one set of arrays."""
        names = _Cells.__dataclass_fields__
        return _Cells(**{n: np.concatenate([getattr(b, n) for b in blocks]) for n in names})

    def select(self, keep: np.ndarray) -> _Cells:
        """The cells where ``keep`` is True."""
        names = _Cells.__dataclass_fields__
        return _Cells(**{n: getattr(self, n)[keep] for n in names})


def _add_bump(
    out: np.ndarray,
    centre: tuple[float, float],
    sigmas: tuple[float, float],
    angle: float,
    amp: float,
) -> None:
    """Add an elliptical Gaussian bump to ``out`` in place, inside its 3-sigma box.

    Args:
        out: Field ``(ny, nx)`` to add to.
        centre: ``(row, col)`` of the bump, pixels (may lie outside ``out``).
        sigmas: Standard deviations along the major and minor axes, pixels.
        angle: Direction of the major axis, radians anticlockwise from east.
        amp: Peak value.
    """
    ny, nx = out.shape
    row, col = centre
    reach = _CELL_REACH * sigmas[0]
    r0, r1 = max(0, math.floor(row - reach)), min(ny, math.ceil(row + reach) + 1)
    c0, c1 = max(0, math.floor(col - reach)), min(nx, math.ceil(col + reach) + 1)
    if r0 >= r1 or c0 >= c1:
        return
    dx = (np.arange(c0, c1) - col)[None, :]
    dy = (row - np.arange(r0, r1))[:, None]  # northward offset
    cos, sin = math.cos(angle), math.sin(angle)
    major = (dx * cos + dy * sin) / sigmas[0]
    minor = (dy * cos - dx * sin) / sigmas[1]
    out[r0:r1, c0:c1] += amp * np.exp(-0.5 * (major**2 + minor**2))


class RainModel:
    """Computes frame ``k`` of one seed's rain field on demand.

    The model is described in the docstring of :mod:`nowcast.synthetic.generate`.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        seed: int,
        timestep_s: int,
        pixel_km: float,
        lifetime_scale: float = 1.0,
    ) -> None:
        self.p = synthetic_params(
            seed, shape, timestep_s=timestep_s, pixel_km=pixel_km, lifetime_scale=lifetime_scale
        )
        self.shape = shape
        self.seed = seed
        self.timestep_s = timestep_s
        self.pixel_km = pixel_km
        self.world = _world_size(shape)
        self.texture = Texture(self.p, self.world, pixel_km, seed)
        self.threshold = NormalDist().inv_cdf(1.0 - self.p.wet_target)
        # Map coordinates: x east = column, y north = -row; velocity in px/step.
        self.velocity = np.array([self.p.shift_px[1], -self.p.shift_px[0]])
        self.omega = math.radians(self.p.rotation_deg_h) * timestep_s / 3600.0  # rad/step
        self.centre = np.array([self.p.centre_px[1], -self.p.centre_px[0]])
        rows, cols = np.indices(shape, dtype=np.float64)
        self.view = np.stack([cols.ravel(), -rows.ravel()])  # (2, ny*nx) map coordinates
        self._blocks: dict[int, _Cells] = {}

    # -- motion -----------------------------------------------------------------

    def _drift(self, k: int) -> np.ndarray:
        """Displacement of the rotation centre's material point after ``k`` steps.

        ``D(k) = integral_0^k R(omega s) U ds``, written with sinc so that it
        reduces to ``k U`` for ``omega = 0``.
        """
        theta = self.omega * k
        sin_term = k * np.sinc(theta / np.pi)  # sin(theta) / omega
        cos_term = k * (theta / 2.0) * np.sinc(theta / (2.0 * np.pi)) ** 2  # (1 - cos) / omega
        m = np.array([[sin_term, -cos_term], [cos_term, sin_term]])
        return m @ self.velocity

    def _forward(self, k: int, points: np.ndarray) -> np.ndarray:
        """Map coordinates at step ``k`` of material points at ``points`` (2, n) at step 0."""
        rot = _rotation(self.omega * k)
        return (
            self.centre[:, None] + rot @ (points - self.centre[:, None]) + self._drift(k)[:, None]
        )

    def _departure(self, k: int, points: np.ndarray) -> np.ndarray:
        """Step-0 map coordinates of the material points at ``points`` (2, n) at step ``k``."""
        rot = _rotation(-self.omega * k)
        shifted = points - self.centre[:, None] - self._drift(k)[:, None]
        return self.centre[:, None] + rot @ shifted

    def _sample(self, field: np.ndarray, k: int) -> np.ndarray:
        """Bilinear sample of the periodic world ``field`` at the view's departure points."""
        start = self._departure(k, self.view)
        col, row = start[0], -start[1]
        c0, r0 = np.floor(col), np.floor(row)
        fc = (col - c0).astype(np.float32)
        fr = (row - r0).astype(np.float32)
        mask = self.world - 1
        c0i = c0.astype(np.int64) & mask
        r0i = r0.astype(np.int64) & mask
        c1i, r1i = (c0i + 1) & mask, (r0i + 1) & mask
        flat = field.ravel()
        top = flat[r0i * self.world + c0i]
        top += fc * (flat[r0i * self.world + c1i] - top)
        bottom = flat[r1i * self.world + c0i]
        bottom += fc * (flat[r1i * self.world + c1i] - bottom)
        return (top + fr * (bottom - top)).reshape(self.shape)

    # -- cells ------------------------------------------------------------------

    def _block(self, index: int) -> _Cells:
        """Cells born in ``[index, index + 1) * _BLOCK_S`` seconds, drawn once per block."""
        if index not in self._blocks:
            self._blocks[index] = self._draw_block(index)
        return self._blocks[index]

    def _draw_block(self, index: int) -> _Cells:
        """Poisson births over the world, thinned towards rainy large-scale areas."""
        p = self.p
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 2, index + (1 << 20)]))
        steer = self.texture.large_scale((index + 0.5) * _BLOCK_S)
        accept = 0.1 + 0.9 / (1.0 + np.exp(-3.0 * (steer - 0.5)))
        area = (self.world * self.pixel_km) ** 2 / 1e4
        mean_life_s = 30.0 * sum(p.cell_life_min)
        births = p.cell_density * area * _BLOCK_S / mean_life_s
        n = int(rng.poisson(births / float(accept.mean())))
        col = rng.uniform(0.0, self.world, n)
        row = rng.uniform(0.0, self.world, n)
        kept = rng.uniform(0.0, 1.0, n) < accept[row.astype(int), col.astype(int)]
        sigma = rng.uniform(*p.cell_sigma_km, n) / self.pixel_km
        cells = _Cells(
            col=col,
            row=row,
            birth=(index + rng.uniform(0.0, 1.0, n)) * _BLOCK_S,
            life=rng.uniform(*p.cell_life_min, n) * 60.0,
            peak=p.cell_amplitude * rng.uniform(0.5, 1.5, n),
            sigma_major=np.maximum(sigma, 0.7),
            sigma_minor=np.maximum(sigma / rng.uniform(1.0, 2.2, n), 0.7),
            angle=rng.uniform(0.0, np.pi, n),
        )
        return cells.select(kept)

    def _alive(self, t_s: float) -> _Cells:
        """Cells alive at ``t_s``."""
        first = math.floor((t_s - 60.0 * self.p.cell_life_min[1]) / _BLOCK_S)
        last = math.floor(t_s / _BLOCK_S)
        for stale in [b for b in self._blocks if b < first]:
            del self._blocks[stale]  # frames come in time order: old blocks are done
        cells = _Cells.concat([self._block(b) for b in range(first, last + 1)])
        return cells.select((cells.birth <= t_s) & (t_s < cells.birth + cells.life))

    @staticmethod
    def _envelope(age: np.ndarray) -> np.ndarray:
        """Life-cycle envelope of age fraction ``age`` in [0, 1]: 0 -> 1 (at 35 %) -> 0."""
        gamma = math.log(0.5) / math.log(_CELL_PEAK)
        return np.sin(np.pi * np.clip(age, 0.0, 1.0) ** gamma) ** 2

    def _cell_field(self, k: int) -> np.ndarray:
        """Sum of the live cells' Gaussian bumps on the view, float32 ``(ny, nx)``."""
        t_s = k * self.timestep_s
        out = np.zeros(self.shape, dtype=np.float32)
        cells = self._alive(t_s)
        if cells.col.size == 0:
            return out
        amp = cells.peak * self._envelope((t_s - cells.birth) / cells.life)
        # Pick, per cell, the periodic image nearest to the view centre's departure point.
        ny, nx = self.shape
        centre = np.array([[(nx - 1) / 2], [-(ny - 1) / 2]])
        anchor = self._departure(k, centre)
        points = np.stack([cells.col, -cells.row])
        half = self.world / 2.0
        points = anchor + np.mod(points - anchor + half, self.world) - half
        pos = self._forward(k, points)
        col, row = pos[0], -pos[1]
        reach = _CELL_REACH * cells.sigma_major
        seen = (col > -reach) & (col < nx - 1 + reach) & (row > -reach) & (row < ny - 1 + reach)
        angle = cells.angle + self.omega * k
        for i in np.flatnonzero(seen & (amp > 1e-3)):
            sigmas = (cells.sigma_major[i], cells.sigma_minor[i])
            _add_bump(out, (row[i], col[i]), sigmas, angle[i], amp[i])
        return out

    # -- rates ------------------------------------------------------------------

    def frame(self, k: int) -> np.ndarray:
        """Rain rate at step ``k``, mm/h, float32 ``(ny, nx)``, >= 0."""
        t_s = k * self.timestep_s
        p = self.p
        z = self._sample(self.texture.field(t_s), k)
        # Guard rail: the threshold follows part of the domain-mean texture anomaly,
        # so the wet fraction stays near its target whichever part of the world is in view.
        z -= np.float32(_GUARD * float(z.mean()))
        z += self._cell_field(k)
        period_s = p.modulation_period_h * 3600.0
        z += np.float32(
            p.modulation * math.sin(2 * math.pi * t_s / period_s + p.modulation_phase)
            - self.threshold
        )
        excess = np.maximum(z, 0.0)
        rate = np.float32(EDGE_RATE) * np.exp(
            np.float32(p.exponent) * np.log1p(excess / _PROFILE_X0)
        )
        rate[z <= 0] = 0.0
        return rate.astype(np.float32, copy=False)
