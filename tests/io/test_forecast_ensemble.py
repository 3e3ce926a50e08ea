"""The ensemble forecast file (docs/forecast.md, "Ensemble forecasts"): written, checked, read.

Members, deterministic field and exceedance probabilities round-trip; the probabilities are
exactly the fraction of members at or above each threshold, NaN without coverage; the file
passes the CF checker; ensemble files of other tools, (time, realization, y, x) included, are
read; a file without members is exactly the deterministic file.
"""

from __future__ import annotations

import json
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from nowcast.errors import InputError
from nowcast.io.grid import Grid
from nowcast.io.writers import ForecastWriter
from nowcast.io.writers.forecast import read_forecast
from tests.helpers import laea_grid, rain_frames

REF = np.datetime64("2024-06-01T12:00:00", "s")
STEPS, MEMBERS = 3, 5
THRESHOLDS = (5.0, 0.5, 1.0)  # given unsorted: stored ascending
ENSEMBLE = {
    "members": MEMBERS,
    "thresholds": THRESHOLDS,
    "ensemble_method": "test: deterministic field times random factors",
    "deterministic_long_name": "Ensemble mean of nowcast of rainfall rate",
    "deterministic_is_mean": True,
}
PROB = "probability_of_rainfall_rate_above_threshold"


def _valid(steps: int = STEPS) -> np.ndarray:
    return REF + np.timedelta64(300, "s") * np.arange(1, steps + 1)


def _members(grid: Grid) -> np.ndarray:
    """``(members, steps, ny, nx)`` rain; the corner without coverage is NaN in every member."""
    fields = np.stack([f.values for f in rain_frames(STEPS, grid)])
    factors = np.random.default_rng(1).uniform(0.2, 2.0, (MEMBERS, STEPS, *grid.shape))
    return (fields[None] * factors).astype(np.float32)


def _write(path: Path, members: np.ndarray, grid: Grid, variable: str = "rainfall_rate", **kw):
    options = {**ENSEMBLE, **kw}
    with ForecastWriter(path, grid, variable, REF, _valid(), history="test", **options) as w:
        for k in range(STEPS):
            w.write_step(k, members[:, k].mean(axis=0), members[:, k])
    return path


@pytest.fixture
def members() -> np.ndarray:
    return _members(laea_grid())


def test_members_deterministic_and_thresholds_round_trip(
    tmp_path: Path, members: np.ndarray
) -> None:
    path = _write(tmp_path / "ens.nc", members, laea_grid())
    forecast = read_forecast(path)
    assert forecast.member_count == MEMBERS and forecast.notes == ()
    assert forecast.members is not None
    np.testing.assert_array_equal(forecast.members, members)
    np.testing.assert_array_equal(forecast.fields, members.mean(axis=0))
    np.testing.assert_array_equal(forecast.thresholds, [0.5, 1.0, 5.0])
    np.testing.assert_array_equal(forecast.valid_times, _valid())


def test_probabilities_are_the_fraction_of_members_at_or_above_each_threshold(
    tmp_path: Path, members: np.ndarray
) -> None:
    members[:, :, 5, 5] = 1.0  # exactly at a threshold counts
    path = _write(tmp_path / "ens.nc", members, laea_grid())
    with netCDF4.Dataset(path) as nc:
        prob = np.ma.filled(nc[PROB][:], np.nan)
        thresholds = nc["threshold"][:]
    assert prob.dtype == np.float32 and prob.shape == (3, STEPS, *laea_grid().shape)
    covered = np.isfinite(members.mean(axis=0))
    for k, threshold in enumerate(thresholds):
        expected = (members >= threshold).sum(axis=0) / np.float32(MEMBERS)
        np.testing.assert_array_equal(prob[k][covered], expected.astype(np.float32)[covered])
    assert np.isnan(prob[:, ~covered]).all() and (~covered).any()
    assert prob[1, :, 5, 5].tolist() == [1.0] * STEPS
    assert np.nanmin(prob) >= 0.0 and np.nanmax(prob) <= 1.0


