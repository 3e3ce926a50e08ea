"""``nowcast train``'s options -> a plan: config, data file, run folder and who reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from nowcast.config_resolve import resolve_config
from nowcast.errors import InputError
from nowcast.training.checkpoint import config_from_checkpoint, load_checkpoint
from nowcast.training.launch import (
    SYNTHETIC_FILE,
    TrainOptions,
    describe_plan,
    options_config,
    plan_training,
)
from tests.forecasting.conftest import write_checkpoint


@pytest.fixture(autouse=True)
def _no_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A run folder whose ``last.pt`` records an existing data file."""
    data = tmp_path / "rain.nc"
    data.write_bytes(b"")
    folder = tmp_path / "runs" / "a"
    folder.mkdir(parents=True)
    write_checkpoint(folder / "last.pt", data_file=data)
    return folder


def test_a_new_run_takes_preset_file_and_settings_and_unset_options_change_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.toml"
    path.write_text("[train]\nlr = 0.5\n", encoding="utf-8")
    options = TrainOptions(
        preset="tiny",
        config_file=path,
        updates={"data": {"crop": None}, "train": {"max_steps": 2, "seed": None}},
    )
    assert options_config(options) == resolve_config("tiny", path, {"train": {"max_steps": 2}})


def test_no_data_plans_synthetic_rain_in_a_timestamped_run_folder_and_says_so() -> None:
    plan = plan_training(TrainOptions())
    assert plan.synthetic and plan.reports
    assert plan.run_dir.parent == Path("runs") and plan.run_dir.name.endswith("Z")
    assert plan.data_path == plan.run_dir / SYNTHETIC_FILE
    assert plan.config == resolve_config("quickstart", None, {})  # the recipe without one given
    line = describe_plan(plan)
    assert line.startswith(
        f"no DATA given: writing 32 synthetic rain sequences to {plan.data_path}"
    )
    assert "moving-frame residual ConvLSTM of 32/32 channels" in line and "for 3 min" in line

    tiny = plan_training(TrainOptions(preset="tiny", updates={"train": {"max_steps": 5}}))
    assert tiny.synthetic and tiny.config == resolve_config(
        "tiny", None, {"train": {"max_steps": 5}}
    )
    assert "for at most 5 steps (--max-steps)" in describe_plan(tiny)
    both = plan_training(TrainOptions(updates={"train": {"max_steps": 9}}))
    assert "for 9 steps or 3 min, whichever comes first" in describe_plan(both)


def test_given_data_keeps_the_built_in_defaults(tmp_path: Path) -> None:
    plan = plan_training(TrainOptions(data=tmp_path / "rain.nc", run_dir=tmp_path / "r"))
    assert not plan.synthetic and plan.config == resolve_config(None, None, {})
    assert describe_plan(plan) == (
        f"training a ConvLSTM of 32/32 channels on {tmp_path / 'rain.nc'} "
        f"for at most 20 epochs (--max-epochs), into {tmp_path / 'r'}"
    )


def test_resume_keeps_the_checkpoints_config_its_data_and_its_folder(run: Path) -> None:
    stored = config_from_checkpoint(load_checkpoint(run / "last.pt"))
    plan = plan_training(
        TrainOptions(preset="radar", resume=run, updates={"train": {"max_epochs": 9}})
    )
    assert plan.config.model == stored.model and plan.config.data == stored.data
    assert plan.config.train.max_epochs == 9 and plan.config.train.lr == stored.train.lr
    assert plan.run_dir == run and plan.resume == run
    assert plan.data_path == Path(load_checkpoint(run / "last.pt")["data"]["split"]["data_file"])
    assert plan_training(TrainOptions(resume=run / "last.pt")).run_dir == run


def test_resume_without_its_data_file_asks_for_one(run: Path, tmp_path: Path) -> None:
    (tmp_path / "rain.nc").unlink()
    with pytest.raises(InputError, match="give DATA.nc"):
        plan_training(TrainOptions(resume=run))


def test_under_torchrun_a_run_folder_is_required_and_only_rank_0_reports(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(InputError, match="--run-dir"):
        plan_training(TrainOptions(preset="tiny"))
    with pytest.raises(InputError, match="give DATA.nc"):  # they cannot share one written now
        plan_training(TrainOptions(preset="tiny", run_dir=tmp_path / "r"))
    data = tmp_path / "rain.nc"
    assert not plan_training(TrainOptions(data=data, preset="tiny", run_dir=tmp_path / "r")).reports
    monkeypatch.setenv("RANK", "0")
    assert plan_training(TrainOptions(data=data, preset="tiny", run_dir=tmp_path / "r")).reports
