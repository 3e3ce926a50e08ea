"""A forecast too large for the memory left is refused up front, naming the ``--steps`` that fit."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.errors import ConfigError
from nowcast.forecasting import to_file
from nowcast.forecasting.memory import available_bytes, check_forecast_size, forecast_bytes

runner = CliRunner()
GIB = 2**30


def _files(tmp_path: Path, meminfo: str | None, limit: str | None, used: str = "0") -> Path:
    """A fake ``/proc/meminfo`` and cgroup folder; None leaves the file out."""
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    if meminfo is not None:
        (tmp_path / "meminfo").write_text(f"MemTotal: 99999999 kB\nMemAvailable: {meminfo} kB\n")
    if limit is not None:
        (cgroup / "memory.max").write_text(limit + "\n")
        (cgroup / "memory.current").write_text(used + "\n")
    return cgroup


@pytest.mark.parametrize(
    ("meminfo", "limit", "used", "expected"),
    [
        ("4194304", None, "0", 4 * GIB),  # MemAvailable alone (kB)
        ("4194304", str(3 * GIB), str(GIB), 2 * GIB),  # the cgroup's room is lower
        ("1048576", str(3 * GIB), "0", GIB),  # MemAvailable is lower
        ("1048576", "max", "0", GIB),  # a cgroup without a limit
        (None, str(2 * GIB), "0", 2 * GIB),
        (None, None, "0", None),  # neither readable: no check
    ],
)
def test_available_memory_is_the_lower_of_meminfo_and_the_cgroup(
    tmp_path: Path, meminfo: str | None, limit: str | None, used: str, expected: int | None
) -> None:
    cgroup = _files(tmp_path, meminfo, limit, used)
    assert available_bytes(tmp_path / "meminfo", cgroup) == expected


def test_the_estimate_is_twelve_float32_arrays_per_lead_time() -> None:
    assert forecast_bytes((765, 700), 1) == 765 * 700 * 4 * 12


def test_too_many_steps_name_the_largest_that_fits() -> None:
    with pytest.raises(ConfigError) as caught:
        check_forecast_size((765, 700), 100_000, 16 * GIB)
    assert str(caught.value) == (
        "--steps 100000 on a 765 x 700 grid needs about 2393.9 GiB of memory but 16.0 GiB "
        "is available; use --steps 668 or fewer"
    )
    check_forecast_size((765, 700), 668, 16 * GIB)  # the advice fits
    check_forecast_size((765, 700), 100_000, None)  # unknown memory: no check


def test_not_even_one_step_and_no_steps_at_all() -> None:
    with pytest.raises(ConfigError, match="not even one lead time fits"):
        check_forecast_size((765, 700), 1, 1000)
    with pytest.raises(ConfigError, match="--steps must be >= 1, got 0"):
        check_forecast_size((765, 700), 0, None)


def test_the_forecast_command_refuses_before_any_work(
    obs_file: Path, ckpt_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(to_file, "available_bytes", lambda: GIB)
    out = obs_file.parent / "fc.nc"
    result = runner.invoke(
        app,
        ["forecast", str(obs_file), "-m", str(ckpt_dir / "rain.pt"), "-n", "100000"]
        + ["-o", str(out)],
    )
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: --steps 100000 on a 24 x 28 grid needs about 3.0 GiB of memory but 1.0 GiB is "
        "available; use --steps 33288 or fewer"
    ]
    assert not out.exists()