def test_ensemble_attributes_realization_and_chunks(tmp_path: Path, members: np.ndarray) -> None:
    path = _write(tmp_path / "ens.nc", members, laea_grid())
    with netCDF4.Dataset(path) as nc:
        assert nc.nowcast_ensemble_method == ENSEMBLE["ensemble_method"]
        assert nc.nowcast_ensemble_members == MEMBERS
        real = nc["realization"]
        assert real.dtype == np.int32 and real.dimensions == ("realization",)
        assert (real.standard_name, real.units) == ("realization", "1")
        assert real[:].tolist() == list(range(MEMBERS))
        rain, det = nc["rainfall_rate"], nc["rainfall_rate_deterministic"]
        assert rain.dimensions == ("realization", "time", "y", "x")
        assert rain.chunking() == [1, 1, 16, 20] and nc[PROB].chunking() == [1, 1, 16, 20]
        assert det.dimensions == ("time", "y", "x") and det.chunking() == [1, 16, 20]
        assert det.standard_name == "rainfall_rate" and det.cell_methods == "realization: mean"
        assert det.long_name == ENSEMBLE["deterministic_long_name"]
        threshold = nc["threshold"]
        assert threshold.dtype == np.float32 and threshold.dimensions == ("threshold",)
        assert (threshold.standard_name, threshold.units) == ("rainfall_rate", "mm h-1")
        assert threshold.spp__relative_to_threshold == "greater_than_or_equal_to"
        prob = nc[PROB]
        assert prob.dimensions == ("threshold", "time", "y", "x")
        assert (prob.units, prob.long_name, prob.grid_mapping) == ("1", PROB, "crs")
        assert prob.coordinates == rain.coordinates == det.coordinates
        assert prob.coordinates == "forecast_period forecast_reference_time lat lon"


def test_a_deterministic_field_that_is_not_the_mean_has_no_cell_methods(
    tmp_path: Path, members: np.ndarray
) -> None:
    path = _write(tmp_path / "ens.nc", members, laea_grid(), deterministic_is_mean=False)
    with netCDF4.Dataset(path) as nc:
        assert "cell_methods" not in nc["rainfall_rate_deterministic"].ncattrs()


def test_packing_applies_to_rain_only(tmp_path: Path, members: np.ndarray) -> None:
    path = _write(tmp_path / "ens.nc", members, laea_grid(), pack=True)
    with netCDF4.Dataset(path) as nc:
        assert nc["rainfall_rate"].dtype == nc["rainfall_rate_deterministic"].dtype == np.int16
        assert nc[PROB].dtype == np.float32
    forecast = read_forecast(path)
    assert forecast.members is not None
    np.testing.assert_array_equal(np.isnan(forecast.members), np.isnan(members))
    assert np.nanmax(np.abs(forecast.members - members)) <= 0.005 + 1e-5


def test_xarray_reads_members_and_probabilities(tmp_path: Path, members: np.ndarray) -> None:
    path = _write(tmp_path / "ens.nc", members, laea_grid())
    with xr.open_dataset(path, decode_coords="all") as ds:
        assert ds["rainfall_rate"].dims == ("realization", "time", "y", "x")
        wet = ds[PROB].sel(threshold=1.0)
        assert wet.dims == ("time", "y", "x") and float(wet.max()) <= 1.0


@pytest.mark.parametrize("pack", [False, True])
def test_ensemble_file_passes_cf_checker(tmp_path: Path, members: np.ndarray, pack: bool) -> None:
    pytest.importorskip("compliance_checker")
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    path = _write(tmp_path / "ens.nc", members, laea_grid(), pack=pack, source="test")
    CheckSuite.load_all_available_checkers()
    report = tmp_path / "report.json"
    _, errors = ComplianceChecker.run_checker(
        str(path), ["cf:1.11"], 0, "normal", output_filename=str(report), output_format="json"
    )
    result = json.loads(report.read_text())["cf:1.11"]
    assert not errors
    assert result["high_count"] == 0, result["high_priorities"]


