"""Deterministic synthetic rain fields: sample data, tests and model pre-training.

The generator is a small kinematic-statistical model of a radar rain-rate
field (``docs/synthetic-data.md`` gives the equations in words):

* **Motion.** The whole pattern moves with a steady flow made of a uniform
  advection velocity (5-60 km/h, any direction) and a slow solid-body rotation
  about a centre near the middle of the domain. The flow is a rigid motion, so
  the departure point of every pixel is known in closed form; each frame is a
  semi-Lagrangian step that samples the persistent *Lagrangian* field at the
  departure points traced back to ``t = 0``. Interpolation therefore happens
  once per frame, and the field is never smeared by repeated interpolation.
* **Texture.** The persistent field is Fourier-filtered Gaussian noise on a
  periodic "world" at least twice the domain size, with a radially averaged
  power spectrum ``P(k) ~ k^-3`` below a 40-80 km scale break (flatter above),
  mildly anisotropic so that large structures form bands. Every Fourier mode
  turns slowly between two independent noise realisations at a rate set by its
  scale (minutes for a few km, hours for 100 km), so the texture evolves
  in the moving frame the way real rain loses predictability at small scales.
* **Cells.** Convective cells are born at random times (a Poisson process),
  preferably where the large-scale field is already rainy, ride with the flow,
  and grow and decay with a smooth life-cycle envelope (quick growth, slower
  decay). Each adds an elliptical Gaussian bump to the field.
* **Rates.** A slow regime oscillation shifts the whole field, and most of the
  domain-mean texture anomaly is removed (a guard rail on the wet fraction).
  The field is thresholded at the quantile that gives a per-seed target wet
  fraction (9-20 %), and the excess ``X`` above it is mapped to a rate
  ``R = 0.1 (1 + X / 0.3)^s`` mm/h (``s`` ~ 2.1-2.5): light rain at the edges,
  a median of about 0.7 mm/h, and cores of a few tens of mm/h where cells
  sit on top of rainy texture.

Everything random is drawn from ``numpy.random.Generator`` streams keyed by the
seed (cells by one-hour birth blocks), so the same seed gives the same bytes,
and a longer run starts with exactly the frames of a shorter one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from pyproj import CRS

from nowcast.errors import ConfigError
from nowcast.io.cf import RAIN
from nowcast.io.grid import Frame, Grid

#: PROJ string of the synthetic grid: Lambert azimuthal equal-area centred on 52N 5E.
PROJ4 = "+proj=laea +lat_0=52 +lon_0=5 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
#: Default valid time of the first synthetic frame.
DEFAULT_START = np.datetime64("2024-06-01T12:00:00", "s")

#: Rate at the edge of a rain area (the wet threshold), mm/h.
EDGE_RATE = 0.1
#: Field excess that multiplies the edge rate by ``2^s`` (sets how fast rates rise).
_PROFILE_X0 = 0.3
#: Cells are grouped by birth time into blocks of this many seconds.
_BLOCK_S = 3600
#: Scale (km) below which the large-scale field no longer steers cell births.
_CELL_STEER_KM = 50.0
#: Scale (km) above which texture variance is suppressed (the weather system's size).
_OUTER_SCALE_KM = 300.0
#: Share of the domain-mean texture anomaly removed before thresholding.
_GUARD = 0.8
#: Fraction of the life cycle at which a cell peaks.
_CELL_PEAK = 0.35
#: Gaussian cells are drawn out to this many standard deviations.
_CELL_REACH = 3.0


@dataclass(frozen=True)
class SyntheticParams:
    """The weather regime drawn for one seed, in physical and pixel units.

    Attributes:
        speed_kmh: Advection speed, km/h.
        heading_deg: Direction the rain moves *towards*, degrees clockwise from
            north (north = up = row 0).
        shift_px: Displacement of the pattern per time step ``(rows, cols)``;
            rows grow southwards (down the array).
        rotation_deg_h: Solid-body rotation rate, degrees per hour, positive
            anticlockwise on the map.
        centre_px: Rotation centre ``(row, col)`` in pixels.
        wet_target: Target fraction of pixels above 0.1 mm/h.
        beta_small: Spectral slope (of ``P(k)``) below the scale break.
        beta_large: Spectral slope above the scale break.
        scale_break_km: Scale where the spectrum steepens, km.
        aspect: Elongation of large structures (1 = isotropic).
        band_deg: Direction of elongation, degrees anticlockwise from east.
        lifetime_10km_min: Time over which 10 km structures decorrelate, minutes.
        cell_density: Mean number of live cells per 10^4 km^2.
        cell_amplitude: Mean peak cell amplitude, in standard deviations of the texture.
        cell_life_min: Range of cell lifetimes, minutes.
        cell_sigma_km: Range of cell major-axis standard deviations, km.
        exponent: Exponent ``s`` of the excess-to-rate map.
        modulation: Amplitude of the slow regime oscillation, texture std units.
        modulation_period_h: Period of the regime oscillation, hours.
        modulation_phase: Phase of the regime oscillation, radians.
    """

    speed_kmh: float
    heading_deg: float
    shift_px: tuple[float, float]
    rotation_deg_h: float
    centre_px: tuple[float, float]
    wet_target: float
    beta_small: float
    beta_large: float
    scale_break_km: float
    aspect: float
    band_deg: float
    lifetime_10km_min: float
    cell_density: float
    cell_amplitude: float
    cell_life_min: tuple[float, float]
    cell_sigma_km: tuple[float, float]
    exponent: float
    modulation: float
    modulation_period_h: float
    modulation_phase: float


def _check_args(shape: tuple[int, int], seed: int, timestep_s: int, pixel_km: float) -> None:
    """Raise ConfigError for arguments no rain field can be made from."""
    if len(shape) != 2 or min(shape) < 2:
        raise ConfigError(f"synthetic grid shape must be (ny, nx) with both >= 2, got {shape}")
    if seed < 0:
        raise ConfigError(f"synthetic seed must be >= 0, got {seed}")
    if timestep_s <= 0 or not pixel_km > 0:
        raise ConfigError(
            f"timestep_s and pixel_km must be positive, got {timestep_s} and {pixel_km}"
        )


def synthetic_params(
    seed: int = 0,
    shape: tuple[int, int] = (128, 128),
    *,
    timestep_s: int = 300,
    pixel_km: float = 1.0,
    lifetime_scale: float = 1.0,
) -> SyntheticParams:
    """Draw the weather regime of ``seed`` and express it for this grid and cadence.

    The random draws depend on ``seed`` only; ``shape``, ``timestep_s`` and
    ``pixel_km`` just convert them to pixels and steps. ``lifetime_scale``
    multiplies the texture's decorrelation time and the cells' lifetimes
    after the draws (same regime, slower evolution, closer to persistent
    stratiform rain; experiments in docs/skill.md §5).

    Raises:
        ConfigError: for a bad shape, a negative seed, non-positive units or
            a non-positive ``lifetime_scale``.
    """
    _check_args(shape, seed, timestep_s, pixel_km)
    if not lifetime_scale > 0:
        raise ConfigError(f"lifetime_scale must be positive, got {lifetime_scale}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    speed = float(rng.uniform(5.0, 60.0))
    heading = float(rng.uniform(0.0, 360.0))
    step_px = speed * timestep_s / 3600.0 / pixel_km
    rad = math.radians(heading)
    rotation = float(rng.uniform(1.0, 6.0) * rng.choice([-1.0, 1.0]))
    offset = rng.uniform(-0.1, 0.1, size=2)
    ny, nx = shape
    life_lo = float(rng.uniform(25.0, 45.0))
    sigma_lo = float(rng.uniform(2.0, 3.5))
    return SyntheticParams(
        speed_kmh=speed,
        heading_deg=heading,
        shift_px=(-step_px * math.cos(rad), step_px * math.sin(rad)),
        rotation_deg_h=rotation,
        centre_px=((ny - 1) / 2 + offset[0] * ny, (nx - 1) / 2 + offset[1] * nx),
        wet_target=float(rng.uniform(0.09, 0.2)),
        beta_small=float(rng.uniform(2.8, 3.2)),
        beta_large=float(rng.uniform(2.0, 2.6)),
        scale_break_km=float(rng.uniform(40.0, 80.0)),
        aspect=float(rng.uniform(1.0, 1.8)),
        band_deg=float(rng.uniform(0.0, 180.0)),
        lifetime_10km_min=float(rng.uniform(25.0, 45.0)) * lifetime_scale,
        cell_density=float(rng.uniform(1.0, 8.0)),
        cell_amplitude=float(rng.uniform(0.8, 1.6)),
        cell_life_min=(
            life_lo * lifetime_scale,
            (life_lo + float(rng.uniform(40.0, 90.0))) * lifetime_scale,
        ),
        cell_sigma_km=(sigma_lo, sigma_lo + float(rng.uniform(2.0, 4.0))),
        exponent=float(rng.uniform(2.1, 2.5)),
        modulation=float(rng.uniform(0.1, 0.3)),
        modulation_period_h=float(rng.uniform(2.0, 6.0)),
        modulation_phase=float(rng.uniform(0.0, 2.0 * np.pi)),
    )


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


class _Texture:
    """Slowly evolving, power-law filtered Gaussian noise on the periodic world.

    The Fourier coefficients are ``A cos(phi_k t) + B sin(phi_k t)`` with ``A``
    and ``B`` independent filtered white noise, so every time slice is a
    Gaussian field of the same spectrum, and mode ``k`` decorrelates after
    about ``1 / phi_k`` seconds (shorter for smaller scales).
    """

    def __init__(self, p: SyntheticParams, world: int, pixel_km: float, seed: int) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1, world]))
        ky = (np.fft.fftfreq(world) / pixel_km)[:, None]  # cycles/km, along rows (south)
        kx = (np.fft.rfftfreq(world) / pixel_km)[None, :]
        filt = self._filter(p, kx, -ky)
        self.world = world
        self.a = self._realisation(rng, filt)
        self.b = self._realisation(rng, filt)
        self.rate = self._rates(p, rng, np.hypot(kx, ky))
        self.steer = (np.hypot(kx, ky) < 1.0 / _CELL_STEER_KM).astype(np.float32)

    @staticmethod
    def _filter(p: SyntheticParams, kx: np.ndarray, ky_north: np.ndarray) -> np.ndarray:
        """Amplitude filter ``sqrt(P(k))`` with an anisotropic wavenumber and a scale break."""
        band = math.radians(p.band_deg)
        along = kx * math.cos(band) + ky_north * math.sin(band)
        across = -kx * math.sin(band) + ky_north * math.cos(band)
        k = np.hypot(along * p.aspect, across / p.aspect)
        kb = 1.0 / p.scale_break_km
        k_safe = np.where(k > 0, k, kb)
        small = k_safe ** (-p.beta_small / 2)
        large = kb ** (-p.beta_small / 2) * (k_safe / kb) ** (-p.beta_large / 2)
        filt = np.where(k_safe >= kb, small, large)
        filt *= k_safe / np.hypot(k_safe, 1.0 / _OUTER_SCALE_KM)
        filt[0, 0] = 0.0
        return filt

    def _realisation(self, rng: np.random.Generator, filt: np.ndarray) -> np.ndarray:
        """Filtered white noise, spectrum scaled so its field has unit variance."""
        white = rng.standard_normal((self.world, self.world))
        spec = np.fft.rfft2(white) * filt
        std = float(np.fft.irfft2(spec, s=white.shape).std())
        return (spec / std).astype(np.complex64)

    def _rates(self, p: SyntheticParams, rng: np.random.Generator, k: np.ndarray) -> np.ndarray:
        """Turning rate of each mode, rad/s: ``1.19 / lifetime(scale)`` times a jitter.

        ``cos(1.19) = e^-1``: a mode's correlation drops to 1/e after its lifetime,
        ``lifetime_10km * (scale / 10 km)^0.7`` clipped to 4 min .. 8 h. The
        +-25 % jitter stops modes of one scale from re-aligning periodically; it
        is made symmetric in ``ky`` on the self-conjugate columns of the real FFT.
        """
        scale = 1.0 / np.where(k > 0, k, 1e-9)
        lifetime = p.lifetime_10km_min * 60.0 * (scale / 10.0) ** 0.7
        lifetime = np.clip(lifetime, 240.0, 8 * 3600.0)
        jitter = rng.uniform(0.75, 1.25, size=k.shape)
        flip = (-np.arange(self.world)) % self.world
        for col in {0, k.shape[1] - 1}:
            jitter[:, col] = 0.5 * (jitter[:, col] + jitter[flip, col])
        return 1.19 / lifetime * jitter

    def spectrum(self, t_s: float) -> np.ndarray:
        """Fourier coefficients of the texture at time ``t_s`` seconds."""
        phase = np.mod(self.rate * t_s, 2.0 * np.pi).astype(np.float32)
        return self.a * np.cos(phase) + self.b * np.sin(phase)

    def field(self, t_s: float) -> np.ndarray:
        """The texture on the world grid at ``t_s``, float32 ``(world, world)``."""
        return np.fft.irfft2(self.spectrum(t_s), s=(self.world, self.world))

    def large_scale(self, t_s: float) -> np.ndarray:
        """Standardised large-scale part of the texture at ``t_s`` (steers cell births)."""
        low = np.fft.irfft2(self.spectrum(t_s) * self.steer, s=(self.world, self.world))
        return (low - low.mean()) / max(float(low.std()), 1e-6)


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


class _RainModel:
    """Computes frame ``k`` of one seed's rain field on demand (see module docstring)."""

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
        self.texture = _Texture(self.p, self.world, pixel_km, seed)
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


