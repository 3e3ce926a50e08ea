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

The public functions are here; the regime drawn for a seed lives in
:mod:`nowcast.synthetic.params`, the texture in
:mod:`nowcast.synthetic.texture`, and motion, cells and rates in
:mod:`nowcast.synthetic.model`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from pyproj import CRS

from nowcast.errors import ConfigError
from nowcast.io.cf import RAIN
from nowcast.io.grid import Frame, Grid
from nowcast.synthetic.model import EDGE_RATE, RainModel
from nowcast.synthetic.params import SyntheticParams, synthetic_params

__all__ = [
    "DEFAULT_START",
    "EDGE_RATE",
    "PROJ4",
    "SyntheticParams",
    "synthetic_frames",
    "synthetic_grid",
    "synthetic_params",
    "synthetic_rain",
]

#: PROJ string of the synthetic grid: Lambert azimuthal equal-area centred on 52N 5E.
PROJ4 = "+proj=laea +lat_0=52 +lon_0=5 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
#: Default valid time of the first synthetic frame.
DEFAULT_START = np.datetime64("2024-06-01T12:00:00", "s")


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
    model = RainModel(shape, seed, timestep_s, pixel_km, lifetime_scale)
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
    model = RainModel(shape, seed, timestep_s, pixel_km)
    grid = synthetic_grid(shape, pixel_km)
    first = np.datetime64(start).astype("datetime64[s]")
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
