"""The training loop, its schedules and runtime helpers, on tiny data (hidden (4, 4), 32x32)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from nowcast.config import TrainConfig
from nowcast.errors import ConfigError
from nowcast.models.device import select_device
from nowcast.training import run as run_module
from nowcast.training.checkpoint import load_checkpoint, model_from_checkpoint
from nowcast.training.distributed import EpochSampler
from nowcast.training.loop import TrainingDivergedError, fit
from nowcast.training.run import train, update_latest
from nowcast.training.runtime import (
    autocast_context,
    compile_probe,
    cpu_has_bf16_matrix_units,
    make_grad_scaler,
    maybe_compile,
    memory_format,
    resolve_precision,
)
from nowcast.training.schedule import lr_at, total_steps
from nowcast.training.state import Callbacks
from tests.helpers import tiny_config
from tests.training.conftest import write_blob_canonical

CPU = torch.device("cpu")


class Recorder(Callbacks):
    """Keeps every callback call."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, float, float]] = []
        self.rows: list[dict] = []
        self.checkpoints: list[str] = []
        self.messages: list[str] = []

    def on_step(self, step: int, loss: float, lr: float, samples_per_s: float) -> None:
        assert samples_per_s > 0
        self.steps.append((step, loss, lr))

    def on_epoch_end(self, row: dict) -> None:
        self.rows.append(row)

    def on_checkpoint(self, path: Path) -> None:
        self.checkpoints.append(path.name)

    def on_message(self, text: str) -> None:
        self.messages.append(text)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_blob_canonical(tmp_path / "blob.nc")


def test_loss_decreases_and_run_folder_is_complete(data, tmp_path):
    calls = Recorder()
    run = tmp_path / "runs" / "first"
    result = train(data, tiny_config(train={"max_epochs": 4, "lr": 1e-2}), run, callbacks=calls)

    assert result.stop_reason == "max_epochs" and result.steps == 16
    val = [row["val_loss"] for row in result.history]
    train_loss = [row["train_loss"] for row in result.history]
    assert train_loss == sorted(train_loss, reverse=True)
    assert val[-1] < 0.6 * val[0]
    assert result.best_val_loss == min(val)
    assert [s[0] for s in calls.steps] == list(range(1, 17))
    assert calls.steps[0][2] == pytest.approx(1e-2 / 4)  # first warm-up step of 4
    assert calls.checkpoints.count("last.pt") == 4 and "best.pt" in calls.checkpoints
    assert sorted(p.name for p in run.iterdir()) == [
        "best.pt", "config.toml", "last.pt", "metrics.csv", "train.log"
    ]  # fmt: skip
    assert (tmp_path / "runs" / "latest").resolve() == run.resolve()
    assert len((run / "metrics.csv").read_text().splitlines()) == 5
    log = (run / "train.log").read_text().splitlines()
    assert "max_epochs" in log[-1]
    assert any(line.endswith("computing on cpu in fp32") for line in log)
    best = load_checkpoint(run / "best.pt")
    assert best["best_val_loss"] == result.best_val_loss


def test_max_steps_stops_mid_epoch_at_an_exact_position(data, tmp_path):
    calls = Recorder()
    result = train(data, tiny_config(train={"max_steps": 6}), tmp_path / "run", callbacks=calls)

    assert result.stop_reason == "max_steps" and result.steps == 6
    assert result.epochs == 1.5 and result.history[-1]["epoch"] == 1.5
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert (last["epoch"], last["step"], last["batch_in_epoch"]) == (1, 6, 2)
    assert [row["epoch"] for row in last["history"]] == [1.0]  # the partial row is not state
    assert last["progress"]["samples"] == 8.0
    assert any("resuming from last.pt continues there" in m for m in calls.messages)


def test_max_steps_before_the_first_epoch_end_still_writes_best(data, tmp_path):
    result = train(data, tiny_config(train={"max_steps": 2}), tmp_path / "run")
    assert result.best_checkpoint == tmp_path / "run" / "best.pt"
    assert result.last_val_loss is not None and result.best_val_loss == result.last_val_loss
    assert load_checkpoint(tmp_path / "run" / "last.pt")["best_val_loss"] is None  # resumable
    log = (tmp_path / "run" / "train.log").read_text().splitlines()
    assert log[-1].endswith(f"best val_loss {result.last_val_loss:.6g}")


