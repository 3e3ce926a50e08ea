"""Ctrl-C and SIGTERM stop training between steps, after last.pt holds the exact position."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

from nowcast.config import RunConfig, TrainConfig
from nowcast.errors import Terminated
from nowcast.training.checkpoint import load_checkpoint, make_header
from nowcast.training.loop import fit
from nowcast.training.signals import SignalGuard
from nowcast.training.state import Callbacks
from tests.training.test_resume import DropoutToy, mse, toy_loader

CFG = TrainConfig(max_epochs=2, checkpoint_every=0, device="cpu", warmup_steps=2)
"""8 steps of 3 samples; last.pt only at epoch ends, unless a signal stops the run."""
META = make_header(RunConfig(), {"variable": "intensity"})


def loader() -> DataLoader:
    """``toy_loader`` with a generator of its own, as training's loaders have: starting it
    mid-epoch then draws nothing from the random stream that dropout uses."""
    toy = toy_loader()
    own = torch.Generator().manual_seed(0)
    return DataLoader(toy.dataset, batch_size=3, sampler=toy.sampler, generator=own)


def _fit(run_dir: Path, **options: Any) -> None:
    """Train the toy for :data:`CFG` into ``run_dir``, with ``fit``'s other ``options``."""
    run_dir.mkdir(exist_ok=True)
    fit(DropoutToy(), loader(), None, CFG, mse, run_dir=run_dir, meta=META, **options)


class SignalAt(Callbacks):
    """Send ``signum`` to this process once step ``step`` is done, as ``kill`` would."""

    def __init__(self, step: int, signum: int) -> None:
        self.step, self.signum = step, signum

    def on_step(self, step: int, loss: float, lr: float, samples_per_s: float) -> None:
        if step == self.step:
            os.kill(os.getpid(), self.signum)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@pytest.fixture
def cli_sigterm() -> Iterator[None]:
    """SIGTERM as the CLI handles it, for the length of a test."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize(
    ("signum", "raised"),
    [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_saves_the_exact_position_and_the_run_resumes_bit_identical(
    tmp_path: Path, cli_sigterm: None, signum: int, raised: type[BaseException]
) -> None:
    plain, stopped = tmp_path / "plain", tmp_path / "stopped"
    _fit(plain)
    with pytest.raises(raised):
        _fit(stopped, callbacks=SignalAt(3, signum))
    saved = load_checkpoint(stopped / "last.pt")
    assert (saved["step"], saved["epoch"], saved["batch_in_epoch"]) == (3, 0, 3)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers back

    _fit(stopped, state=saved)

    a, b = load_checkpoint(plain / "last.pt"), load_checkpoint(stopped / "last.pt")
    assert a["step"] == b["step"] == 8
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_an_ignored_signal_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with SignalGuard() as guard:
            os.kill(os.getpid(), signal.SIGINT)
        assert guard.received is None
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
