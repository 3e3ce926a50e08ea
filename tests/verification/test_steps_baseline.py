"""pySTEPS' STEPS ensemble as the ``steps`` baseline of ``nowcast evaluate``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.errors import ConfigError, InputError, NowcastError
from nowcast.verification.baselines import INSTALL_HINT, extrapolation_available
from nowcast.verification.evaluate import EvaluateRequest, run_evaluation
from nowcast.verification.methods import BASELINES, baseline_methods
from nowcast.verification.steps_baseline import STEPS_SEED, StepsFitError, steps_forecast
from tests.forecasting.conftest import rain_stack, write_checkpoint
from tests.helpers import laea_grid, write_canonical

needs_pysteps = pytest.mark.skipif(not extrapolation_available(), reason="pysteps/cv2 missing")

SIZE = 64
STEP_S = 300
MEMBERS = 3
NO_MEMBERS = "--baselines steps needs --members M (e.g. --members 20)"


def _blobs(t: int) -> np.ndarray:
    """Gaussian rain cells (mm h-1) moving 1 px down and 1 px right per step."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    field = np.zeros((SIZE, SIZE))
    for cy, cx, peak in ((20, 20, 8.0), (40, 30, 12.0), (30, 50, 6.0)):
        field += peak * np.exp(-((yy - cy - t) ** 2 + (xx - cx - t) ** 2) / (2 * 5.0**2))
    return field


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """Four float32 frames, no coverage in the western strip of 6 columns."""
    stack = np.stack([_blobs(t) for t in range(4)]).astype(np.float32)
    stack[:, :, :6] = np.nan
    return stack


def _steps(frames: np.ndarray, steps: int = 3, **kwargs: int) -> np.ndarray:
    return steps_forecast(frames, steps, MEMBERS, timestep_s=STEP_S, pixel_km=1.0, **kwargs)


@needs_pysteps
def test_members_in_mm_per_hour_on_the_covered_pixels(frames: np.ndarray) -> None:
    forecast = _steps(frames)
    assert forecast.shape == (MEMBERS, 3, SIZE, SIZE)
    assert forecast.dtype == np.float32
    covered = np.isfinite(frames[-1])
    assert np.isnan(forecast[:, :, ~covered]).all()
    values = forecast[:, :, covered]
    assert np.isfinite(values).all()  # advected in from outside the grid: no rain, not NaN
    assert values.min() == 0.0
    assert not ((values > 0) & (values < 0.1)).any()  # drier than 0.1 mm/h is dry
    # mm h-1, not dBR: probability matching keeps the last frame's wet area and mean rate
    last = frames[-1][covered]
    wet_area = np.count_nonzero(values[:, 0], axis=1) / np.count_nonzero(last >= 0.1)
    np.testing.assert_allclose(wet_area, 1.0, atol=0.2)
    np.testing.assert_allclose(values[:, 0].mean(axis=1), last.mean(), rtol=0.2)


@needs_pysteps
def test_seeded_members_are_reproducible_and_differ(frames: np.ndarray) -> None:
    before = np.random.get_state()[1].copy()
    first = _steps(frames, 2)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # global RNG untouched
    np.testing.assert_array_equal(first, _steps(frames, 2))
    assert np.nanmax(np.abs(first[0] - first[1])) > 0.1  # members are different futures
    assert np.nanmax(np.abs(first - _steps(frames, 2, seed=STEPS_SEED + 1))) > 0.1


@needs_pysteps
def test_dry_scene_and_input_errors(frames: np.ndarray) -> None:
    dry = np.zeros((3, 32, 32))
    dry[:, :4] = np.nan
    forecast = steps_forecast(dry, 2, MEMBERS, timestep_s=STEP_S, pixel_km=1.0)
    assert forecast.shape == (MEMBERS, 2, 32, 32) and forecast.dtype == np.float64
    assert np.isnan(forecast[:, :, :4]).all()
    np.testing.assert_array_equal(forecast[:, :, 4:], 0.0)
    with pytest.raises(InputError, match="T >= 3"):
        _steps(frames[:2])
    with pytest.raises(ConfigError, match="at least 1 member"):
        steps_forecast(frames, 2, 0, timestep_s=STEP_S, pixel_km=1.0)
    with pytest.raises(ConfigError, match="grid spacing > 0"):
        steps_forecast(frames, 2, 2, timestep_s=STEP_S, pixel_km=0.0)