class PoisonedLoss:
    """The real loss, but NaN from call ``at`` on."""

    def __init__(self, loss, at: int) -> None:
        self.loss, self.at, self.calls = loss, at, 0

    def __call__(self, pred, target, mask):
        self.calls += 1
        value = self.loss(pred, target, mask)
        return value * float("nan") if self.calls >= self.at else value


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(
    data, tmp_path, monkeypatch
):
    real = run_module.make_loss
    monkeypatch.setattr(run_module, "make_loss", lambda *a, **k: PoisonedLoss(real(*a, **k), at=7))
    config = tiny_config(train={"checkpoint_every": 2, "val_samples": 0})
    run = tmp_path / "run"

    with pytest.raises(TrainingDivergedError) as caught:
        train(data, config, run)

    message = str(caught.value)
    assert "\n" not in message
    assert "loss became nan at step 6 (epoch 2)" in message  # 4 steps + 1 validation call
    assert f"last good checkpoint is {run / 'last.pt'} (step 4)" in message
    last = load_checkpoint(run / "last.pt")
    assert last["step"] == 4
    assert all(torch.isfinite(t).all() for t in last["state_dict"].values())


class Toy(nn.Module):
    """Predicts every lead time as a convolution of the last input frame."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor, out_len: int) -> torch.Tensor:
        last = self.conv(x[:, -1])  # (B, C, H, W)
        return last.unsqueeze(1).expand(-1, out_len, -1, -1, -1)  # (B, T_out, C, H, W)


class Frames(Dataset):
    """Random 8x8 samples: 2 input frames, 2 target frames."""

    def __init__(self, n: int) -> None:
        generator = torch.Generator().manual_seed(0)
        self.x = torch.rand(n, 2, 1, 8, 8, generator=generator)
        self.y = torch.rand(n, 2, 1, 8, 8, generator=generator)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict:
        return {"x": self.x[index], "y": self.y[index]}


def toy_loaders(n: int = 16, batch: int = 4) -> tuple[DataLoader, DataLoader]:
    train_set, val_set = Frames(n), Frames(4)
    return (
        DataLoader(train_set, batch_size=batch, sampler=EpochSampler(n, 0, seed=0)),
        DataLoader(val_set, batch_size=batch),
    )


def mse(pred, target, mask):
    return ((pred - target) ** 2)[mask].mean()


def test_plateau_halves_the_lr_and_early_stopping_ends_the_run():
    cfg = TrainConfig(
        lr=0.0, schedule="constant", max_epochs=10, early_stopping=3, plateau_patience=2,
        device="cpu", checkpoint_every=0,
    )  # fmt: skip
    calls = Recorder()
    torch.manual_seed(0)
    result = fit(Toy(), *toy_loaders(), cfg, mse, callbacks=calls)

    assert result.stop_reason == "early_stopping"
    assert len(result.history) == 4  # epoch 1 sets the best, epochs 2-4 do not improve
    assert len({row["val_loss"] for row in result.history}) == 1
    assert any("learning rate scaled to x0.5" in m for m in calls.messages)
    assert any("early stopping" in m for m in calls.messages)


def test_max_minutes_stops_after_the_step_that_ran_out_of_time(tmp_path):
    cfg = TrainConfig(max_epochs=5, max_minutes=1e-9, device="cpu", checkpoint_every=0)
    meta = {"format_version": 1}
    result = fit(Toy(), *toy_loaders(), cfg, mse, run_dir=tmp_path, meta=meta)
    assert (result.stop_reason, result.steps, result.epochs) == ("max_minutes", 1, 0.25)
    assert load_checkpoint_raw(tmp_path / "last.pt")["batch_in_epoch"] == 1


def load_checkpoint_raw(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def test_fit_without_run_dir_writes_nothing_and_rejects_bad_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = TrainConfig(max_epochs=1, device="cpu", warmup_steps=0)
    result = fit(Toy(), *toy_loaders(), cfg, mse)
    assert result.last_checkpoint is None and list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match="unknown optimizer 'sgd'"):
        fit(Toy(), *toy_loaders(), TrainConfig(optimizer="sgd", device="cpu"), mse)
    with pytest.raises(ConfigError, match="unknown LR schedule 'step'"):
        fit(Toy(), *toy_loaders(), TrainConfig(schedule="step", device="cpu"), mse)


@pytest.mark.parametrize(
    ("schedule", "step", "expected"),
    [
        ("constant", 0, 1.0),
        ("constant", 99, 1.0),
        ("cosine", 0, 0.1),  # warm-up: (0 + 1) / 10
        ("cosine", 9, 1.0),  # end of warm-up
        ("cosine", 10, 1.0),  # cosine starts at the peak
        ("cosine", 55, 0.505),  # half-way: floor + (1 - floor) / 2
        ("cosine", 100, 0.01),  # the floor, peak / 100
        ("onecycle", 0, 0.04),  # peak / 25
        ("onecycle", 30, 1.0),  # the peak after 30 % of the steps
        ("onecycle", 100, 1e-4),
    ],
)
def test_lr_schedules_hit_their_landmarks(schedule, step, expected):
    cfg = TrainConfig(lr=1.0, schedule=schedule, warmup_steps=10)
    assert lr_at(step, cfg, total=100) == pytest.approx(expected)


def test_total_steps_is_the_smaller_budget():
    assert total_steps(TrainConfig(max_epochs=3, max_steps=0), 8) == 24
    assert total_steps(TrainConfig(max_epochs=3, max_steps=10), 8) == 10
    assert total_steps(TrainConfig(max_epochs=3, max_steps=100), 8) == 24


def test_device_and_precision_choices():
    assert select_device("cpu") == CPU
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            select_device("cuda")
    assert resolve_precision(CPU, "auto") == ("bf16" if cpu_has_bf16_matrix_units() else "fp32")
    assert resolve_precision(torch.device("cuda"), "auto") == "bf16"
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        resolve_precision(CPU, "fp16")
    assert memory_format(CPU, "bf16") == torch.channels_last
    assert memory_format(CPU, "fp32") == memory_format(torch.device("cuda"), "bf16")
    assert memory_format(CPU, "fp32") == torch.contiguous_format
    assert not make_grad_scaler(CPU, "fp32").is_enabled()
    with autocast_context(CPU, "bf16"):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.bfloat16
    with autocast_context(CPU, "fp32"):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32


def test_compile_falls_back_to_eager_with_a_message():
    model = Toy()
    assert maybe_compile(model, enabled=False) == (model, None)

    def failing_probe(compiled: nn.Module) -> None:
        raise RuntimeError("no working C compiler\nlong details")

    eager, message = maybe_compile(model, enabled=True, probe=failing_probe)
    assert eager is model
    assert message == "torch.compile failed (no working C compiler); running eager"


class CallLog(Toy):
    """A Toy that records, per call, whether it was in training mode and recording gradients."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor, out_len: int) -> torch.Tensor:
        self.calls.append((self.training, torch.is_grad_enabled()))
        return super().forward(x, out_len)


