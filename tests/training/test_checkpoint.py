"""Checkpoints: plain dicts, weights_only loading, refusal of unsafe files, atomic writes."""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from nowcast.config import RunConfig, merge
from nowcast.data.transforms import make_transform
from nowcast.errors import CheckpointError, ConfigError
from nowcast.models import build_model
from nowcast.training import checkpoint as ckpt_module
from nowcast.training.checkpoint import (
    FORMAT_VERSION,
    config_from_checkpoint,
    load_checkpoint,
    make_header,
    model_from_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from nowcast.training.runtime import rng_state, set_rng_state


def tiny_run_config() -> RunConfig:
    return merge(RunConfig(), {"model": {"hidden_channels": [4, 4]}, "data": {"in_len": 3}})


def make_payload(config: RunConfig | None = None) -> tuple[dict, torch.nn.Module]:
    config = config or tiny_run_config()
    torch.manual_seed(0)
    model = build_model(config.model)
    optimizer = torch.optim.AdamW(model.parameters())
    data = {
        "variable": "rainfall_rate",
        "units": "mm h-1",
        "transform": make_transform(config.data).to_dict(),
        "in_len": config.data.in_len,
        "out_len": config.data.out_len,
        "timestep_s": 300,
        "patch_size": config.model.patch_size,
    }
    payload = {
        **make_header(config, data),
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": rng_state(),
        "epoch": 1,
        "step": 10,
        "best_val_loss": None,
        "history": [{"epoch": 1.0, "val_loss": 0.5}],
    }
    return payload, model


class Evil:
    """Unpickling this runs a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_round_trip_loads_with_weights_only_and_rebuilds_the_model(tmp_path):
    payload, model = make_payload()
    path = save_checkpoint(tmp_path / "best.pt", payload)

    raw = torch.load(path, map_location="cpu", weights_only=True)  # the contract itself
    assert raw["format_version"] == FORMAT_VERSION and raw["step"] == 10
    loaded = load_checkpoint(path)
    rebuilt, transform, info = model_from_checkpoint(loaded)

    x = torch.rand(1, 3, 1, 16, 16)
    model.eval()
    with torch.no_grad():
        assert torch.equal(rebuilt(x, 2), model(x, 2))
    assert not rebuilt.training
    assert transform.to_dict() == {"name": "log_rain", "rain_threshold": 0.1, "max_rate": 100.0}
    assert (info["variable"], info["in_len"], info["patch_size"]) == ("rainfall_rate", 3, 4)
    assert config_from_checkpoint(loaded) == tiny_run_config()
    assert loaded["model"] == {
        "name": "encoder_forecaster",
        "config": tiny_run_config().to_dict()["model"],
    }


def test_random_states_survive_a_weights_only_round_trip(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    state = rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    save_checkpoint(tmp_path / "rng.pt", {"rng": state})
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True)["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_a_malicious_pickle_is_refused_and_never_runs(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    evil = {"format_version": 1, "state_dict": Evil(marker)}
    if writer == "torch.save":
        torch.save(evil, path)
    else:
        with open(path, "wb") as handle:
            pickle.dump(evil, handle)

    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)

    message = str(caught.value)
    assert message.startswith(f"{path} is not a safe nowcast checkpoint: ")
    assert "\n" not in message
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "not found"),
        (b"", "not a readable checkpoint"),
        (b"hello world", "not a readable checkpoint"),
        ("truncated", "not a readable checkpoint (truncated or not a torch file: RuntimeError"),
        ({"weights": torch.ones(2)}, "is not a nowcast checkpoint (missing: format_version"),
        (torch.ones(2), "is not a nowcast checkpoint (holds a Tensor)"),
        ("future", "has checkpoint format 99"),
    ],
)
def test_broken_files_give_one_line_errors(tmp_path, content, expected):
    path = tmp_path / "model.pt"
    if content == "truncated":
        save_checkpoint(path, make_payload()[0])
        path.write_bytes(path.read_bytes()[:2000])
    elif content == "future":
        payload = make_payload()[0]
        torch.save({**payload, "format_version": 99}, path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)

    with pytest.raises(CheckpointError, match="^[^\n]*$") as caught:
        load_checkpoint(path)
    assert expected in str(caught.value)


def test_atomic_write_leaves_no_temporary_files(tmp_path, monkeypatch):
    payload = make_payload()[0]
    save_checkpoint(tmp_path / "last.pt", payload)
    save_checkpoint(tmp_path / "last.pt", {**payload, "step": 11})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]

    def crash_mid_write(obj, handle):
        handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_module.torch, "save", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path / "last.pt", {**payload, "step": 12})

    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 11


def test_objects_that_would_need_pickle_are_rejected_before_writing(tmp_path):
    with pytest.raises(TypeError, match=r"checkpoint payload\['config'\] holds a RunConfig"):
        save_checkpoint(tmp_path / "x.pt", {"config": RunConfig()})
    assert list(tmp_path.iterdir()) == []


def test_weights_that_do_not_fit_the_architecture_are_refused(tmp_path):
    payload, _ = make_payload()
    bigger = merge(tiny_run_config(), {"model": {"hidden_channels": [8, 8]}})
    payload["model"]["config"] = bigger.to_dict()["model"]
    with pytest.raises(
        CheckpointError, match="checkpoint weights do not fit model 'encoder_forecaster'"
    ):
        model_from_checkpoint(payload)


def test_resolve_checkpoint_from_files_run_folders_and_latest(tmp_path):
    runs = tmp_path / "runs"
    run = runs / "r1"
    run.mkdir(parents=True)
    for name in ("best.pt", "last.pt"):
        (run / name).write_bytes(b"x")

    assert resolve_checkpoint(run / "last.pt") == run / "last.pt"
    assert resolve_checkpoint(run) == run / "best.pt"
    assert resolve_checkpoint(run, "last") == run / "last.pt"
    (runs / "latest").symlink_to("r1")
    assert resolve_checkpoint(runs).resolve() == (run / "best.pt").resolve()
    (runs / "latest").unlink()
    (runs / "latest").write_text("r1\n")
    assert resolve_checkpoint(runs, "last") == run / "last.pt"

    with pytest.raises(ConfigError, match="unknown checkpoint 'first'"):
        resolve_checkpoint(run, "first")
    with pytest.raises(CheckpointError, match="no such checkpoint file or run folder"):
        resolve_checkpoint(tmp_path / "nothing")
    (run / "best.pt").unlink()
    with pytest.raises(CheckpointError, match=r"no best.pt in .*r1 \(found: last.pt\)"):
        resolve_checkpoint(run)
