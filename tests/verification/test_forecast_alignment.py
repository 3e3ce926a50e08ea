"""``evaluate --forecast``: the forecast is placed on the observations' grid before it is scored.

A perfect forecast (the observed frames themselves) scores CSI 1 only where it lies on the
observations' cells: shifted or in another projection it is refused, stored south-up or
east-to-west it is flipped back; lead times without observations are reported, not dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.errors import InputError
from nowcast.io.grid import Grid
from nowcast.io.projection import cf_grid_mapping
from nowcast.io.writers import ForecastWriter
from nowcast.verification import outputs
from nowcast.verification.evaluate import EvaluateRequest, EvaluateResult, run_evaluation
from tests.forecasting.conftest import rain_stack
from tests.helpers import T0, write_canonical

runner = CliRunner()
STEP = np.timedelta64(300, "s")
OBS_FRAMES = 8
REFERENCE = 3  # index of the forecast's reference time in the observations


@pytest.fixture(autouse=True)
def no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip drawing PNGs: these tests check scores, notes and messages."""

    def placeholder(*args: object, **kwargs: object) -> Path:
        path = next(a for a in args if isinstance(a, Path))
        path.write_bytes(b"")
        return path

    monkeypatch.setattr(outputs, "plot_score_vs_lead", placeholder)
    monkeypatch.setattr(outputs, "plot_example", placeholder)


@pytest.fixture(scope="module")
def observed() -> tuple[np.ndarray, Grid]:
    """8 rain frames from T0 on a 24 x 28 north-up LAEA grid."""
    return rain_stack(OBS_FRAMES)


@pytest.fixture
def obs_file(tmp_path: Path, observed: tuple[np.ndarray, Grid]) -> Path:
    fields, grid = observed
    return write_canonical(tmp_path / "obs.nc", fields, grid)


def _write(path: Path, fields: np.ndarray, grid: Grid, leads: int | None = None) -> Path:
    """A forecast file from the reference time, one field per lead (``leads`` valid times)."""
    ref = T0 + REFERENCE * STEP
    valid = ref + STEP * np.arange(1, (leads or len(fields)) + 1)
    with ForecastWriter(path, grid, "rainfall_rate", ref, valid) as writer:
        for k in range(valid.size):
            writer.write_step(k, fields[min(k, len(fields) - 1)])
    return path


def _perfect(observed: tuple[np.ndarray, Grid]) -> np.ndarray:
    """The four observed frames after the reference time: a perfect forecast."""
    return observed[0][REFERENCE + 1 : REFERENCE + 5]


def _evaluate(forecast: Path, obs: Path, tmp_path: Path) -> EvaluateResult:
    request = EvaluateRequest(forecast=forecast, obs=obs, baselines=[], output_dir=tmp_path / "ev")
    return run_evaluation(request)


def _csi(result: EvaluateResult) -> list[float]:
    return [float(r["csi"]) for r in result.categorical if r["threshold"] == 1.0]


def test_a_perfect_forecast_on_the_same_grid_scores_csi_1(
    tmp_path: Path, obs_file: Path, observed: tuple[np.ndarray, Grid]
) -> None:
    fc = _write(tmp_path / "fc.nc", _perfect(observed), observed[1])
    result = _evaluate(fc, obs_file, tmp_path)
    assert _csi(result) == [1.0] * 4 and result.evaluation.notes == []


def test_a_forecast_shifted_by_500_km_is_refused(
    tmp_path: Path, obs_file: Path, observed: tuple[np.ndarray, Grid]
) -> None:
    grid = observed[1]
    shifted = Grid(x=grid.x + 500e3, y=grid.y, crs=grid.crs, proj4=grid.proj4)
    fc = _write(tmp_path / "fc.nc", _perfect(observed), shifted)
    with pytest.raises(InputError, match=r"x coordinates differ .* by up to 500000 m"):
        _evaluate(fc, obs_file, tmp_path)


def test_a_forecast_in_another_projection_is_refused(
    tmp_path: Path, obs_file: Path, observed: tuple[np.ndarray, Grid]
) -> None:
    other = "+proj=laea +lat_0=40 +lon_0=5 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    grid = observed[1]
    moved = Grid(x=grid.x, y=grid.y, crs=cf_grid_mapping(other), proj4=other)
    fc = _write(tmp_path / "fc.nc", _perfect(observed), moved)
    with pytest.raises(InputError, match="projection .* differs from the observations'"):
        _evaluate(fc, obs_file, tmp_path)