def test_pixel_grid_ensemble_is_named_after_its_variable(tmp_path: Path) -> None:
    grid = Grid(x=np.arange(20.0), y=np.arange(16.0))
    members = np.nan_to_num(_members(laea_grid())) / 50
    path = _write(tmp_path / "ens.nc", members, grid, variable="intensity", thresholds=(0.5,))
    with netCDF4.Dataset(path) as nc:
        assert {"intensity_deterministic", "probability_of_intensity_above_threshold"} <= set(
            nc.variables
        )
        assert nc["threshold"].units == "1" and "standard_name" not in nc["threshold"].ncattrs()
        assert "grid_mapping" not in nc["probability_of_intensity_above_threshold"].ncattrs()
    forecast = read_forecast(path)
    assert forecast.variable == "intensity" and forecast.member_count == MEMBERS
    np.testing.assert_array_equal(forecast.members, members)
    np.testing.assert_array_equal(forecast.thresholds, [0.5])


def _hand_made(path: Path, members: np.ndarray, grid: Grid, coordinate: bool = True) -> Path:
    """A (time, member, y, x) ensemble of another tool: no deterministic field, no thresholds."""
    with netCDF4.Dataset(path, "w") as nc:
        for name, size in (("time", STEPS), ("member", MEMBERS), ("y", 16), ("x", 20)):
            nc.createDimension(name, size)
        for axis, values in (("x", grid.x), ("y", grid.y)):
            var = nc.createVariable(axis, "f8", (axis,))
            var.setncatts({"standard_name": f"projection_{axis}_coordinate", "units": "m"})
            var[:] = values
        if coordinate:
            member = nc.createVariable("member", "i2", ("member",))
            member.standard_name = "realization"
            member[:] = np.arange(MEMBERS) + 1
        nc.createVariable("crs", "i4").setncatts(grid.crs or {})
        time = nc.createVariable("time", "i8", ("time",))
        time.units = "seconds since 2024-06-01 12:00:00"
        time[:] = 300 * np.arange(1, STEPS + 1)
        rain = nc.createVariable("precip", "f4", ("time", "member", "y", "x"), fill_value=-1.0)
        rain.setncatts({"standard_name": "rainfall_rate", "units": "mm h-1", "grid_mapping": "crs"})
        rain[:] = np.ma.masked_invalid(members.transpose(1, 0, 2, 3))
    return path


def test_a_time_realization_y_x_file_of_another_tool_is_read(
    tmp_path: Path, members: np.ndarray
) -> None:
    path = _hand_made(tmp_path / "other.nc", members, laea_grid())
    forecast = read_forecast(path)
    assert forecast.variable == "precip" and forecast.member_count == MEMBERS
    np.testing.assert_array_equal(forecast.members, members)
    np.testing.assert_allclose(forecast.fields, members.mean(axis=0), rtol=1e-6)
    assert forecast.thresholds.size == 0 and forecast.reference_time is None
    assert forecast.notes == (
        f"other.nc: no precip_deterministic(time, y, x); the mean of the {MEMBERS} members "
        "is its deterministic forecast",
    )


def test_a_realization_dimension_without_coordinate_is_one_input_error(
    tmp_path: Path, members: np.ndarray
) -> None:
    path = _hand_made(tmp_path / "other.nc", members, laea_grid(), coordinate=False)
    with pytest.raises(InputError) as caught:
        read_forecast(path)
    assert str(caught.value) == (
        f"{path}: dimension 'member' of precip(time, member, y, x) has no coordinate variable; "
        'an ensemble\'s realization dimension needs one (standard_name = "realization")'
    )


