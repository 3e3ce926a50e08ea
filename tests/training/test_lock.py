"""One training run per run folder, with a lock the operating system drops with its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nowcast.errors import OutputError, RunLockedError
from nowcast.training.lock import run_lock

HOLD = """
import sys, time
from pathlib import Path
from nowcast.training.lock import run_lock
with run_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_holder_is_refused_with_the_folder_and_the_process(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "a"
    with run_lock(run):
        with pytest.raises(
            RunLockedError, match=rf"{run} is in use by .*\(process {os.getpid()}\)"
        ):
            with run_lock(run):
                pass
    with run_lock(run):  # released when the block ends
        assert (run / ".lock").read_text() == f"{os.getpid()}\n"


def test_the_lock_dies_with_a_killed_process(tmp_path: Path) -> None:
    run = tmp_path / "run"
    command = [sys.executable, "-c", HOLD, str(run)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
            with pytest.raises(RunLockedError, match=f"process {holder.pid}"), run_lock(run):
                pass
        finally:
            holder.send_signal(signal.SIGKILL)
    assert holder.returncode == -signal.SIGKILL
    with run_lock(run):  # no stale lock after kill -9
        pass


def test_a_run_folder_that_is_a_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "run").write_text("", encoding="utf-8")
    with (
        pytest.raises(OutputError, match="cannot write into .*run: not a folder"),
        run_lock(tmp_path / "run"),
    ):
        pass
