"""pySTEPS' STEPS ensemble nowcast as a reference forecast (the ``steps`` baseline).

STEPS (Bowler, Pierce and Seed 2006; Seed, Pierce and Norman 2013) splits the
rain field in dBR into a cascade of spatial scales, lets each scale evolve
with an AR(2) model in the frame moving with the rain, and adds stochastic
noise and motion perturbations, so that every member is an equally likely
future. It is run here as pySTEPS' own example (``plot_steps_nowcast.py``)
runs it: the last three frames in dBR (dry pixels and no-coverage at the
floor), Lucas-Kanade motion, ``pysteps.nowcasts.steps.forecast`` with its
documented defaults, and the members back in mm h-1. Needs the optional extra
``pip install "nowcast[baselines]"`` (pysteps and OpenCV).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
import io
import math
import warnings
from types import ModuleType
from typing import Any

import numpy as np

from nowcast.errors import ConfigError, InputError, NowcastError
from nowcast.verification.baselines import (
    DBR_FLOOR,
    INSTALL_HINT,
    RAIN_THRESHOLD,
    check_steps,
    float_dtype,
    lk_motion,
    rain_to_dbr,
)

#: Observed frames STEPS starts from: its default AR(2) model needs ``ar_order + 1``.
STEPS_FRAMES = 3
#: Seed of pySTEPS' noise and motion perturbations: the seed of pySTEPS' example,
#: fixed so that an evaluation gives the same members every time it is run.
STEPS_SEED = 24
#: dBR of :data:`RAIN_THRESHOLD` (-10): STEPS' ``precip_thr``; weaker members are dry.
PRECIP_THR_DBR = 10.0 * math.log10(RAIN_THRESHOLD)
#: pySTEPS' defaults recorded as provenance (read from the installed version).
RECORDED_DEFAULTS = (
    "n_cascade_levels",
    "ar_order",
    "noise_method",
    "vel_pert_method",
    "mask_method",
    "probmatching_method",
)


class StepsFitError(InputError):
    """pySTEPS could not fit STEPS to the input frames.

    Its AR model or noise statistics are undefined for scenes whose rain
    neither moves nor changes (identical frames, uniform rain, a single pixel).
    """


def _steps_module() -> ModuleType:
    """Import ``pysteps.nowcasts.steps`` without pySTEPS' start-up print.

    Raises:
        NowcastError: If pysteps cannot be imported, with the install hint.
    """
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from pysteps.nowcasts import steps
    except ImportError as exc:  # pysteps is the optional "baselines" extra
        raise NowcastError(
            f"the steps baseline needs pysteps ({exc.name or exc} is missing): {INSTALL_HINT}"
        ) from exc
    return steps


def steps_provenance(members: int, pixel_km: float, seed: int = STEPS_SEED) -> dict[str, Any]:
    """What ``summary.json`` records about the STEPS baseline.

    The pySTEPS settings left at their defaults are read from the installed
    ``steps.forecast`` itself, so the record stays true for the version used.
    """
    parameters = inspect.signature(_steps_module().forecast).parameters
    return {
        "library": "pysteps STEPS (Lucas-Kanade motion)",
        "version": importlib.metadata.version("pysteps"),
        "members": int(members),
        **{name: parameters[name].default for name in RECORDED_DEFAULTS},
        "precip_thr_dbr": PRECIP_THR_DBR,
        "kmperpixel": float(pixel_km),
        "seed": int(seed),
        "deterministic": "ensemble mean",
    }


def steps_forecast(
    frames: np.ndarray,
    steps: int,
    members: int,
    *,
    timestep_s: float,
    pixel_km: float,
    seed: int = STEPS_SEED,
) -> np.ndarray:
    """An ensemble of equally likely futures from pySTEPS' STEPS.

    The last :data:`STEPS_FRAMES` frames go to pySTEPS in dBR
    (:func:`~nowcast.verification.baselines.rain_to_dbr`: ``10 log10 R``, drier
    than 0.1 mm h-1 and no-coverage at -15 dBR, as in pySTEPS' example), with
    their Lucas-Kanade motion. ``steps.forecast`` runs with its defaults for
    everything else (cascade levels, noise, motion perturbations, probability
    matching, mask) and ``precip_thr`` -10 dBR. Members are turned back into
    mm h-1, below 0.1 mm h-1 set to 0. Pixels without coverage in the last
    frame are NaN; covered pixels that pySTEPS leaves NaN (rain advected in
    from outside the grid) count as no rain, as for the extrapolation baseline.
    A last frame without rain gives dry members without calling pySTEPS.

    Args:
        frames: Rain rates ``(T, ny, nx)``, ``T >= 3``, mm h-1, NaN = no data.
        steps: Number of lead times (one input time step each).
        members: Ensemble members, at least 1.
        timestep_s: Time between frames, seconds (STEPS' motion perturbations
            and mask growth are in physical units).
        pixel_km: Grid spacing, km; 1 for pixel grids without metres.
        seed: Seed of the noise and motion perturbations: the same seed gives
            the same members.

    Returns:
        Rain rates ``(members, steps, ny, nx)`` in the dtype of ``frames``
        (float64 for integer input).

    Raises:
        InputError: If ``frames`` is not a sequence of at least three 2-D frames.
        StepsFitError: If pySTEPS cannot fit STEPS to these frames.
        ConfigError: If ``steps`` or ``members`` is below 1, or the time step or
            the grid spacing is not > 0.
        NowcastError: If pysteps or OpenCV is missing (with the install hint).
    """
    data = np.asarray(frames)
    if data.ndim != 3 or data.shape[0] < STEPS_FRAMES:
        raise InputError(
            f"the steps baseline needs frames (T >= {STEPS_FRAMES}, ny, nx), got shape {data.shape}"
        )
    n_steps, n_members = check_steps(steps), _check_settings(members, timestep_s, pixel_km)
    inputs = data[-STEPS_FRAMES:].astype(np.float64)
    coverage = np.isfinite(inputs[-1])
    shape = (n_members, n_steps, *coverage.shape)
    if not (inputs[-1][coverage] >= RAIN_THRESHOLD).any():
        rain = np.zeros(shape)
    else:
        options = {"kmperpixel": float(pixel_km), "timestep": timestep_s / 60.0, "seed": seed}
        rain = _dbr_to_rain(_run_steps(inputs, n_steps, n_members, options))
    rain[..., ~coverage] = np.nan
    return rain.astype(float_dtype(data), copy=False)


def _check_settings(members: int, timestep_s: float, pixel_km: float) -> int:
    """``members`` as an int; ConfigError for fewer than 1 member or a spacing not > 0."""
    if int(members) < 1:
        raise ConfigError(f"the steps baseline needs at least 1 member, got {members}")
    if not (timestep_s > 0 and pixel_km > 0):
        raise ConfigError(
            f"the steps baseline needs a time step and a grid spacing > 0, "
            f"got {timestep_s} s and {pixel_km} km"
        )
    return int(members)


def _run_steps(inputs: np.ndarray, steps: int, members: int, options: dict[str, Any]) -> np.ndarray:
    """Motion and STEPS on rain rates ``(3, ny, nx)``: members ``(M, steps, ny, nx)`` in dBR.

    pySTEPS prints its progress and, on degenerate scenes, numpy warnings
    before it fails or carries on; both are silenced (a scoring run would
    repeat them at every start time). pySTEPS seeds numpy's global random
    generator, which is restored afterwards so that nothing else changes.

    Raises:
        StepsFitError: pySTEPS raised ValueError (numpy's LinAlgError included).
    """
    module = _steps_module()
    state = np.random.get_state()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            velocity = lk_motion(inputs)
            dbr = rain_to_dbr(inputs)
            dbr[np.isnan(dbr)] = DBR_FLOOR
            return module.forecast(
                dbr,
                velocity,
                steps,
                n_ens_members=members,
                precip_thr=PRECIP_THR_DBR,
                num_workers=1,
                **options,
            )
    except ValueError as exc:
        raise StepsFitError(f"pySTEPS' STEPS cannot forecast from these frames: {exc}") from exc
    finally:
        np.random.set_state(state)


def _dbr_to_rain(dbr: np.ndarray) -> np.ndarray:
    """Members in dBR to mm h-1 in place: below -10 dBR (0.1 mm h-1) and NaN become 0."""
    wet = dbr >= PRECIP_THR_DBR
    dbr /= 10.0
    np.power(10.0, dbr, out=dbr)
    dbr[~wet] = 0.0
    return dbr
