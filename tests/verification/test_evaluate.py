"""``nowcast evaluate``: methods scored over start times, pooled, and written as report files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nowcast import __version__
from nowcast.cli import app
from nowcast.data.observations import load_observations
from nowcast.errors import InputError
from nowcast.forecasting.model_choice import load_model, sha256_of
from nowcast.verification import outputs
from nowcast.verification.evaluate import EvaluateRequest, EvaluateResult, run_evaluation
from nowcast.verification.methods import baseline_methods, model_method
from nowcast.verification.report import (
    CATEGORICAL_COLUMNS,
    CATEGORICAL_SCORES,
    CONTINUOUS_COLUMNS,
    FRAME_COLUMNS,
)
from nowcast.verification.run import evaluate
from tests.forecasting.conftest import rain_stack, write_checkpoint
from tests.helpers import T0, laea_grid, write_canonical

CPU = torch.device("cpu")
LEADS = [300, 600, 900, 1200]
RAIN_THRESHOLDS = [0.5, 1.0, 5.0, 10.0]
FSS_COLUMNS = ["fss_1km", "fss_5km", "fss_10km", "fss_20km"]
runner = CliRunner()


def _time(minutes: int) -> np.datetime64:
    return T0 + np.timedelta64(60 * minutes, "s")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 rain frames (12:00 .. 13:15, 24 x 28) and three tiny checkpoints."""
    path = tmp_path_factory.mktemp("evaluate")
    fields, grid = rain_stack(16)
    write_canonical(path / "obs.nc", fields, grid)
    write_checkpoint(path / "rain.pt")
    write_checkpoint(path / "persist.pt", model="persistence")
    write_checkpoint(path / "intensity.pt", variable="intensity")
    return path


def _run(folder: Path, output: Path, **kwargs: object) -> EvaluateResult:
    options: dict[str, object] = {
        "models": [str(folder / "rain.pt")],
        "data": folder / "obs.nc",
        "baselines": ["persistence"],
        "device": "cpu",
        "output_dir": output,
        **kwargs,
    }
    return run_evaluation(EvaluateRequest(**options))  # type: ignore[arg-type]


