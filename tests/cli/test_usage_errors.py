"""Bad options are one ``error:`` line and exit 2, as the real command line prints them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "nowcast", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("train", "--batch-size", "0"), "Invalid value for '--batch-size'"),
        (("forecast",), "Missing argument"),
        (("no-such-command",), "No such command 'no-such-command'"),
        (("evaluate", "--baselines", "persistence,steps"), "--baselines steps needs --members"),
    ],
)
def test_usage_error_is_one_line_with_exit_2(args: tuple[str, ...], expected: str) -> None:
    done = _run(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "--help" in lines[0]


def test_no_arguments_shows_the_help_without_an_error_line() -> None:
    done = _run()
    assert "Usage: " in done.stdout and "train" in done.stdout
    assert "error:" not in done.stderr
