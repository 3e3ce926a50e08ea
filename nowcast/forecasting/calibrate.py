"""``nowcast calibrate`` as a library call: fit a model's blend weights on observed sequences.

The model forecasts from many start times of each data set, exactly as
``nowcast forecast`` would; the least-squares sums of
:mod:`nowcast.forecasting.blend` are pooled with each data set counting
equally, and the fitted weights are written into a copy of the checkpoint.
No weight of the network changes, so calibrating takes forward passes only
(about as long as scoring the same start times with ``nowcast evaluate``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nowcast.data.observations import Observations, load_observations, thin_starts, valid_starts
from nowcast.errors import InputError
from nowcast.forecasting.blend import BlendSums, BlendWeights, fit_weights
from nowcast.forecasting.model_choice import LoadedModel, load_model, resolve_model
from nowcast.forecasting.run import check_variable, forecast_components
from nowcast.forecasting.scale import working_factor
from nowcast.io.writers.atomic import check_output
from nowcast.models.device import select_device


@dataclass
class Calibration:
    """Fitted weights and the MSE per lead they give on the calibration data.

    Attributes:
        weights: The fitted blend weights.
        starts: Start times used, per data set.
        mse_network: MSE per lead of the network's forecast without detail (gain 1, detail 0).
        mse_calibrated: MSE per lead with the fitted weights.
        Both MSE are means over the data sets (each counting equally), in the
        variable's units squared.
    """

    weights: BlendWeights
    starts: list[int]
    mse_network: np.ndarray
    mse_calibrated: np.ndarray


def calibrate(
    loaded: LoadedModel,
    sources: Sequence[Observations],
    *,
    device: torch.device,
    max_starts: int = 12,
    scale_km: float | None = None,
    on_start: Callable[[int, int], Any] | None = None,
) -> Calibration:
    """Fit the blend weights of ``loaded`` for its output length on ``sources``.

    Each source contributes at most ``max_starts`` start times, evenly spread
    (0 = all), on the working grid ``scale_km`` would give a forecast.

    Raises:
        InputError: a source of another variable, or one without a single
            start time with ``in_len`` inputs and ``out_len`` verifying frames.
    """
    steps = loaded.out_len
    plan = []
    for obs in sources:
        check_variable(obs, loaded)
        starts = thin_starts(valid_starts(obs, loaded.in_len, steps), max_starts)
        if starts.size == 0:
            raise InputError(
                f"no start time in {obs.source} has {loaded.in_len} input "
                f"and {steps} verifying frames"
            )
        plan.append((obs, starts, working_factor(obs.grid, scale_km, loaded.scale_km)))
    total, done = sum(starts.size for _, starts, _ in plan), 0
    sums = []
    for obs, starts, factor in plan:
        acc = BlendSums(steps)
        for start in starts:
            raw = obs.read(np.arange(start - loaded.in_len + 1, start + 1))
            observed = obs.read(np.arange(start + 1, start + 1 + steps))
            observed[:, np.isnan(raw[-1])] = np.nan  # forecasts are NaN there
            acc.update(
                forecast_components(loaded, raw, steps, device=device, factor=factor), observed
            )
            done += 1
            if on_start:
                on_start(done, total)
        sums.append(acc)
    weights = fit_weights(sums)
    full = BlendWeights((1.0,) * steps, (0.0,) * steps)
    return Calibration(
        weights,
        [int(starts.size) for _, starts, _ in plan],
        np.mean([s.mse(full) for s in sums], axis=0),
        np.mean([s.mse(weights) for s in sums], axis=0),
    )


def calibrate_files(
    data: Sequence[Path],
    output: Path,
    *,
    model: str | None = None,
    device: str = "auto",
    max_starts: int = 12,
    scale_km: float | None = None,
    overwrite: bool = False,
    on_start: Callable[[int, int], Any] | None = None,
) -> Calibration:
    """``nowcast calibrate``: fit the weights of ``model`` on the files ``data``, write ``output``.

    Args:
        data: Canonical files to fit on, each counting equally.
        output: The calibrated checkpoint to write (checked before any work).
        model: Checkpoint, run folder or ``default`` (see
            :func:`~nowcast.forecasting.model_choice.resolve_model`).
        device: ``auto``, ``cpu`` or ``cuda``.
        max_starts: Start times per file, evenly spread (0 = all).
        scale_km: Working grid in km; ``None`` = the model's own, 0 = the data's grid.
        overwrite: Replace ``output`` if it exists.
        on_start: Called as ``on_start(done, total)`` after each start time.

    Raises:
        OutputExistsError, InputError, CheckpointError, ConfigError: for an
            existing output, unusable data, model or device.
        OutputError: when ``output`` is one of the data files or the model, or
            cannot be written.
    """
    checkpoint = resolve_model(model)
    check_output(output, overwrite, [*data, checkpoint])
    sources = [load_observations([str(path)]) for path in data]
    torch_device = select_device(device)
    loaded = load_model(checkpoint, torch_device)
    result = calibrate(
        loaded,
        sources,
        device=torch_device,
        max_starts=max_starts,
        scale_km=scale_km,
        on_start=on_start,
    )
    write_calibrated(loaded.path, output, result, [str(path) for path in data], overwrite)
    return result


def write_calibrated(
    source: Path,
    target: Path,
    calibration: Calibration,
    data: Sequence[str],
    overwrite: bool = True,
) -> Path:
    """Copy the checkpoint ``source`` to ``target`` with the weights in ``forecast.blend``.

    What the weights were fitted on (files and start times) is recorded with them.
    ``overwrite`` False refuses a ``target`` that exists by the time it is written.
    """
    from nowcast.training.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(source)
    settings = dict(ckpt.get("forecast") or {})
    settings["blend"] = {
        **calibration.weights.to_dict(),
        "fitted_on": [str(d) for d in data],
        "starts": list(calibration.starts),
    }
    ckpt["forecast"] = settings
    return save_checkpoint(target, ckpt, overwrite=overwrite)