def test_a_forecast_stored_south_up_and_east_to_west_is_flipped_back(
    tmp_path: Path, obs_file: Path, observed: tuple[np.ndarray, Grid]
) -> None:
    grid = observed[1]
    turned = Grid(x=grid.x[::-1], y=grid.y[::-1], crs=grid.crs, proj4=grid.proj4)
    fc = _write(tmp_path / "fc.nc", _perfect(observed)[:, ::-1, ::-1], turned)
    result = _evaluate(fc, obs_file, tmp_path)
    assert _csi(result) == [1.0] * 4
    assert result.evaluation.notes == [
        "fc.nc: y runs the other way; flipped to the observations'",
        "fc.nc: x runs the other way; flipped to the observations'",
    ]


def test_a_forecast_stored_as_time_x_y_is_transposed(
    tmp_path: Path, obs_file: Path, observed: tuple[np.ndarray, Grid]
) -> None:
    grid, perfect = observed[1], _perfect(observed)
    fc = tmp_path / "fc.nc"
    with netCDF4.Dataset(fc, "w") as nc:
        for name, size in (("time", 4), ("x", grid.x.size), ("y", grid.y.size)):
            nc.createDimension(name, size)
        for axis, values in (("x", grid.x / 1000), ("y", grid.y / 1000)):  # in km
            var = nc.createVariable(axis, "f8", (axis,))
            var.setncatts({"standard_name": f"projection_{axis}_coordinate", "units": "km"})
            var[:] = values
        nc.createVariable("crs", "i4").setncatts(grid.crs or {})
        time = nc.createVariable("time", "i8", ("time",))
        time.units = "seconds since 2024-06-01 12:15:00"
        time[:] = 300 * np.arange(1, 5)
        rain = nc.createVariable("rainfall_rate", "f4", ("time", "x", "y"))
        rain.setncatts({"standard_name": "rainfall_rate", "units": "mm h-1", "grid_mapping": "crs"})
        rain[:] = np.ma.masked_invalid(perfect.transpose(0, 2, 1))
    result = _evaluate(fc, obs_file, tmp_path)
    assert _csi(result) == [1.0] * 4 and result.evaluation.notes == []


def test_lead_times_without_observations_are_reported(
    tmp_path: Path, obs_file: Path, observed: tuple[np.ndarray, Grid]
) -> None:
    fc = _write(tmp_path / "fc.nc", _perfect(observed), observed[1], leads=6)  # 2 past the end
    result = runner.invoke(
        app,
        ["evaluate", "--forecast", str(fc), "--obs", str(obs_file), "--baselines", "none"]
        + ["--output-dir", str(tmp_path / "ev")],
    )
    assert result.exit_code == 0, result.output
    note = (
        "fc.nc: 2 of 6 lead times not scored (25-30 min): no observed frame at "
        "2024-06-01T12:40:00Z (scores stop at the first lead time without one)"
    )
    assert f"note: {note}" in " ".join(result.stderr.split())
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert summary["notes"] == [note] and summary["lead_times_s"] == [300, 600, 900, 1200]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--thresholds", "0,1", "--thresholds must be numbers > 0, got 0, 1"),
        ("--thresholds", "-1", "--thresholds must be numbers > 0, got -1"),
        ("--thresholds", "nan", "--thresholds must be numbers > 0, got nan"),
        ("--scales", "0", "--scales must be numbers > 0, got 0"),
        ("--scales", "5,inf", "--scales must be numbers > 0, got 5, inf"),
        ("--scales", "five", "--scales must be comma-separated numbers, got 'five'"),
    ],
)
def test_thresholds_and_scales_must_be_positive(option: str, value: str, message: str) -> None:
    result = runner.invoke(app, ["evaluate", "--forecast", "fc.nc", "--obs", "o.nc", option, value])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {message}"


def test_a_forecast_time_without_units_is_one_input_error(
    tmp_path: Path, obs_file: Path, observed: tuple[np.ndarray, Grid]
) -> None:
    fc = _write(tmp_path / "fc.nc", _perfect(observed), observed[1])
    with netCDF4.Dataset(fc, "a") as nc:
        nc["time"].delncattr("units")
    result = runner.invoke(app, ["evaluate", "--forecast", str(fc), "--obs", str(obs_file)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (  # after the progress bar
        f"error: {fc}: time variable 'time' has no 'units since epoch' ('')"
    )