@needs_pysteps
def test_static_rain_falls_back_to_extrapolation_and_is_counted() -> None:
    static = np.zeros((3, 32, 32))
    static[:, 10:16, 12:18] = 2.0  # clutter that neither moves nor changes
    with pytest.raises(StepsFitError, match="cannot forecast"):
        steps_forecast(static, 2, MEMBERS, timestep_s=STEP_S, pixel_km=1.0)
    (method,) = baseline_methods(["steps"], [], timestep_s=STEP_S, pixel_km=1.0, members=2)
    assert method.ensemble is not None
    mean, members = method.ensemble(static, 2, MEMBERS)
    assert members.shape == (MEMBERS, 2, 32, 32)
    np.testing.assert_allclose(members[:, :, 10:16, 12:18], 2.0)  # zero motion: persistence
    np.testing.assert_array_equal(mean, members[0])
    assert method.provenance["starts_extrapolated"] == 1


@needs_pysteps
def test_steps_method_is_the_ensemble_mean(frames: np.ndarray) -> None:
    notes: list[str] = []
    (method,) = baseline_methods(
        ["steps"], notes, timestep_s=STEP_S, pixel_km=None, members=MEMBERS
    )
    assert "steps" in BASELINES
    assert (method.name, method.in_len) == ("steps", 3)
    assert notes == ["steps: a pixel grid without metres; pySTEPS' kmperpixel taken as 1"]
    assert method.ensemble is not None
    mean, members = method.ensemble(frames, 2, MEMBERS)
    np.testing.assert_array_equal(members, _steps(frames, 2))
    np.testing.assert_allclose(mean, members.mean(axis=0))
    np.testing.assert_allclose(method.predict(frames, 2), mean)
    provenance = method.provenance
    assert provenance["library"].startswith("pysteps STEPS")
    assert provenance["version"].count(".") >= 1
    expected = {"members": MEMBERS, "n_cascade_levels": 6, "seed": STEPS_SEED}
    expected |= {"noise_method": "nonparametric", "vel_pert_method": "bps", "kmperpixel": 1.0}
    assert expected.items() <= provenance.items()
    assert provenance["deterministic"] == "ensemble mean"


@needs_pysteps
def test_evaluate_scores_steps_under_its_name(tmp_path: Path) -> None:
    fields = np.stack([_blobs(t)[:32, :32] for t in range(8)]).astype(np.float32)
    write_canonical(tmp_path / "blob.nc", fields, laea_grid(32, 32))
    write_checkpoint(tmp_path / "rain.pt")
    request = EvaluateRequest(
        models=[str(tmp_path / "rain.pt")],
        data=tmp_path / "blob.nc",
        baselines=["steps"],
        members=2,
        steps=2,
        max_starts=1,
        device="cpu",
        output_dir=None,
    )
    result = run_evaluation(request)
    assert [m.name for m in result.evaluation.methods] == ["rain", "steps"]
    assert {r["method"] for r in result.continuous} == {"rain", "steps"}
    provenance = result.evaluation.methods[1].provenance
    assert (provenance["members"], provenance["kmperpixel"]) == (2, 1.0)


def test_steps_without_members_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        baseline_methods(["persistence", "steps"], [], timestep_s=STEP_S, pixel_km=1.0)
    assert str(info.value) == NO_MEMBERS
    fields, grid = rain_stack(8)
    write_canonical(tmp_path / "obs.nc", fields, grid)
    write_checkpoint(tmp_path / "rain.pt")
    result = CliRunner().invoke(
        app,
        ["evaluate", "-m", str(tmp_path / "rain.pt"), "--data", str(tmp_path / "obs.nc")]
        + ["--baselines", "persistence,steps", "--output-dir", str(tmp_path / "ev")],
    )
    assert result.exit_code == 2, result.output  # a usage error, caught before any work
    assert " ".join(result.stderr.split()) == (  # one line, no traceback
        "error: --baselines steps needs --members M, e.g. --members 20 "
        "(see 'nowcast evaluate --help')"
    )
    assert not (tmp_path / "ev").exists()


def test_missing_pysteps_skips_steps_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("pysteps", "pysteps.motion", "pysteps.extrapolation", "pysteps.nowcasts"):
        monkeypatch.setitem(sys.modules, name, None)
    notes: list[str] = []
    methods = baseline_methods(["steps"], notes, timestep_s=STEP_S, members=MEMBERS)
    assert methods == []
    assert notes == [f"STEPS ensemble skipped: pysteps is not installed ({INSTALL_HINT})"]
    with pytest.raises(NowcastError, match="pysteps") as info:
        steps_forecast(np.ones((3, 8, 8)), 1, 2, timestep_s=STEP_S, pixel_km=1.0)
    assert INSTALL_HINT in str(info.value)