def synthetic_rain(
    n_frames: int,
    shape: tuple[int, int] = (128, 128),
    *,
    seed: int = 0,
    timestep_s: int = 300,
    pixel_km: float = 1.0,
    lifetime_scale: float = 1.0,
) -> np.ndarray:
    """Generate a deterministic sequence of synthetic rain-rate fields.

    Args:
        n_frames: Number of frames ``T``.
        shape: ``(ny, nx)`` of each frame, pixels.
        seed: Selects the weather regime and every random draw (>= 0).
        timestep_s: Time between frames, seconds.
        pixel_km: Pixel size, km (sets how many pixels a km/h speed covers).
        lifetime_scale: Factor on how long texture and cells live (see
            :func:`synthetic_params`); 1 gives the default fields.

    Returns:
        float32 ``(T, ny, nx)`` rain rates in mm/h: >= 0, no NaN, 0 where dry.
        Frame ``k`` does not depend on ``n_frames``.

    Raises:
        ConfigError: for a negative ``n_frames`` or seed, a bad shape,
            non-positive units or a non-positive ``lifetime_scale``.
    """
    if n_frames < 0:
        raise ConfigError(f"n_frames must be >= 0, got {n_frames}")
    shape = (int(shape[0]), int(shape[1]))
    model = _RainModel(shape, seed, timestep_s, pixel_km, lifetime_scale)
    out = np.empty((n_frames, *shape), dtype=np.float32)
    for k in range(n_frames):
        out[k] = model.frame(k)
    return out


