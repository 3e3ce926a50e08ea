"""Exact resume: an interrupted run continued from last.pt ends bit-identical to a plain run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from nowcast.config import RunConfig, TrainConfig, merge
from nowcast.errors import CheckpointError, OutputExistsError
from nowcast.training.checkpoint import load_checkpoint, make_header
from nowcast.training.distributed import EpochSampler
from nowcast.training.loop import fit
from nowcast.training.run import resume_config, train
from nowcast.training.state import Callbacks
from tests.helpers import tiny_config
from tests.training.conftest import write_blob_canonical

REPO = Path(__file__).resolve().parents[2]


RESUME_RUN = {"max_epochs": 3, "checkpoint_every": 3}
"""With :func:`tiny_config`'s 4 steps per epoch, last.pt every 3 steps falls mid-epoch."""


class StopAt(Callbacks):
    """Raise inside the loop once step ``step`` is done, like a crash."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step(self, step: int, loss: float, lr: float, samples_per_s: float) -> None:
        if step == self.step:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_blob_canonical(tmp_path_factory.mktemp("data") / "blob.nc")


@pytest.fixture(scope="module")
def uninterrupted(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    run = tmp_path_factory.mktemp("runs") / "plain"
    result = train(data, tiny_config(train=RESUME_RUN), run)
    assert result.steps == 12 and result.stop_reason == "max_epochs"
    return load_checkpoint(run / "last.pt")


def assert_same_training_state(a: dict, b: dict) -> None:
    assert a["step"] == b["step"] and a["epoch"] == b["epoch"]
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), name
    for index, state in a["optimizer"]["state"].items():
        for key, value in state.items():
            assert torch.equal(value, b["optimizer"]["state"][index][key]), (index, key)
    assert [r["val_loss"] for r in a["history"]] == [r["val_loss"] for r in b["history"]]
    assert [r["train_loss"] for r in a["history"]] == [r["train_loss"] for r in b["history"]]


def test_resume_after_crash_mid_epoch_is_bit_identical(data, uninterrupted, tmp_path):
    run = tmp_path / "crashed"
    with pytest.raises(KeyboardInterrupt):
        train(data, tiny_config(train=RESUME_RUN), run, callbacks=StopAt(7))
    saved = load_checkpoint(run / "last.pt")
    assert (saved["step"], saved["epoch"], saved["batch_in_epoch"]) == (6, 1, 2)

    result = train(data, tiny_config(train=RESUME_RUN), run, resume=run / "last.pt")

    assert result.steps == 12
    assert_same_training_state(uninterrupted, load_checkpoint(run / "last.pt"))
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0] == "epoch,step,train_loss,val_loss,lr,seconds,samples_per_s"
    assert [row.split(",")[:2] for row in rows[1:]] == [["1", "4"], ["2", "8"], ["3", "12"]]


def test_resume_after_kill_9_is_bit_identical(data, uninterrupted, tmp_path):
    run = tmp_path / "killed"
    script = textwrap.dedent(
        f"""
        import os, signal
        from tests.helpers import tiny_config
        from nowcast.training.loop import fit
        from nowcast.training.state import Callbacks
        from nowcast.training.run import resume_config, train

        class Kill(Callbacks):
            def on_step(self, step, loss, lr, samples_per_s):
                if step == 10:
                    os.kill(os.getpid(), signal.SIGKILL)

        train({str(data)!r}, tiny_config(train={RESUME_RUN!r}), {str(run)!r}, callbacks=Kill())
        """
    )
    # The same thread count as this process: CPU kernels may sum in another order otherwise.
    threads = str(torch.get_num_threads())
    env = {**os.environ, "OMP_NUM_THREADS": threads, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert load_checkpoint(run / "last.pt")["step"] == 9
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))

    train(data, tiny_config(train=RESUME_RUN), run, resume=run)  # the run folder names its last.pt

    assert_same_training_state(uninterrupted, load_checkpoint(run / "last.pt"))


def test_resume_refuses_data_with_another_variable(data, uninterrupted, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    torch.save(uninterrupted, run / "last.pt")
    other = write_blob_canonical(tmp_path / "mnist.nc", variable="intensity")
    with pytest.raises(
        CheckpointError, match="trained on rainfall_rate but .*mnist.nc holds intensity"
    ):
        train(other, tiny_config(train=RESUME_RUN), tmp_path / "new", resume=run / "last.pt")


def test_resume_uses_the_checkpoint_model_and_reports_changed_settings(data, tmp_path):
    run = tmp_path / "run"
    train(data, merge(tiny_config(train=RESUME_RUN), {"train": {"max_epochs": 1}}), run)
    bigger = merge(
        tiny_config(train=RESUME_RUN),
        {"model": {"hidden_channels": [16, 16]}, "train": {"seed": 7}},
    )
    messages: list[str] = []

    class Record(Callbacks):
        def on_message(self, text: str) -> None:
            messages.append(text)

    result = train(data, bigger, run, resume=run, callbacks=Record())

    assert result.steps == 12
    ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["model"]["config"]["hidden_channels"] == [4, 4]
    assert ckpt["config"]["train"]["seed"] == 7
    assert any("train.seed changed from 0 to 7; the run will not match" in m for m in messages)
    assert any(m == "resume: train.max_epochs changed from 1 to 3; the run will not match an "
               "uninterrupted one" for m in messages)  # fmt: skip


def test_resume_config_keeps_the_checkpoint_settings_except_the_updates(data, tmp_path):
    run = tmp_path / "run"
    original = merge(tiny_config(train=RESUME_RUN), {"train": {"max_epochs": 1, "lr": 5e-3}})
    train(data, original, run)

    config = resume_config(run, {"train": {"max_epochs": 2}})

    assert config == merge(original, {"data": {"timestep_s": 300}, "train": {"max_epochs": 2}})


def test_new_run_refuses_a_folder_holding_a_run(data, tmp_path):
    run = tmp_path / "run"
    train(data, merge(tiny_config(train=RESUME_RUN), {"train": {"max_steps": 1}}), run)
    with pytest.raises(OutputExistsError, match="already holds a run"):
        train(data, tiny_config(train=RESUME_RUN), run)


class DropoutToy(nn.Module):
    """Dropout draws from the global torch RNG: a resume must restore it exactly."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.drop = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor, out_len: int) -> torch.Tensor:
        last = self.drop(self.conv(x[:, -1]))  # (B, C, H, W)
        return last.unsqueeze(1).expand(-1, out_len, -1, -1, -1)  # (B, T_out, C, H, W)


