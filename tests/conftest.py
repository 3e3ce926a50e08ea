"""Shared fixtures: where the real data lives, and small deterministic settings."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("NOWCAST_DATA_DIR", REPO.parent / "shared" / "data"))


def _data_path(*parts: str) -> Path:
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"real data missing in CI: {path} (set NOWCAST_DATA_DIR)")
        pytest.skip(f"real data not found at {path}; set NOWCAST_DATA_DIR to ../shared/data")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real-data folder (skips locally when absent, fails in CI)."""
    return _data_path()


@pytest.fixture(scope="session")
def knmi_dir() -> Path:
    return _data_path("radar", "knmi")


@pytest.fixture(scope="session")
def bom_dir() -> Path:
    return _data_path("radar", "bom-cscn")


@pytest.fixture(scope="session")
def rmi_dir() -> Path:
    return _data_path("radar", "rmi-qpe")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    return _data_path("mnist")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