def test_an_unknown_fourth_dimension_is_one_input_error(
    tmp_path: Path, members: np.ndarray
) -> None:
    path = _hand_made(tmp_path / "other.nc", members, laea_grid())
    with netCDF4.Dataset(path, "a") as nc:
        nc["member"].standard_name = "height"
    with pytest.raises(InputError, match=r"^[^\n]*4th dimension that is not a realization[^\n]*$"):
        read_forecast(path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"thresholds": (1.0,)}, "probability thresholds need ensemble members"),
        ({**ENSEMBLE, "thresholds": (1.0, 1.0)}, "thresholds must be finite and distinct"),
        ({**ENSEMBLE, "thresholds": (np.nan,)}, "thresholds must be finite and distinct"),
        ({**ENSEMBLE, "ensemble_method": ""}, "an ensemble needs ensemble_method"),
        ({"members": -1}, "members must be >= 0"),
    ],
)
def test_invalid_ensemble_options_are_value_errors_before_any_file(
    tmp_path: Path, options: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ForecastWriter(tmp_path / "fc.nc", laea_grid(), "rainfall_rate", REF, _valid(), **options)
    assert list(tmp_path.iterdir()) == []


def test_write_step_refuses_missing_unexpected_or_misshapen_members(
    tmp_path: Path, members: np.ndarray
) -> None:
    field, path = members[:, 0].mean(axis=0), tmp_path / "fc.nc"

    def writer(**options: object) -> ForecastWriter:
        return ForecastWriter(path, laea_grid(), "rainfall_rate", REF, _valid(), **options)

    with pytest.raises(ValueError, match=r"members of shape \(5, 16, 20\) expected, got None"):
        with writer(**ENSEMBLE) as w:
            w.write_step(0, field)
    with pytest.raises(ValueError, match=r"expected, got \(4, 16, 20\)"):
        with writer(**ENSEMBLE) as w:
            w.write_step(0, field, members[:4, 0])
    with pytest.raises(ValueError, match="members given to a writer made without members"):
        with writer() as w:
            w.write_step(0, field, members[:, 0])
    assert list(tmp_path.iterdir()) == []


_AXIS = ["standard_name", "long_name", "units", "axis", "bounds"]
_TIME = ["standard_name", "units", "calendar", "units_metadata", "long_name"]
#: The deterministic file's variables, their dimensions and attribute names (in order), as
#: the writer made them before ensembles existed (``crs`` is the grid's own).
DETERMINISTIC_LAYOUT = {
    "y": (("y",), _AXIS),
    "y_bnds": (("y", "nv"), []),
    "x": (("x",), _AXIS),
    "x_bnds": (("x", "nv"), []),
    "lat": (("y", "x"), ["standard_name", "long_name", "units"]),
    "lon": (("y", "x"), ["standard_name", "long_name", "units"]),
    "time": (("time",), [*_TIME[:1], "axis", *_TIME[1:]]),
    "forecast_reference_time": ((), _TIME),
    "forecast_period": (("time",), ["standard_name", "long_name", "units"]),
    "rainfall_rate": (
        ("time", "y", "x"),
        ["_FillValue", "valid_min", "standard_name", "long_name", "units"]
        + ["coordinates", "grid_mapping"],
    ),
}
RAIN_ATTRS = {
    "standard_name": "rainfall_rate",
    "long_name": "Nowcast of rainfall rate",
    "units": "mm h-1",
    "coordinates": "forecast_period forecast_reference_time lat lon",
    "grid_mapping": "crs",
}


def test_a_file_without_members_is_the_deterministic_file(tmp_path: Path) -> None:
    fields = np.stack([f.values for f in rain_frames(STEPS, laea_grid())])
    path = tmp_path / "fc.nc"
    with ForecastWriter(path, laea_grid(), "rainfall_rate", REF, _valid(), history="h") as w:
        for k in range(STEPS):
            w.write_step(k, fields[k])
    with netCDF4.Dataset(path) as nc:
        assert list(nc.dimensions) == ["time", "y", "x", "nv"]
        assert nc.ncattrs() == ["Conventions", "source", "history", "references", "title"]
        layout = {name: (v.dimensions, v.ncattrs()) for name, v in nc.variables.items()}
        rain = nc["rainfall_rate"]
        assert {k: rain.getncattr(k) for k in RAIN_ATTRS} == RAIN_ATTRS
        assert rain.dtype == np.float32 and rain.chunking() == [1, 16, 20]
    assert layout.pop("crs")[0] == ()
    assert layout == DETERMINISTIC_LAYOUT
    forecast = read_forecast(path)
    assert forecast.members is None and forecast.member_count == 0 and forecast.notes == ()
    assert forecast.thresholds.size == 0
    np.testing.assert_array_equal(forecast.fields, fields)
