"""A checkpoint that loads safely but cannot work is refused on load with one line naming it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import netCDF4
import pytest
import torch
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.errors import CheckpointError
from nowcast.training.checkpoint import load_checkpoint, save_checkpoint
from nowcast.training.launch import TrainOptions, plan_training
from tests.forecasting.conftest import rain_stack, write_checkpoint
from tests.helpers import write_canonical

runner = CliRunner()
Change = Callable[[dict[str, Any]], None]


def _nan_weight(payload: dict[str, Any]) -> None:
    name = next(iter(payload["state_dict"]))
    payload["state_dict"][name] = torch.full_like(payload["state_dict"][name], float("nan"))


def _set(section: str, key: str, value: object) -> Change:
    def change(payload: dict[str, Any]) -> None:
        payload[section][key] = value

    return change


def _model_config(key: str, value: object) -> Change:
    def change(payload: dict[str, Any]) -> None:
        payload["model"]["config"][key] = value

    return change


def _broken(tmp_path: Path, change: Change, name: str = "broken.pt") -> Path:
    """A valid tiny checkpoint, changed by ``change`` and saved again."""
    path = write_checkpoint(tmp_path / name)
    payload = torch.load(path, weights_only=True)
    change(payload)
    return save_checkpoint(path, payload)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("state_dict", "extra", [1, 2]), "state_dict is not a mapping of names to tensors"),
        (_nan_weight, "holds NaN or infinite values (the run diverged)"),
        (_model_config("patch_size", 0), "model.patch_size must be a finite number >= 1, got 0"),
        (_model_config("hidden_channels", [8, -8]), "model.hidden_channels must be a non-empty"),
        (_set("data", "in_len", 0), "data.in_len must be a whole number >= 1, got 0"),
        (_set("data", "timestep_s", -300), "data.timestep_s must be a whole number >= 1"),
        (_set("data", "patch_size", 2), "data.patch_size 2 differs from the model's patch_size 4"),
        (
            _set("model", "name", "persistence"),
            "records model 'persistence' but its model config builds 'encoder_forecaster'",
        ),
    ],
)
def test_an_unusable_checkpoint_is_one_checkpoint_error(
    tmp_path: Path, change: Change, message: str
) -> None:
    path = _broken(tmp_path, change)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_forecast_from_nan_weights_fails_with_one_line_and_no_file(tmp_path: Path) -> None:
    fields, grid = rain_stack(6)
    obs = write_canonical(tmp_path / "obs.nc", fields, grid)
    model = _broken(tmp_path, _nan_weight)
    out = tmp_path / "fc.nc"
    result = runner.invoke(app, ["forecast", str(obs), "-m", str(model), "-o", str(out)])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {model}: state_dict[")
    assert "Traceback" not in result.output
    assert not out.exists()


def test_resuming_from_nan_weights_is_refused_before_training(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    data = write_canonical(tmp_path / "obs.nc", *rain_stack(6))
    _broken(run, _nan_weight, "last.pt")
    with pytest.raises(CheckpointError, match="holds NaN or infinite values"):
        plan_training(TrainOptions(data=data, resume=run))


def test_the_forecast_file_names_the_network_that_ran(tmp_path: Path) -> None:
    fields, grid = rain_stack(6)
    obs = write_canonical(tmp_path / "obs.nc", fields, grid)
    model = write_checkpoint(tmp_path / "persist.pt", model="persistence")
    out = tmp_path / "fc.nc"
    result = runner.invoke(app, ["forecast", str(obs), "-m", str(model), "-n", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with netCDF4.Dataset(out) as nc:
        assert "; model persistence (persist.pt)" in nc.source
