"""``evaluate --forecast`` on an ensemble file: the method carries the file's members.

Its ``predict`` gives the deterministic fields, its ``ensemble`` those and every member of the
file (whatever count is asked for), both placed on the observations' grid like any forecast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nowcast.data.observations import Observations, load_observations
from nowcast.io.grid import Grid
from nowcast.io.writers import ForecastWriter
from nowcast.verification import outputs
from nowcast.verification.evaluate import EvaluateRequest, run_evaluation
from nowcast.verification.methods import forecast_file_method
from tests.forecasting.conftest import rain_stack
from tests.helpers import T0, write_canonical

STEP = np.timedelta64(300, "s")
REFERENCE, STEPS, MEMBERS = 3, 4, 3


@pytest.fixture(scope="module")
def observed() -> tuple[np.ndarray, Grid]:
    """8 rain frames from T0 on a 24 x 28 north-up LAEA grid."""
    return rain_stack(8)


@pytest.fixture
def obs(tmp_path: Path, observed: tuple[np.ndarray, Grid]) -> Observations:
    return load_observations([str(write_canonical(tmp_path / "obs.nc", *observed))])


def _members(observed: tuple[np.ndarray, Grid]) -> np.ndarray:
    """Members around the observed frames after the reference time; their mean is those."""
    perfect = observed[0][REFERENCE + 1 : REFERENCE + 1 + STEPS]
    return np.stack([perfect * 0.5, perfect, perfect * 1.5]).astype(np.float32)


def _write(path: Path, members: np.ndarray, grid: Grid) -> Path:
    ref = T0 + REFERENCE * STEP
    with ForecastWriter(
        path,
        grid,
        "rainfall_rate",
        ref,
        ref + STEP * np.arange(1, STEPS + 1),
        members=MEMBERS,
        thresholds=(1.0,),
        ensemble_method="test: scaled observations",
        deterministic_long_name="Ensemble mean of nowcast of rainfall rate",
        deterministic_is_mean=True,
    ) as writer:
        for k in range(STEPS):
            writer.write_step(k, members[:, k].mean(axis=0), members[:, k])
    return path


def test_the_method_gives_the_deterministic_fields_and_every_member(
    tmp_path: Path, obs: Observations, observed: tuple[np.ndarray, Grid]
) -> None:
    members = _members(observed)
    notes: list[str] = []
    method, start, steps = forecast_file_method(
        _write(tmp_path / "ens.nc", members, observed[1]), obs, notes
    )
    assert (start, steps, notes) == (REFERENCE, STEPS, [])
    assert method.ensemble is not None and method.provenance["members"] == MEMBERS
    frames = obs.read(np.array([REFERENCE]))
    deterministic, got = method.ensemble(frames, 2, 50)
    np.testing.assert_array_equal(got, members[:, :2])
    np.testing.assert_array_equal(deterministic, members[:, :2].mean(axis=0))
    np.testing.assert_array_equal(method.predict(frames, 2), deterministic)


def test_members_stored_south_up_and_east_to_west_are_flipped_back(
    tmp_path: Path, obs: Observations, observed: tuple[np.ndarray, Grid]
) -> None:
    grid, members = observed[1], _members(observed)
    turned = Grid(x=grid.x[::-1], y=grid.y[::-1], crs=grid.crs, proj4=grid.proj4)
    path = _write(tmp_path / "ens.nc", members[..., ::-1, ::-1], turned)
    notes: list[str] = []
    method, _, _ = forecast_file_method(path, obs, notes)
    assert method.ensemble is not None and len(notes) == 2
    deterministic, got = method.ensemble(obs.read(np.array([REFERENCE])), STEPS, MEMBERS)
    np.testing.assert_array_equal(got, members)
    np.testing.assert_array_equal(deterministic, members.mean(axis=0))


def test_a_deterministic_file_has_no_ensemble(
    tmp_path: Path, obs: Observations, observed: tuple[np.ndarray, Grid]
) -> None:
    path = tmp_path / "fc.nc"
    ref = T0 + REFERENCE * STEP
    with ForecastWriter(path, observed[1], "rainfall_rate", ref, ref + STEP * np.arange(1, 3)) as w:
        for k in range(2):
            w.write_step(k, observed[0][REFERENCE + 1 + k])
    method, _, _ = forecast_file_method(path, obs, [])
    assert method.ensemble is None and "members" not in method.provenance


def test_evaluate_scores_an_ensemble_file(
    tmp_path: Path, observed: tuple[np.ndarray, Grid], monkeypatch: pytest.MonkeyPatch
) -> None:
    def placeholder(*args: object, **kwargs: object) -> Path:  # scores are checked, not PNGs
        path = next(a for a in args if isinstance(a, Path))
        path.write_bytes(b"")
        return path

    monkeypatch.setattr(outputs, "plot_score_vs_lead", placeholder)
    monkeypatch.setattr(outputs, "plot_example", placeholder)
    members = _members(observed)
    members[0], members[2] = members[1], members[1]  # every member perfect
    forecast = _write(tmp_path / "ens.nc", members, observed[1])
    obs = write_canonical(tmp_path / "obs.nc", *observed)
    request = EvaluateRequest(forecast=forecast, obs=obs, baselines=[], output_dir=tmp_path / "ev")
    result = run_evaluation(request)
    csi = [float(r["csi"]) for r in result.categorical if r["threshold"] == 1.0]
    assert csi == [1.0] * STEPS
