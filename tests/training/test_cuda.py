"""The CUDA paths: mixed precision, cross-device checkpoints, GPU inference, NCCL.

These run only where a GPU is present (``bench/speed/gpu_check.sh`` runs them on a
GPU machine); CI has none and skips them with the reason below.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from nowcast.config import RunConfig, merge
from nowcast.forecasting.model_choice import load_model, resolve_model
from nowcast.forecasting.predict import predict
from nowcast.training.checkpoint import load_checkpoint, model_from_checkpoint
from nowcast.training.run import train
from tests.helpers import tiny_config
from tests.training.conftest import write_blob_canonical

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

REPO = Path(__file__).resolve().parents[2]
CUDA = torch.device("cuda")


def gpu_config(precision: str, device: str = "cuda", compile: bool = False) -> RunConfig:
    """2 epochs of 4 steps on the blob file, on ``device`` in ``precision``, 8-channel layers."""
    settings = {"device": device, "precision": precision, "compile": compile}
    return merge(
        tiny_config(train={**settings, "max_epochs": 2, "checkpoint_every": 3}),
        {"model": {"hidden_channels": [8, 8]}},
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_blob_canonical(tmp_path_factory.mktemp("data") / "blob.nc")


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_cuda_training_in_each_precision_learns_and_saves_cpu_weights(data, tmp_path, precision):
    run = tmp_path / precision
    result = train(data, gpu_config(precision), run)

    assert result.steps == 8 and result.stop_reason == "max_epochs"
    ckpt = load_checkpoint(run / "last.pt")
    losses = [row["train_loss"] for row in ckpt["history"]]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert math.isfinite(result.last_val_loss)
    assert ckpt["config"]["train"]["precision"] == precision
    assert all(t.device.type == "cpu" for t in ckpt["state_dict"].values())
    model, _, _ = model_from_checkpoint(ckpt)  # rebuilds on a CPU-only machine too
    assert torch.isfinite(model(torch.rand(1, 5, 1, 16, 16), 3)).all()


def test_a_gpu_run_resumes_on_the_cpu_and_on_the_gpu(data, tmp_path):
    run = tmp_path / "gpu"
    train(data, gpu_config("bf16"), run)
    more = {"train": {"max_epochs": 3}}

    cpu_config = merge(gpu_config("fp32", device="cpu"), more)
    on_cpu = train(data, cpu_config, tmp_path / "cpu", resume=run / "last.pt")
    on_gpu = train(data, merge(gpu_config("bf16"), more), run, resume=run / "last.pt")

    assert on_cpu.steps == on_gpu.steps == 12
    cpu_val, gpu_val = on_cpu.last_val_loss, on_gpu.last_val_loss
    assert math.isfinite(cpu_val) and gpu_val == pytest.approx(cpu_val, rel=0.1)


def test_compiled_bf16_training_runs_or_says_why_it_fell_back(data, tmp_path):
    run = tmp_path / "compiled"
    result = train(data, gpu_config("bf16", compile=True), run)

    assert result.steps == 8 and math.isfinite(result.last_val_loss)
    log = (run / "train.log").read_text()
    assert "compiled with torch.compile" in log or "running eager" in log


@pytest.mark.parametrize("lagrangian", [False, True])
def test_gpu_forecast_matches_the_cpu_forecast(lagrangian):
    frames = np.zeros((5, 200, 300), dtype=np.float32)
    yy, xx = np.mgrid[0:200, 0:300]
    for t in range(5):  # a rain cell moving east, in the model's log space
        frames[t] = 2.0 * np.exp(-((yy - 100) ** 2 + (xx - 80 - 6 * t) ** 2) / 400)
    path = resolve_model("default")
    cpu = load_model(path, torch.device("cpu"))
    gpu = load_model(path, CUDA)
    cpu.model.lagrangian = gpu.model.lagrangian = lagrangian  # motion estimated on each device
    patch = cpu.patch_size

    on_cpu = predict(cpu.model, frames, 12, patch=patch, device=torch.device("cpu"), tile=128)
    on_gpu = predict(gpu.model, frames, 12, patch=patch, device=CUDA, tile=128)

    assert on_gpu.shape == on_cpu.shape == (12, 200, 300)
    assert np.abs(on_gpu - on_cpu).max() < 1e-2 * max(1.0, np.abs(on_cpu).max())


NCCL_SCRIPT = """
from pathlib import Path
from tests.training.test_cuda import gpu_config
from nowcast.training.run import train

result = train(Path({data!r}), gpu_config("bf16"), Path({run!r}))
print("RESULT", result.steps, result.stop_reason)
"""


def test_torchrun_on_one_gpu_uses_nccl_and_writes_the_run(data, tmp_path):
    run = tmp_path / "runs" / "nccl"
    script = tmp_path / "nccl_train.py"
    script.write_text(textwrap.dedent(NCCL_SCRIPT.format(data=str(data), run=str(run))))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=1"]
    proc = subprocess.run(
        [*command, str(script)], env=env, capture_output=True, text=True, timeout=300
    )

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RESULT 8 max_epochs" in proc.stdout
    assert (run / "best.pt").is_file() and (run / "last.pt").is_file()
    log = (run / "train.log").read_text()
    assert "computing on cuda:0 (" in log and "in bf16, process group nccl" in log
