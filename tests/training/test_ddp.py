"""Scale-out: deterministic sharding, and a real 2-process gloo run under torchrun."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from nowcast.training.checkpoint import load_checkpoint, model_from_checkpoint
from nowcast.training.distributed import (
    DistContext,
    EpochSampler,
    SubsetSampler,
    context,
    epoch_order,
    launched_by_torchrun,
)
from tests.training.conftest import write_blob_canonical

REPO = Path(__file__).resolve().parents[2]
RANKS = (DistContext(0, 2, 0), DistContext(1, 2, 1))


def test_epoch_order_is_a_seeded_function_of_seed_and_epoch():
    first = epoch_order(10, 0, seed=3, epoch=0)
    assert sorted(first.tolist()) == list(range(10))
    assert np.array_equal(first, epoch_order(10, 0, seed=3, epoch=0))
    assert not np.array_equal(first, epoch_order(10, 0, seed=3, epoch=1))
    assert not np.array_equal(first, epoch_order(10, 0, seed=4, epoch=0))
    subset = epoch_order(10, 4, seed=3, epoch=0)
    assert np.array_equal(subset, first[:4])
    more = epoch_order(10, 25, seed=3, epoch=0)  # 2.5 passes: every window at least twice
    assert more.size == 25 and np.bincount(more).min() == 2


def test_ranks_get_disjoint_equal_shards_that_resume_mid_epoch():
    shards = []
    for ctx in RANKS:
        sampler = EpochSampler(10, 7, seed=1, ctx=ctx)
        sampler.set_epoch(2)
        shards.append(list(sampler))
    order = epoch_order(10, 7, seed=1, epoch=2).tolist()
    assert len(shards[0]) == len(shards[1]) == 4  # 7 padded to 8: ranks step in lock-step
    assert shards[0] == order[0::2] and shards[1] == order[1::2] + order[:1]

    sampler = EpochSampler(10, 7, seed=1, ctx=RANKS[1])
    sampler.set_epoch(2, start=3)
    assert list(sampler) == shards[1][3:] and len(sampler) == 1


def test_validation_subset_is_fixed_and_split_without_padding():
    single = SubsetSampler(20, 5, seed=0, ctx=DistContext())
    assert len(single) == 5 and list(single) == sorted(single)
    assert list(single) == list(SubsetSampler(20, 5, seed=0, ctx=DistContext()))
    halves = [list(SubsetSampler(20, 5, seed=0, ctx=ctx)) for ctx in RANKS]
    assert sorted(halves[0] + halves[1]) == list(single) and len(halves[0]) == 3
    assert list(SubsetSampler(4, 0, seed=0, ctx=DistContext())) == [0, 1, 2, 3]


def test_single_process_needs_no_process_group(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    assert not launched_by_torchrun()
    ctx = context()
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.enabled) == (0, 1, True, False)


SCRIPT = """
import sys
from pathlib import Path
from nowcast.config import merge
from nowcast.training.run import train
from tests.helpers import tiny_config

train_settings = {{"batch_size": 2, "val_samples": 0, "max_epochs": 1, "checkpoint_every": 2}}
config = merge(tiny_config(train=train_settings), {{"data": {{"crop": 0, "flips": False}}}})
result = train(Path({data!r}), config, Path({run!r}))
sys.stdout.write(f"RESULT {{result.steps}} {{result.stop_reason}} {{result.last_val_loss}}\\n")
sys.stdout.flush()  # one write per rank: the two ranks share the pipe
"""


def test_two_process_gloo_run_trains_and_writes_one_checkpoint_set(tmp_path):
    data = write_blob_canonical(tmp_path / "blob.nc")
    run = tmp_path / "runs" / "ddp"
    script = tmp_path / "ddp_train.py"
    script.write_text(textwrap.dedent(SCRIPT.format(data=str(data), run=str(run))))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
    ]
    proc = subprocess.run(
        [*command, str(script)], env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    results = [line.split() for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert len(results) == 2  # both ranks finish, with the same steps and validation loss
    assert results[0][1:] == results[1][1:] and results[0][1:3] == ["4", "max_epochs"]
    assert sorted(p.name for p in run.iterdir()) == [
        "best.pt", "config.toml", "last.pt", "metrics.csv", "train.log"
    ]  # fmt: skip
    assert sorted(p.name for p in tmp_path.rglob("*.pt")) == ["best.pt", "last.pt"]
    log = (run / "train.log").read_text()
    assert "with 2 process(es)" in log and "computing on cpu in fp32, process group gloo" in log
    assert len((run / "metrics.csv").read_text().splitlines()) == 2

    last = load_checkpoint(run / "last.pt")
    assert last["step"] == 4  # 16 windows / 2 ranks / batch 2
    assert float(results[0][3]) == pytest.approx(last["history"][0]["val_loss"])
    assert float(results[0][3]) == pytest.approx(single_process_val_loss(last), rel=1e-5)


def single_process_val_loss(ckpt: dict) -> float:
    """The mean per-window validation loss of the checkpoint's weights, in one process."""
    from nowcast.config import RunConfig
    from nowcast.data.dataset import CanonicalWindows, windows_for
    from nowcast.training.losses import make_loss

    config = RunConfig.from_dict(ckpt["config"])
    model, transform, info = model_from_checkpoint(ckpt)
    path = Path(info["split"]["data_file"])
    windows = windows_for(path, config.data, "val")
    dataset = CanonicalWindows(path, windows, config.data, 4, train=False)
    loss_fn = make_loss(config.train.loss, transform)
    losses = []
    with torch.no_grad():
        for sample in dataset:
            pred = model(sample["x"][None], sample["y"].shape[0])
            losses.append(loss_fn(pred, sample["y"][None], sample["mask_y"][None]).item())
    return float(np.mean(losses))
