"""The code base is ruff-clean and mypy-clean (rules in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which(tool)
    if executable is None:
        pytest.skip(f"{tool} is not installed (pip install -e '.[test]')")
    return subprocess.run(
        [executable, *args], capture_output=True, text=True, cwd=REPO, check=False
    )


def test_ruff_check_is_clean() -> None:
    # Includes the banned CLI imports, Google docstrings on nowcast/, complexity <= 12.
    done = _run("ruff", "check", "nowcast", "tests", "bench", "sample_data")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean() -> None:
    # strict on nowcast/, with the exceptions listed and justified in [tool.mypy].
    done = _run("mypy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout
