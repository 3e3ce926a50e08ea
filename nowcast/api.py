"""The Python API: ingest, load a model, forecast and evaluate, with xarray objects.

Each function makes the library call of its command (``nowcast ingest``,
``forecast``, ``evaluate``), so a forecast made here is the command's forecast,
bit for bit. xarray objects come in and go out in the layouts of the files:

* observations: the canonical layout (``rainfall_rate(time, y, x)`` in mm h-1,
  or ``intensity``; NaN = no coverage; the ``crs`` grid mapping), as
  :func:`ingest` returns it, or a file or raw radar files by path;
* a forecast: the forecast file's layout (docs/forecast.md);
* scores: one Dataset of every score by model, lead time and threshold.

An xarray object given as observations is written to a temporary NetCDF file
and read like a file given to the commands, so the same checks apply to both;
results are loaded into memory and their temporary files removed.
:func:`ingest` and :func:`sample_path` do not import torch. The top-level
package exposes these functions (``nowcast.forecast``, ...) on first use.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import xarray as xr

from nowcast.errors import ConfigError
from nowcast.io.grid import parse_utc, to_datetime64
from nowcast.io.ingest.pipeline import ingest as ingest_files
from nowcast.synthetic.sample import sample_path

if TYPE_CHECKING:
    from nowcast.forecasting.model_choice import LoadedModel
    from nowcast.verification.evaluate import EvaluateResult

__all__ = ["evaluate", "forecast", "ingest", "load_model", "sample_path"]

#: A file or folder path, or a glob.
FilePath: TypeAlias = "str | os.PathLike[str]"
#: Observations: an xarray object in the canonical layout, or a file as the commands take it.
ObservationsLike: TypeAlias = "xr.Dataset | xr.DataArray | FilePath"
#: A UTC time: ISO text (``2024-06-01T17:00``), numpy or naive (UTC) or aware datetime.
TimeLike: TypeAlias = "str | np.datetime64 | datetime"

_HISTORY = "nowcast Python API ({})"


def ingest(
    sources: FilePath | Sequence[FilePath],
    output: FilePath | None = None,
    *,
    fmt: str = "auto",
    overwrite: bool = False,
) -> xr.Dataset:
    """Read raw radar files into one canonical dataset, as ``nowcast ingest`` does.

    Args:
        sources: Files, folders or globs of ODIM_H5, KNMI HDF5, CF NetCDF or
            Moving MNIST files.
        output: Also keep the canonical file here; ``None`` keeps no file.
        fmt: Reader name, or ``auto`` to detect it from each file.
        overwrite: Replace ``output`` if it exists.

    Returns:
        The canonical dataset, in memory (its ``crs`` a coordinate, so a
        DataArray taken from it keeps its projection).

    Raises:
        InputError, CanonicalDataError, OutputExistsError, OutputError: as the command.
    """
    with _scratch() as folder:
        path = Path(output) if output is not None else folder / "canonical.nc"
        ingest_files(
            _paths(sources), path, fmt=fmt, overwrite=overwrite, history=_HISTORY.format("ingest")
        )
        return _loaded(path)


def load_model(
    model: FilePath | None = None, *, device: str = "auto", frame: str | None = None
) -> LoadedModel:
    """A checkpoint ready for :func:`forecast`: network, intensity transform, lengths, cadence.

    Args:
        model: A checkpoint, a run folder or ``default`` (the bundled model);
            ``None`` is the newest run under ``runs/`` here, else the bundled model.
        device: ``auto`` (a GPU when there is one), ``cpu``, ``cuda`` or ``cuda:N``.
        frame: ``eulerian`` or ``lagrangian`` to run it in another frame than its own.

    Raises:
        CheckpointError, ConfigError: for an unusable checkpoint or device.
    """
    from nowcast.forecasting import model_choice
    from nowcast.models.device import select_device

    path = model_choice.resolve_model(None if model is None else os.fspath(model))
    return model_choice.load_model(path, select_device(device), frame)


def forecast(
    observations: ObservationsLike | Sequence[FilePath],
    steps: int = 12,
    *,
    model: LoadedModel | FilePath | None = None,
    at: TimeLike | None = None,
    device: str = "auto",
    scale_km: float | None = None,
    frame: str | None = None,
    tile: int = 768,
    members: int = 0,
    probabilities: Sequence[float] = (),
    seed: int = 0,
) -> xr.Dataset:
    """Forecast the next ``steps`` frames, as ``nowcast forecast`` does.

    Args:
        observations: The latest frames (at least the model's input length); raw
            radar files too, by path, as the command takes them.
        steps: Lead times (>= 1), one per step of the data's cadence.
        model: A model from :func:`load_model` (moved to ``device``), or what
            :func:`load_model` takes.
        at: Start from the last frame at or before this UTC time; ``None`` = the last frame.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        scale_km: Working grid in km; ``None`` = the model's own, 0 = the data's grid.
        frame: ``eulerian`` or ``lagrangian``; ``None`` = the model's own.
        tile: Tile side in pixels (bounds memory on large grids).
        members: Equally likely ensemble members beside the deterministic
            forecast (``--members``): 0 for none, else at least 2.
        probabilities: Thresholds (the variable's units, each > 0) whose
            exceedance probability, from the members, is added
            (``--probabilities``); needs ``members``.
        seed: Seed of the members' noise (``--seed``): the same seed, the same members.

    Returns:
        The forecast in the layout of the forecast file, in memory: with
        ``members``, the ensemble layout (``rainfall_rate(realization, time, y, x)``,
        ``rainfall_rate_deterministic(time, y, x)`` and, with ``probabilities``,
        ``probability_of_rainfall_rate_above_threshold(threshold, time, y, x)``).
        A cadence that differs from the model's is a ``UserWarning``.

    Raises:
        InputError, CheckpointError, ConfigError: as the command (a ``ConfigError``
            too for 1 or fewer than 0 members, or probabilities without members).
    """
    from nowcast.forecasting.model_choice import LoadedModel
    from nowcast.forecasting.request import ForecastRequest, forecast_request

    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    loaded = model if isinstance(model, LoadedModel) else None
    spec = None if isinstance(model, LoadedModel) or model is None else os.fspath(model)
    with _scratch() as folder:
        request = ForecastRequest(
            inputs=_inputs(observations, folder),
            steps=steps,
            model=spec,
            output=folder / "forecast.nc",
            at=None if at is None else _utc(at),
            device=device,
            tile=tile,
            scale_km=scale_km,
            frame=frame,
            history=_HISTORY.format("forecast"),
            members=members,
            probabilities=tuple(float(t) for t in probabilities),
            seed=seed,
        )
        outcome = forecast_request(request, on_warning=_warn, model=loaded)
        return _loaded(outcome.summary.path)


def evaluate(
    observations: ObservationsLike | None = None,
    models: FilePath | Sequence[FilePath] | None = None,
    *,
    steps: int | None = None,
    baselines: Sequence[str] = ("persistence", "extrapolation"),
    thresholds: Sequence[float] | None = None,
    scales_km: Sequence[float] = (1.0, 5.0, 10.0, 20.0),
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    max_starts: int = 0,
    device: str = "auto",
    scale_km: float | None = None,
    frame: str | None = None,
    members: int = 0,
) -> xr.Dataset:
    """Score models and baselines over many start times, as ``nowcast evaluate`` does.

    Args:
        observations: Frames to start from and score against; ``None`` = the
            first model's test split, or the bundled sample for the bundled model.
        models: Checkpoints or run folders (``default`` = the bundled model);
            ``None`` = the newest run under ``runs/`` here, else the bundled model.
        steps: Lead times to score (default: the longest model output).
        baselines: ``persistence`` and/or ``extrapolation`` (pySTEPS).
        thresholds: Event thresholds, mm h-1 (default 0.5, 1, 5, 10; 0.1, 0.5 for intensity).
        scales_km: FSS neighbourhood sides, km (pixels on pixel grids).
        start: First start time to score (UTC).
        end: Last verifying time to score (UTC).
        max_starts: Score at most this many start times, evenly spread (0 = all).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        scale_km: Working grid of the models in km; ``None`` = each model's own.
        frame: ``eulerian`` or ``lagrangian``; ``None`` = each model's own.
        members: Ensemble members per forecast (``--members``): 0 for
            deterministic scores only, else at least 2; each model (and the
            ``steps`` baseline, when in ``baselines``) then forecasts that many
            members once per start time for the probabilistic scores.

    Returns:
        Scores pooled over start times and pixels, dimensions ``model`` (the
        models' names, then the baselines'), ``lead_time`` and ``threshold``:
        contingency counts, ``csi``, ``pod``, ``far``, ``frequency_bias``,
        ``ets``, ``hss`` and ``fss_<scale>km`` per threshold; ``mse``,
        ``rmse``, ``mae``, ``bias`` (mean error) and ``corr`` per lead time
        (docs/evaluation.md); ``crps`` and ``spread_skill`` per lead time,
        NaN without ``members`` and for a method that forecasts none.
        Attributes: the start-time count and the notes the command prints.

    Raises:
        InputError, CheckpointError, ConfigError: as the command (a
            ``ConfigError`` too for ``members`` of 1 or below 0).
    """
    from nowcast.verification.evaluate import EvaluateRequest, run_evaluation

    with _scratch() as folder:
        request = EvaluateRequest(
            models=[] if models is None else _paths(models),
            data=None if observations is None else Path(_inputs(observations, folder)[0]),
            steps=steps,
            thresholds=None if thresholds is None else list(thresholds),
            scales_km=list(scales_km),
            baselines=list(baselines),
            start=None if start is None else _utc(start),
            end=None if end is None else _utc(end),
            max_starts=max_starts,
            output_dir=None,
            device=device,
            scale_km=scale_km,
            frame=frame,
            members=members,
        )
        return scores_dataset(run_evaluation(request))


def scores_dataset(result: EvaluateResult) -> xr.Dataset:
    """The rows of an evaluation as one Dataset over ``model``, ``lead_time`` and ``threshold``.

    The rows' ``method`` becomes the dimension ``model``: ``method`` is a keyword
    of xarray's ``sel``, so a dimension of that name could not be selected by keyword.
    """
    categorical = _pivot(result.categorical, ("method", "lead_time_s", "threshold"))
    continuous = _pivot(result.continuous, ("method", "lead_time_s"))
    scores = xr.merge([categorical.rename(bias="frequency_bias"), continuous])
    lead = np.asarray(scores["lead_time_s"].values, dtype="timedelta64[s]")
    scores = scores.rename(method="model", lead_time_s="lead_time").assign_coords(lead_time=lead)
    scores["threshold"].attrs["units"] = "mm h-1"
    evaluation = result.evaluation
    scores.attrs = {
        "n_start_times": int(evaluation.start_times.size),
        "notes": "; ".join(evaluation.notes),
    }
    return scores


def _pivot(rows: Sequence[Mapping[str, Any]], dims: tuple[str, ...]) -> xr.Dataset:
    """Tidy rows (one per method, lead...) as arrays over ``dims``; NaN where a row is missing."""
    coords = {dim: list(dict.fromkeys(row[dim] for row in rows)) for dim in dims}
    shape = tuple(len(coords[dim]) for dim in dims)
    names = [name for name in rows[0] if name not in dims] if rows else []
    arrays = {name: np.full(shape, np.nan) for name in names}
    for row in rows:
        index = tuple(coords[dim].index(row[dim]) for dim in dims)
        for name in names:
            arrays[name][index] = np.nan if row[name] is None else row[name]
    return xr.Dataset({name: (dims, values) for name, values in arrays.items()}, coords=coords)


@contextmanager
def _scratch() -> Iterator[Path]:
    """A temporary folder for the files the commands' library calls read and write."""
    with tempfile.TemporaryDirectory(prefix="nowcast-") as folder:
        yield Path(folder)


def _paths(items: FilePath | Sequence[FilePath]) -> list[str]:
    """One path or several, as the strings the commands take."""
    if isinstance(items, (str, os.PathLike)):
        return [os.fspath(items)]
    return [os.fspath(item) for item in items]


def _inputs(observations: ObservationsLike | Sequence[FilePath], folder: Path) -> list[str]:
    """Files to read the observations from: paths as given, xarray objects written to ``folder``."""
    if isinstance(observations, (xr.Dataset, xr.DataArray)):
        path = folder / "observations.nc"
        observations.to_netcdf(path)
        return [str(path)]
    return _paths(observations)


def _loaded(path: Path) -> xr.Dataset:
    """The NetCDF file at ``path`` in memory, the file closed (``crs`` as a coordinate)."""
    with xr.open_dataset(path, decode_coords="all") as dataset:
        return dataset.load()


def _utc(value: TimeLike) -> np.datetime64:
    """A UTC time as ``datetime64[s]`` (ISO text parsed like the commands' ``--at``)."""
    return parse_utc(value, "time") if isinstance(value, str) else to_datetime64(value)


def _warn(text: str) -> None:
    warnings.warn(text, UserWarning, stacklevel=4)