def test_compile_probe_makes_the_validation_and_the_training_calls():
    model = CallLog()
    probe = compile_probe(DataLoader(Frames(3)), CPU, "fp32")

    probe(model)

    assert model.calls == [(False, False), (True, True)]  # validation, then a training step
    assert model.training and all(p.grad is None for p in model.parameters())
    assert compile_probe(DataLoader(Frames(0)), CPU, "fp32") is None


def test_latest_falls_back_to_a_text_file_without_symlinks(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert update_latest(tmp_path / "a").resolve() == (tmp_path / "a").resolve()
    link = update_latest(tmp_path / "latest")  # a run resumed through the link itself
    assert link.is_symlink() and link.readlink() == Path("a")

    def no_symlinks(*args, **kwargs):
        raise OSError("symlinks not supported")

    monkeypatch.setattr(Path, "symlink_to", no_symlinks)
    link = update_latest(tmp_path / "b")
    assert not link.is_symlink() and link.read_text() == "b\n"
    assert not list(tmp_path.glob(".latest*"))


def test_lr_is_finite_for_tiny_runs():
    cfg = TrainConfig(lr=1e-3, schedule="cosine", warmup_steps=50)
    assert all(math.isfinite(lr_at(s, cfg, total=1)) for s in range(3))


def test_bf16_training_on_the_cpu_learns_in_channels_last_and_its_weights_load(data, tmp_path):
    result = train(
        data, tiny_config(train={"max_epochs": 4, "lr": 1e-2, "precision": "bf16"}), tmp_path
    )

    val = [row["val_loss"] for row in result.history]
    assert val[-1] < 0.7 * val[0]  # learns, as in float32 (0.6 there), within bf16's noise
    model = model_from_checkpoint(load_checkpoint(tmp_path / "best.pt"))[0]
    with torch.no_grad():  # channels-last weights load into a plain model, in float32
        out = model(torch.rand(1, 4, 1, 32, 32), 4)  # (B, T_in, C, H, W) -> (B, T_out, ...)
    assert out.shape == (1, 4, 1, 32, 32) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    log = (tmp_path / "train.log").read_text()
    assert "computing on cpu in bf16" in log
