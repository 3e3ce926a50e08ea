"""``nowcast forecast --members``: members, probabilities and the deterministic field, one file."""

from __future__ import annotations

import json
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from typer.testing import CliRunner, Result

from nowcast.cli import app
from nowcast.forecasting.ensemble import DETERMINISTIC_METHOD, ENSEMBLE_METHOD

runner = CliRunner()
PROBABILITY = "probability_of_rainfall_rate_above_threshold"


def _forecast(*args: str | Path | int) -> Result:
    return runner.invoke(app, ["forecast", *[str(a) for a in args]])


def _ensemble(obs: Path, model: Path, out: Path, *extra: str | int, steps: int = 3) -> Result:
    result = _forecast(obs, "--model", model, "--steps", steps, "--members", 4, "-o", out, *extra)
    assert result.exit_code == 0, result.output
    return result


def _read(path: Path, name: str) -> np.ndarray:
    with netCDF4.Dataset(path) as nc:
        return np.asarray(np.ma.filled(nc[name][:].astype(np.float32), np.nan))


def _usage_error(result: Result) -> str:
    """The one ``error:`` line of a usage error (exit 2), with nothing on stdout."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and not result.stdout.strip()
    return lines[0]


def test_members_and_probabilities_in_the_ensemble_layout(obs_file: Path, ckpt_dir: Path) -> None:
    out = obs_file.parent / "ens.nc"

    result = _ensemble(obs_file, ckpt_dir / "rain.pt", out, "--probabilities", "5,0.1,1")

    assert "3 steps from 2024-06-01T12:55:00Z" in result.stdout
    assert "4 members)" in " ".join(result.stdout.split())
    last = _read(obs_file, "rainfall_rate")[-1]
    with netCDF4.Dataset(out) as nc:
        assert {name: len(dim) for name, dim in nc.dimensions.items()} == {
            "realization": 4,
            "threshold": 3,
            "time": 3,
            "y": 24,
            "x": 28,
            "nv": 2,  # the cell bounds'
        }
        assert nc["rainfall_rate"].dimensions == ("realization", "time", "y", "x")
        assert nc["rainfall_rate_deterministic"].dimensions == ("time", "y", "x")
        assert nc[PROBABILITY].dimensions == ("threshold", "time", "y", "x")
        np.testing.assert_array_equal(nc["realization"][:], [0, 1, 2, 3])
        assert nc["realization"].standard_name == "realization"
        np.testing.assert_array_equal(nc["threshold"][:], np.float32([0.1, 1.0, 5.0]))
        assert nc["threshold"].spp__relative_to_threshold == "greater_than_or_equal_to"
        assert nc["rainfall_rate_deterministic"].long_name == DETERMINISTIC_METHOD
        assert "cell_methods" not in nc["rainfall_rate_deterministic"].ncattrs()
        assert int(nc.nowcast_ensemble_members) == 4
        assert nc.nowcast_ensemble_method == ENSEMBLE_METHOD
        assert nc.comment.startswith("4-member ensemble nowcast from the last 4 frames")
    members = _read(out, "rainfall_rate")
    deterministic = _read(out, "rainfall_rate_deterministic")
    chances = _read(out, PROBABILITY)
    uncovered = np.isnan(last)
    assert np.isnan(members[:, :, uncovered]).all() and np.isfinite(members[:, :, ~uncovered]).all()
    np.testing.assert_array_equal(np.isnan(deterministic), np.broadcast_to(uncovered, (3, 24, 28)))
    for i, threshold in enumerate(np.float32([0.1, 1.0, 5.0])):
        expected = np.mean(members >= threshold, axis=0)
        np.testing.assert_array_equal(chances[i][:, ~uncovered], expected[:, ~uncovered])
        assert np.isnan(chances[i][:, uncovered]).all()
    assert set(np.unique(chances[np.isfinite(chances)])) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert 0 < np.nanmean(chances[0]) < 1  # neither all wet nor all dry
    # Each member and the deterministic field hold the observed values of the last frame.
    observed = np.sort(last[~uncovered])
    for field in (deterministic[0], *members[:, 0]):
        np.testing.assert_array_equal(np.sort(field[~uncovered]), observed)


def test_the_deterministic_field_is_the_deterministic_forecast(
    obs_file: Path, ckpt_dir: Path
) -> None:
    model = ckpt_dir / "rain.pt"
    ens, single = obs_file.parent / "ens.nc", obs_file.parent / "single.nc"
    _ensemble(obs_file, model, ens)
    result = _forecast(obs_file, "--model", model, "--steps", 3, "-o", single)
    assert result.exit_code == 0, result.output

    with netCDF4.Dataset(single) as nc:
        assert set(nc.dimensions) == {"time", "y", "x", "nv"}
        assert nc["rainfall_rate"].dimensions == ("time", "y", "x")
        assert not {"realization", "threshold", "rainfall_rate_deterministic", PROBABILITY} & set(
            nc.variables
        )
        assert not {"nowcast_ensemble_members", "nowcast_ensemble_method"} & set(nc.ncattrs())
        assert nc.comment.startswith("Deterministic nowcast")
    with netCDF4.Dataset(ens) as nc:
        assert "threshold" not in nc.dimensions and PROBABILITY not in nc.variables
    np.testing.assert_array_equal(
        _read(ens, "rainfall_rate_deterministic"), _read(single, "rainfall_rate")
    )
    assert "making members" not in result.stdout


def test_the_same_seed_gives_the_same_members(obs_file: Path, ckpt_dir: Path) -> None:
    model = ckpt_dir / "rain.pt"
    paths = {name: obs_file.parent / f"{name}.nc" for name in ("a", "b", "c")}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        _ensemble(obs_file, model, paths[name], "--seed", seed, steps=1)

    a, b, c = (_read(paths[name], "rainfall_rate") for name in ("a", "b", "c"))

    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(
        _read(paths["a"], "rainfall_rate_deterministic"),
        _read(paths["c"], "rainfall_rate_deterministic"),
    )


def test_making_members_is_a_progress_stage(obs_file: Path, ckpt_dir: Path) -> None:
    result = _ensemble(obs_file, ckpt_dir / "rain.pt", obs_file.parent / "ens.nc")

    # Not a terminal: one line per stage (and quarter) on stdout, none on stderr.
    stages = [line.split(" ", 2)[:2] for line in result.stdout.splitlines()]
    assert ["making", "members"] in stages
    assert any(line.startswith("making members 3/3 (100%)") for line in result.stdout.splitlines())
    order = [" ".join(s) for s in stages if " ".join(s) in ("running the", "making members")]
    assert order.index("making members") > order.index("running the")
    assert not result.stderr.strip()


def test_an_ensemble_file_passes_the_cf_checker(obs_file: Path, ckpt_dir: Path) -> None:
    pytest.importorskip("compliance_checker")
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    out = obs_file.parent / "ens.nc"
    _ensemble(obs_file, ckpt_dir / "rain.pt", out, "--probabilities", "0.1,1")
    CheckSuite.load_all_available_checkers()
    report = obs_file.parent / "report.json"
    _, errors = ComplianceChecker.run_checker(
        str(out), ["cf:1.11"], 0, "normal", output_filename=str(report), output_format="json"
    )
    result = json.loads(report.read_text())["cf:1.11"]
    assert not errors
    assert result["high_count"] == 0, result["high_priorities"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--probabilities", "0.1,1"], "--probabilities needs --members M"),
        (["--members", 1], "--members must be 0"),
        (["--members", -2], "got -2"),
        (["--members", 4, "--probabilities", "0,x"], "must be comma-separated numbers, got '0,x'"),
        (["--members", 4, "--probabilities", "0,1"], "--probabilities must be numbers > 0"),
    ],
    ids=["probabilities-without-members", "one-member", "negative", "not-a-number", "zero"],
)
def test_impossible_ensembles_are_usage_errors(
    obs_file: Path, ckpt_dir: Path, args: list[str | int], expected: str
) -> None:
    out = obs_file.parent / "ens.nc"

    result = _forecast(obs_file, "--model", ckpt_dir / "rain.pt", "-o", out, *args)

    assert expected in _usage_error(result)
    assert not out.exists()
