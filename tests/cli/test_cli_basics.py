"""The command line: help, version, exit codes, one-line errors, ingest and info."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from nowcast import __version__
from nowcast.cli import app

REPO = Path(__file__).resolve().parents[2]
SAMPLE_ODIM = REPO / "sample_data" / "odim"
runner = CliRunner()


def test_version_and_help() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"nowcast {__version__}"
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("ingest", "info", "train", "forecast", "evaluate"):
        assert command in result.stdout


def test_every_command_has_help_with_examples() -> None:
    for command in ("ingest", "info", "train", "forecast", "evaluate"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, command
        assert "Example" in result.stdout, command


def test_no_arguments_is_a_usage_error() -> None:
    assert runner.invoke(app, []).exit_code == 2
    assert runner.invoke(app, ["ingest", "--no-such-option"]).exit_code == 2


def test_ingest_sample_data_and_info(tmp_path: Path) -> None:
    out = tmp_path / "s.nc"
    result = runner.invoke(app, ["ingest", str(SAMPLE_ODIM), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "72" in result.stdout and "lambert_azimuthal_equal_area" in result.stdout
    info = runner.invoke(app, ["info", str(out)])
    assert info.exit_code == 0
    assert "2024-06-01 12:00:00Z .. 2024-06-01 17:55:00Z" in info.stdout
    again = runner.invoke(app, ["ingest", str(SAMPLE_ODIM), "-o", str(out)])
    assert again.exit_code == 1 and "--overwrite" in again.stderr


def test_bad_input_is_one_line_error_and_no_output(tmp_path: Path) -> None:
    bad = tmp_path / "radar.h5"
    bad.write_text("not radar\n")
    out = tmp_path / "o.nc"
    result = runner.invoke(app, ["ingest", str(bad), "-o", str(out)])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error:") and "radar.h5" in lines[-1]
    assert "Traceback" not in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_info_on_non_canonical_file_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "x.nc"
    path.write_text("nope")
    result = runner.invoke(app, ["info", str(path)])
    assert result.exit_code == 1 and "error:" in result.stderr


def test_entry_points_run() -> None:
    for cmd in (["nowcast", "--version"], [sys.executable, "-m", "nowcast", "--version"]):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert done.returncode == 0 and done.stdout.strip() == f"nowcast {__version__}"


_EXIT_SCRIPT = """
import atexit, sys, threading, time
from pathlib import Path
from nowcast.cli import main
marker = Path(sys.argv[1])
atexit.register(lambda: marker.write_text("handlers ran"))
if sys.argv[2] == "thread":
    threading.Thread(target=time.sleep, args=(0.5,)).start()
sys.argv = ["nowcast", *sys.argv[3:]]
print("before", end="")  # unflushed: must still reach the pipe
main()
"""


def test_the_quick_exit_runs_exit_handlers_and_flushes_output(tmp_path: Path) -> None:
    for threads in ("none", "thread"):  # with a thread alive the interpreter ends normally
        marker = tmp_path / f"{threads}.txt"
        done = subprocess.run(
            [sys.executable, "-c", _EXIT_SCRIPT, str(marker), threads, "--version"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"beforenowcast {__version__}\n"
        assert marker.read_text() == "handlers ran"
    bad = subprocess.run(
        [sys.executable, "-c", _EXIT_SCRIPT, str(tmp_path / "bad.txt"), "none", "info", "x.nc"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: ")