def toy_loader(seed: int = 0) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    samples = [
        {
            "x": torch.rand(2, 1, 8, 8, generator=generator),
            "y": torch.rand(2, 1, 8, 8, generator=generator),
        }
        for _ in range(12)
    ]
    return DataLoader(samples, batch_size=3, sampler=EpochSampler(12, 0, seed=seed))


def mse(pred, target, mask):
    return ((pred - target) ** 2)[mask].mean()


def test_fit_restores_random_states_for_models_that_use_them(tmp_path):
    cfg = TrainConfig(max_epochs=2, checkpoint_every=3, device="cpu", warmup_steps=2)
    meta = make_header(RunConfig(), {"variable": "intensity"})
    plain, crashed = tmp_path / "plain", tmp_path / "crashed"
    plain.mkdir()
    crashed.mkdir()
    fit(DropoutToy(), toy_loader(), None, cfg, mse, run_dir=plain, meta=meta)
    with pytest.raises(KeyboardInterrupt):
        fit(
            DropoutToy(),
            toy_loader(),
            None,
            cfg,
            mse,
            run_dir=crashed,
            meta=meta,
            callbacks=StopAt(5),
        )
    torch.manual_seed(123)  # whatever the RNG holds now, the resume restores it

    fit(DropoutToy(), toy_loader(), None, cfg, mse, run_dir=crashed, meta=meta,
        state=load_checkpoint(crashed / "last.pt"))  # fmt: skip

    a, b = load_checkpoint(plain / "last.pt"), load_checkpoint(crashed / "last.pt")
    assert a["step"] == b["step"] == 8
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
