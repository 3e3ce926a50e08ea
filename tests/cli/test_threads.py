"""The default thread count: the CPUs the process may use, unless the user chose."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from nowcast.cli import _threads, app
from nowcast.cli._threads import (
    apply_threads,
    cgroup_cpu_quota,
    choose_threads,
    default_threads,
    physical_cores,
)
from nowcast.errors import ConfigError


def test_default_is_the_usable_cpus_capped_by_quota_and_cores() -> None:
    assert default_threads(cpus=8, quota=None, cores=8) == 8
    assert default_threads(cpus=64, quota=2.0, cores=32) == 2  # a container on a large host
    assert default_threads(cpus=4, quota=1.5, cores=4) == 1  # a part of a CPU is not a thread
    assert default_threads(cpus=8, quota=None, cores=4) == 4  # hyper-threads are not cores
    assert default_threads(cpus=2, quota=0.5, cores=2) == 1


def test_cgroup_quota_is_read_from_cpu_max(tmp_path: Path) -> None:
    path = tmp_path / "cpu.max"
    path.write_text("200000 100000\n")
    assert cgroup_cpu_quota(path) == 2.0
    path.write_text("max 100000\n")
    assert cgroup_cpu_quota(path) is None
    assert cgroup_cpu_quota(tmp_path / "missing") is None


def test_hyper_threads_of_one_core_count_once(tmp_path: Path) -> None:
    for cpu, siblings in {0: "0,2", 1: "1,3", 2: "0,2", 3: "1,3"}.items():
        (tmp_path / f"cpu{cpu}" / "topology").mkdir(parents=True)
        (tmp_path / f"cpu{cpu}" / "topology" / "core_cpus_list").write_text(siblings + "\n")
    assert physical_cores({0, 1, 2, 3}, tmp_path) == 2
    assert physical_cores({0, 2}, tmp_path) == 1
    assert physical_cores({7, 8}, tmp_path) == 2  # no topology: each CPU its own core


def test_the_users_choice_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "allowed_cpus", lambda: {0, 1, 2})
    monkeypatch.setattr(_threads, "cgroup_cpu_quota", lambda: None)
    monkeypatch.setattr(_threads, "physical_cores", lambda cpus: len(cpus))
    assert choose_threads({}) == 3
    assert choose_threads({"OMP_NUM_THREADS": "1"}) is None
    assert choose_threads({"OMP_NUM_THREADS": "1", "NOWCAST_THREADS": "5"}) == 5
    for bad in ("0", "two", "-1"):
        with pytest.raises(ConfigError, match="NOWCAST_THREADS must be a whole number"):
            choose_threads({"NOWCAST_THREADS": bad})


def test_apply_sets_the_environment_and_a_loaded_torch() -> None:
    before = torch.get_num_threads()
    try:
        environ = {"NOWCAST_THREADS": "1"}
        assert apply_threads(environ) == 1
        assert environ["OMP_NUM_THREADS"] == "1" and torch.get_num_threads() == 1
        assert environ["OMP_WAIT_POLICY"] == "PASSIVE"
        own = {"NOWCAST_THREADS": "2", "OMP_WAIT_POLICY": "ACTIVE"}
        assert apply_threads(own) == 2 and own["OMP_WAIT_POLICY"] == "ACTIVE"
        users = {"OMP_NUM_THREADS": "3"}
        assert apply_threads(users) is None and users == {"OMP_NUM_THREADS": "3"}
    finally:
        torch.set_num_threads(before)


def test_a_bad_thread_count_is_one_error_line() -> None:
    result = CliRunner().invoke(app, ["info", "x.nc"], env={"NOWCAST_THREADS": "lots"})
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: NOWCAST_THREADS must be a whole number >= 1, got 'lots'"
