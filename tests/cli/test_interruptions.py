"""The real command line stopped by SIGTERM, Ctrl-C or a file size limit: one line, no leftovers."""

from __future__ import annotations

import os
import resource
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.training.checkpoint import load_checkpoint
from tests.forecasting.conftest import rain_stack, write_checkpoint
from tests.helpers import write_canonical
from tests.training.conftest import write_blob_canonical

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "NOWCAST_DEVICE": "cpu"}
SLOW_WRITER = """
import sys, time
from nowcast.cli import main
from nowcast.io.writers.forecast import ForecastWriter

write_step = ForecastWriter.write_step


def slow_write_step(self, index, values, members=None):
    time.sleep(0.2)
    write_step(self, index, values, members)


ForecastWriter.write_step = slow_write_step
main()
"""
"""The CLI with a forecast writer slowed down, so that a signal surely finds it writing."""


@pytest.fixture
def digits(tmp_path: Path) -> Path:
    """An IDX file of 100 random 28 x 28 digits: ``ingest`` makes sequences from it for as
    long as asked, so a run lasts long enough to be stopped while it writes."""
    images = (np.random.default_rng(0).random((100, 28, 28)) > 0.7).astype(np.uint8) * 255
    path = tmp_path / "digits-idx3-ubyte"
    path.write_bytes(struct.pack(">IIII", 0x803, 100, 28, 28) + images.tobytes())
    return path


def _start(args: list[str], cwd: Path, program: list[str] | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, *(program or ["-m", "nowcast"]), *args]
    return subprocess.Popen(
        command, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(ready: Callable[[], object], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not ready():
        assert proc.poll() is None, f"ended before it was stopped: {proc.communicate()[1]}"
        assert time.monotonic() < deadline, "never started writing"
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[str], signum: int) -> tuple[int, str]:
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    return proc.returncode, stderr


def _error_line(stderr: str) -> str:
    """The one ``error:`` line, which ends the output; no traceback."""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and stderr.splitlines()[-1] == errors[0], stderr
    assert "Traceback" not in stderr
    return errors[0]


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("signum", "code", "line"),
    [(signal.SIGTERM, 143, "error: terminated"), (signal.SIGINT, 130, "error: interrupted")],
    ids=["SIGTERM", "SIGINT"],
)
def test_a_signal_during_ingest_leaves_no_temporary_file(
    tmp_path: Path, digits: Path, signum: int, code: int, line: str
) -> None:
    args = ["ingest", digits.name, "--format", "mnist-idx", "--sequences", "5000", "-o", "m.nc"]
    proc = _start(args, tmp_path)
    _wait_for(lambda: list(tmp_path.glob(".m.nc.*.tmp")), proc)
    returncode, stderr = _stop(proc, signum)
    assert returncode == code and _error_line(stderr) == line
    assert _names(tmp_path) == [digits.name]


def test_sigterm_while_a_forecast_is_written(tmp_path: Path) -> None:
    write_canonical(tmp_path / "obs.nc", rain_stack(12)[0])
    write_checkpoint(tmp_path / "m.pt")
    args = ["forecast", "obs.nc", "--model", "m.pt", "--steps", "50", "-o", "fc.nc"]
    proc = _start(args, tmp_path, ["-c", SLOW_WRITER])
    _wait_for(lambda: list(tmp_path.glob(".fc.nc.*.tmp")), proc)
    returncode, stderr = _stop(proc, signal.SIGTERM)
    assert returncode == 143 and _error_line(stderr) == "error: terminated"
    assert _names(tmp_path) == ["m.pt", "obs.nc"]


def test_a_file_size_limit_is_one_error_line(tmp_path: Path, digits: Path) -> None:
    """``ulimit -f``: without the CLI ignoring SIGXFSZ the kernel would kill it mid-write."""
    limit = 256 * 1024  # the output would be about 3.4 MB

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    args = ["ingest", digits.name, "--format", "mnist-idx", "--sequences", "200", "-o", "m.nc"]
    proc = subprocess.run(
        [sys.executable, "-m", "nowcast", *args],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        preexec_fn=limited,
        timeout=120,
    )
    assert proc.returncode == 1
    assert _error_line(proc.stderr) == "error: cannot write m.nc: File too large"
    assert _names(tmp_path) == [digits.name]


@pytest.mark.slow
def test_sigterm_saves_training_and_a_second_run_is_refused(tmp_path: Path) -> None:
    data = write_blob_canonical(tmp_path / "blob.nc", n=60)
    run = tmp_path / "run"
    train = ["train", str(data), "--preset", "tiny", "--run-dir", str(run)]
    proc = _start([*train, "--max-epochs", "1000", "--checkpoint-every", "1"], tmp_path)
    _wait_for(lambda: (run / "last.pt").exists(), proc)

    second = CliRunner().invoke(app, train, env={"NOWCAST_DEVICE": "cpu"})
    assert second.exit_code == 1
    assert _error_line(second.stderr) == (
        f"error: {run} is in use by another training run (process {proc.pid}); "
        "wait for it to end or choose another --run-dir"
    )

    returncode, stderr = _stop(proc, signal.SIGTERM)
    assert returncode == 143
    assert _error_line(stderr) == (
        f"error: terminated; training state saved in {run / 'last.pt'}; "
        f"continue with: nowcast train --resume {run}"
    )
    assert not list(run.glob(".*.tmp"))
    step = load_checkpoint(run / "last.pt")["step"]

    resumed = CliRunner().invoke(
        app, ["train", "--resume", str(run), "--max-steps", str(step + 1)], env=ENV
    )
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout.count(f"resumed from step {step} ") == 1  # a log line: stdout
    assert load_checkpoint(run / "last.pt")["step"] == step + 1


_SIGTERM_IN_A_FINALIZER = """
import os, signal, time
from nowcast.cli._console import install_signal_handlers
from nowcast.errors import Terminated

class Finalized:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs here, inside __del__
        time.sleep(0.01)

install_signal_handlers()
try:
    Finalized()  # dropped at once: __del__ runs
    time.sleep(5)  # a command going on; SIGTERM must still stop it
    print("ran to the end")
except Terminated:
    print("terminated")
"""


def test_a_sigterm_that_lands_in_a_finalizer_still_stops_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SIGTERM_IN_A_FINALIZER],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
        check=False,
    )

    assert done.stdout.strip() == "terminated", done.stderr
    assert "Exception ignored" not in done.stderr