def synthetic_grid(shape: tuple[int, int], pixel_km: float = 1.0) -> Grid:
    """The LAEA (52N 5E) grid of synthetic frames: cell centres in metres, row 0 north.

    The domain is centred on the projection origin; ``y`` decreases down the rows.
    """
    ny, nx = shape
    step = pixel_km * 1000.0
    x = (np.arange(nx) - (nx - 1) / 2.0) * step
    y = ((ny - 1) / 2.0 - np.arange(ny)) * step
    return Grid(x=x, y=y, crs=_grid_mapping(), proj4=PROJ4)


def _grid_mapping() -> dict[str, Any]:
    """CF grid-mapping attributes of :data:`PROJ4`: name, numeric parameters and ``crs_wkt``.

    pyproj's descriptive names (all "unknown" for a PROJ string) and the
    redundant ``semi_minor_axis`` are left out.
    """
    cf = CRS.from_proj4(PROJ4).to_cf()
    keep = {"grid_mapping_name", "crs_wkt"}
    return {
        key: value
        for key, value in cf.items()
        if key in keep or (isinstance(value, (int, float)) and key != "semi_minor_axis")
    }


def synthetic_frames(
    n_frames: int,
    shape: tuple[int, int] = (128, 128),
    *,
    seed: int = 0,
    timestep_s: int = 300,
    pixel_km: float = 1.0,
    start: np.datetime64 = DEFAULT_START,
    nan_border: int = 0,
) -> Iterator[Frame]:
    """Yield :func:`synthetic_rain` fields one at a time as ``rainfall_rate`` frames.

    Args:
        n_frames: Number of frames.
        shape: ``(ny, nx)`` pixels.
        seed: Seed (see :func:`synthetic_rain`).
        timestep_s: Time between frames, seconds.
        pixel_km: Pixel size, km.
        start: Valid time of the first frame (UTC).
        nan_border: Width in pixels of a no-coverage (NaN) border, to exercise
            the NaN path of readers and writers; 0 = full coverage.

    Yields:
        Frames on :func:`synthetic_grid`, valid at ``start + k * timestep_s``.

    Raises:
        ConfigError: for bad arguments (see :func:`synthetic_rain`) or a
            border that covers the whole grid.
    """
    if n_frames < 0:
        raise ConfigError(f"n_frames must be >= 0, got {n_frames}")
    shape = (int(shape[0]), int(shape[1]))
    if nan_border < 0 or 2 * nan_border >= min(shape):
        raise ConfigError(f"nan_border {nan_border} must be >= 0 and leave part of {shape}")
    model = _RainModel(shape, seed, timestep_s, pixel_km)
    grid = synthetic_grid(shape, pixel_km)
    first = np.datetime64(start, "s")
    source = f"synthetic(seed={seed})"
    for k in range(n_frames):
        values = model.frame(k)
        if nan_border:
            b = nan_border
            values[:b, :] = np.nan
            values[-b:, :] = np.nan
            values[:, :b] = np.nan
            values[:, -b:] = np.nan
        time = first + np.timedelta64(k * timestep_s, "s")
        yield Frame(time=time, values=values, grid=grid, variable=RAIN, source=source)
