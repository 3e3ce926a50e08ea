"""The weather regime of one synthetic-rain seed: :class:`SyntheticParams`.

A seed's regime (speed, heading, rotation, spectrum, cell statistics, wet
fraction) is drawn here, from its own random stream, apart from the field
machinery in :mod:`nowcast.synthetic.model`. Keeping the draws in one place
makes it plain that they depend on the seed alone, and lets callers ask what a
seed means without building a rain field. :mod:`nowcast.synthetic.generate` re-exports
the public names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nowcast.errors import ConfigError


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
    stratiform rain; experiments in docs/lab/skill-notebook.md §5).

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