@pytest.fixture
def no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip drawing PNGs (most of an evaluation's time) where a test checks only the scores."""

    def placeholder(*args: object, **kwargs: object) -> Path:
        path = Path(str(next(a for a in args if isinstance(a, Path))))
        path.write_bytes(b"")
        return path

    monkeypatch.setattr(outputs, "plot_score_vs_lead", placeholder)
    monkeypatch.setattr(outputs, "plot_example", placeholder)


@pytest.fixture(scope="module")
def report(folder: Path) -> EvaluateResult:
    """The tiny model and persistence over every start time of ``obs.nc``."""
    return _run(folder, folder / "report")


def test_report_files_have_the_documented_columns(folder: Path, report: EvaluateResult) -> None:
    out = folder / "report"
    expected = {"categorical.csv", "continuous.csv", "summary.json"}
    expected |= {"csi_vs_lead.png", "mse_vs_lead.png", "example.png"}
    assert {p.name for p in out.iterdir()} == expected
    assert {k: p.name for k, p in report.paths.items()}["example"] == "example.png"
    for name in ("csi_vs_lead.png", "mse_vs_lead.png", "example.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    categorical = _read_csv(out / "categorical.csv")
    assert list(categorical[0]) == [
        "method",
        "lead_time_s",
        "threshold",
        *CATEGORICAL_COLUMNS,
        *CATEGORICAL_SCORES,
        *FSS_COLUMNS,
    ]
    assert list(CATEGORICAL_SCORES) == ["csi", "pod", "far", "bias", "ets", "hss"]
    continuous = _read_csv(out / "continuous.csv")
    assert list(continuous[0]) == [
        "method",
        "lead_time_s",
        *CONTINUOUS_COLUMNS,
        "n_excluded",
        "crps",
        "spread_skill",
    ]
    assert {r["crps"] for r in continuous} == {r["spread_skill"] for r in continuous} == {""}
    # One row per method x lead (x threshold), methods in order: the model, then persistence.
    assert [r["method"] for r in continuous] == ["rain"] * 4 + ["persistence"] * 4
    assert [int(r["lead_time_s"]) for r in continuous] == LEADS * 2
    assert len(categorical) == 2 * 4 * 4
    assert [float(r["threshold"]) for r in categorical[:4]] == RAIN_THRESHOLDS
    # 9 starts x 24*28 pixels, less the 6 corner pixels without coverage.
    assert {int(r["n"]) for r in continuous} == {9 * (24 * 28 - 6)}
    for row in categorical:
        counts = sum(int(row[c]) for c in CATEGORICAL_COLUMNS)
        assert counts == 9 * (24 * 28 - 6)
    assert "9 start times, leads 5-20 min" in report.headline


def test_summary_json_records_provenance(folder: Path, report: EvaluateResult) -> None:
    summary = json.loads((folder / "report" / "summary.json").read_text())
    assert summary["data"] == str(folder / "obs.nc")
    assert summary["models"] == [str(folder / "rain.pt")]
    model, baseline = summary["methods"]
    assert model == {
        "name": "rain",
        "in_len": 4,
        "checkpoint": str(folder / "rain.pt"),
        "checkpoint_sha256": sha256_of(folder / "rain.pt"),
        "block_pixels": 1,
        "frame": "eulerian",
        "calibrated": False,
    }
    assert baseline == {"name": "persistence", "in_len": 1}
    assert summary["n_start_times"] == 9
    assert summary["period"] == ["2024-06-01T12:15:00Z", "2024-06-01T12:55:00Z"]
    assert summary["lead_times_s"] == LEADS
    assert summary["thresholds"] == RAIN_THRESHOLDS
    assert summary["fss_scales_km"] == [1.0, 5.0, 10.0, 20.0]
    assert summary["fss_scales_px"] == [1, 5, 11, 21]
    versions = summary["versions"]
    assert versions["nowcast"] == __version__ and versions["torch"] == torch.__version__
    assert versions["numpy"] == np.__version__ and "python" in versions
    assert len(summary["categorical"]) == 32 and len(summary["continuous"]) == 8


def test_persistence_is_perfect_on_a_static_field(
    tmp_path: Path, folder: Path, no_plots: None
) -> None:
    grid = laea_grid(24, 28)
    field = np.linspace(0.0, 20.3, 24 * 28, dtype=np.float32).reshape(24, 28)
    field[:2, :3] = np.nan
    write_canonical(tmp_path / "static.nc", np.repeat(field[None], 10, axis=0), grid)
    result = _run(
        folder,
        tmp_path / "out",
        models=[str(folder / "persist.pt")],
        data=tmp_path / "static.nc",
    )
    for row in result.categorical:
        assert row["hits"] > 0 and row["misses"] == row["false_alarms"] == 0
        assert row["csi"] == row["pod"] == row["bias"] == 1.0 and row["far"] == 0.0
        assert all(row[c] == pytest.approx(1.0) for c in FSS_COLUMNS)
    for row in result.continuous:
        # the checkpoint's log-rain transform sets rain < 0.1 mm/h to 0; probability
        # matching to the last observation gives the drizzle back
        assert row["mse"] == row["mae"] == row["bias"] == 0.0
    assert [r["lead_time_s"] for r in result.continuous] == LEADS * 2


def test_a_working_grid_is_applied_to_the_model_and_recorded(
    tmp_path: Path, folder: Path, no_plots: None
) -> None:
    """Persistence on 2 km blocks of a 1 km grid is a smoothed persistence, not the same one."""
    result = _run(folder, tmp_path / "out", models=[str(folder / "persist.pt")], scale_km=2.0)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["methods"][0]["block_pixels"] == 2
    assert "persist forecasts on 2 x 2-pixel blocks (--scale-km)" in result.evaluation.notes
    mse = {(r["method"], r["lead_time_s"]): r["mse"] for r in result.continuous}
    for lead in LEADS:
        assert mse[("persist", lead)] != pytest.approx(mse[("persistence", lead)], rel=0.01)


def test_pooled_scores_equal_merged_separate_evaluations(folder: Path) -> None:
    obs = load_observations([str(folder / "obs.nc")])
    methods = [model_method(load_model(folder / "rain.pt", CPU), CPU, "rain")]
    methods += baseline_methods(["persistence"], [])

    def score(starts: list[int]):
        return evaluate(obs, methods, np.array(starts), 4, RAIN_THRESHOLDS, [1, 5], [1.0, 5.0])

    both, first, second = score([5, 9]), score([5]), score([9])
    np.testing.assert_array_equal(both.start_times, [_time(25), _time(45)])
    for method in ("rain", "persistence"):
        pooled, a, b = both.scores[method], first.scores[method], second.scores[method]
        merged = a.categorical.merge(b.categorical)
        for name in (*CATEGORICAL_COLUMNS, "n_excluded"):
            np.testing.assert_array_equal(getattr(pooled.categorical, name), getattr(merged, name))
        continuous = a.continuous.merge(b.continuous)
        np.testing.assert_array_equal(pooled.continuous.n, continuous.n)
        np.testing.assert_allclose(pooled.continuous.sum_sq_error, continuous.sum_sq_error)
        fss = a.fss.merge(b.fss)
        np.testing.assert_array_equal(pooled.fss.n_observed_events, fss.n_observed_events)
        np.testing.assert_allclose(pooled.fss.sum_fo, fss.sum_fo)
        np.testing.assert_allclose(pooled.fss.scores(), fss.scores())


def test_pooled_report_counts_are_sums_of_single_start_reports(
    tmp_path: Path, folder: Path, no_plots: None
) -> None:
    def counts(begin: int, end: int) -> dict[tuple[str, int, float], np.ndarray]:
        result = _run(folder, tmp_path / f"{begin}-{end}", start=_time(begin), end=_time(end))
        assert result.evaluation.start_times.size == (end - begin) // 5 - 3
        return {
            (r["method"], r["lead_time_s"], r["threshold"]): np.array(
                [r[c] for c in CATEGORICAL_COLUMNS]
            )
            for r in result.categorical
        }

    a, b, both = counts(30, 50), counts(35, 55), counts(30, 55)
    assert a.keys() == b.keys() == both.keys() and len(both) == 32
    for key, value in both.items():
        np.testing.assert_array_equal(value, a[key] + b[key])


def test_start_end_and_max_starts_restrict_the_start_times(
    folder: Path, tmp_path: Path, no_plots: None
) -> None:
    window = _run(folder, tmp_path / "w", start=_time(30), end=_time(60))
    # Starts from 12:30 whose last verifying frame (start + 20 min) is at or before 13:00.
    expected = np.array([_time(30), _time(35), _time(40)])
    np.testing.assert_array_equal(window.evaluation.start_times, expected)
    thinned = _run(folder, tmp_path / "t", max_starts=3)
    np.testing.assert_array_equal(thinned.evaluation.start_times, [_time(15), _time(35), _time(55)])
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert summary["n_start_times"] == 3
    with pytest.raises(InputError, match="no start time in .* has 4 input and 4 verifying"):
        _run(folder, tmp_path / "none", start=_time(60))


def test_default_data_is_the_test_split_stored_in_the_checkpoint(
    tmp_path: Path, folder: Path, no_plots: None
) -> None:
    model = write_checkpoint(
        tmp_path / "split.pt",
        data_file=folder / "obs.nc",
        test_period=("2024-06-01T12:40:00Z", "2024-06-01T13:15:00Z"),
    )
    result = _run(folder, tmp_path / "out", models=[str(model)], data=None)
    np.testing.assert_array_equal(
        result.evaluation.start_times, [_time(40), _time(45), _time(50), _time(55)]
    )
    assert result.evaluation.notes[0].startswith(f"test split of {(folder / 'obs.nc').resolve()}")
    lost = write_checkpoint(tmp_path / "lost.pt", data_file=tmp_path / "gone.nc")
    with pytest.raises(InputError, match="names no data file that exists here; give --data"):
        _run(folder, tmp_path / "out2", models=[str(lost)], data=None)


def test_wrong_variable_and_unknown_baseline_are_input_errors(tmp_path: Path, folder: Path) -> None:
    with pytest.raises(InputError, match="was trained on intensity but .* holds rainfall_rate"):
        _run(folder, tmp_path / "a", models=[str(folder / "intensity.pt")])
    with pytest.raises(InputError, match="unknown baseline 'climatology'"):
        _run(folder, tmp_path / "b", baselines=["climatology"])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_intensity_data_gets_its_thresholds_and_frame_scores(
    tmp_path: Path, folder: Path, no_plots: None
) -> None:
    frames = np.random.default_rng(2).random((9, 16, 16), dtype=np.float32)
    write_canonical(tmp_path / "mnist.nc", frames, laea_grid(16, 16), variable="intensity")
    result = _run(
        folder, tmp_path / "out", models=[str(folder / "intensity.pt")], data=tmp_path / "mnist.nc"
    )
    assert result.evaluation.thresholds == (0.1, 0.5)
    assert set(FRAME_COLUMNS) <= set(result.continuous[0])
    assert {r["n_frames"] for r in result.continuous} == {2}


def test_forecast_file_scores_end_to_end(tmp_path: Path, folder: Path) -> None:
    """A file from ``nowcast forecast`` scores exactly as the same method run in memory."""
    forecast = tmp_path / "fc.nc"
    obs = folder / "obs.nc"
    made = runner.invoke(
        app,
        ["forecast", str(obs), "-n", "4", "-m", str(folder / "persist.pt"), "--at", "12:40"]
        + ["-o", str(forecast)],
    )
    assert made.exit_code == 1 and "not an ISO time" in made.stderr  # 12:40 alone is no date
    made = runner.invoke(
        app,
        ["forecast", str(obs), "-n", "4", "-m", str(folder / "persist.pt")]
        + ["--at", "2024-06-01T12:40", "-o", str(forecast)],
    )
    assert made.exit_code == 0, made.output
    result = runner.invoke(
        app,
        ["evaluate", "--forecast", str(forecast), "--obs", str(obs), "--baselines", "persistence"]
        + ["--output-dir", str(tmp_path / "ev")],
    )
    assert result.exit_code == 0, result.output
    assert "1 start times, leads 5-20 min" in " ".join(result.stdout.split())
    rows = _read_csv(tmp_path / "ev" / "categorical.csv")
    assert {r["method"] for r in rows} == {"fc", "persistence"}
    by_method: dict[str, list[list[str]]] = {"fc": [], "persistence": []}
    for row in rows:
        by_method[row["method"]].append([row[c] for c in ("lead_time_s", *CATEGORICAL_COLUMNS)])
    # The file holds the last observation (12:40) repeated, exactly what persistence predicts.
    assert by_method["fc"] == by_method["persistence"] and len(by_method["fc"]) == 16
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert (
        summary["forecast"] == str(forecast) and summary["period"] == ["2024-06-01T12:40:00Z"] * 2
    )
    continuous = _read_csv(tmp_path / "ev" / "continuous.csv")
    observed = load_observations([str(obs)]).read(np.arange(9, 13))
    last = load_observations([str(obs)]).read(np.array([8]))[0]
    expected_mse = np.nanmean((observed - last) ** 2, axis=(1, 2))
    mse = [float(r["mse"]) for r in continuous if r["method"] == "fc"]
    np.testing.assert_allclose(mse, expected_mse, rtol=1e-5)


def test_extrapolation_beats_persistence_on_a_moving_blob(
    tmp_path: Path, folder: Path, no_plots: None
) -> None:
    pytest.importorskip("pysteps")
    yy, xx = np.mgrid[0:32, 0:32]
    blob = [8 * np.exp(-((xx - 8 - 1.5 * k) ** 2 + (yy - 12 - k) ** 2) / 20.0) for k in range(10)]
    write_canonical(tmp_path / "blob.nc", np.stack(blob).astype(np.float32), laea_grid(32, 32))
    result = _run(
        folder,
        tmp_path / "out",
        data=tmp_path / "blob.nc",
        baselines=["persistence", "extrapolation"],
        max_starts=1,
    )
    assert [m.name for m in result.evaluation.methods] == ["rain", "persistence", "extrapolation"]
    mse = {(r["method"], r["lead_time_s"]): r["mse"] for r in result.continuous}
    for lead in LEADS:
        assert mse["extrapolation", lead] < 0.1 * mse["persistence", lead]
    csi = {
        (r["method"], r["lead_time_s"]): r["csi"]
        for r in result.categorical
        if r["threshold"] == 1.0
    }
    assert all(csi["extrapolation", lead] > csi["persistence", lead] for lead in LEADS)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["methods"][2]["library"].startswith("pysteps")


def test_extrapolation_is_scored_on_the_covered_pixels() -> None:
    pytest.importorskip("pysteps")
    from nowcast.verification.methods import baseline_methods

    (method,) = baseline_methods(["extrapolation"], [])
    yy, xx = np.mgrid[0:48, 0:48]
    frames = np.stack(
        [5.0 * np.exp(-((yy - 20) ** 2 + (xx - 10 - 3 * t) ** 2) / 40) for t in range(3)]
    )
    frames[:, :, :4] = np.nan  # no coverage in the western strip
    forecast = method.predict(frames, 6)
    covered = np.isfinite(frames[-1])
    assert not np.isnan(forecast[:, covered]).any()  # advected in from outside: no rain, not NaN
    assert np.isnan(forecast[:, ~covered]).all()
