"""Output a forecaster can read: help pages without type noise, whole lines on a pipe."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.cli._console import stages
from nowcast.cli._plain import LineProgress, PlainConsole
from tests.forecasting.conftest import rain_stack, write_checkpoint
from tests.helpers import write_canonical

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ("ingest", "info", "train", "forecast", "evaluate", "calibrate")
BAR_CHARACTERS = set("━╸╺█▏▎▍▌▋▊▉\r")
runner = CliRunner()


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_shows_no_value_type_beside_flags(command: str) -> None:
    result = runner.invoke(
        app, [command, "--help"] if command else ["--help"], env={"COLUMNS": "100"}
    )
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.stdout
    assert "--help" in result.stdout and "../shared" not in result.stdout


def test_help_paragraphs_fill_the_width_instead_of_the_source_lines() -> None:
    result = runner.invoke(app, ["evaluate", "--help"], env={"COLUMNS": "200"})
    assert "MSE/MAE/correlation, pooled over all start times and pixels." in result.stdout


def test_progress_on_a_pipe_is_one_line_per_stage_and_quarter() -> None:
    buffer = io.StringIO()
    with LineProgress(Console(file=buffer, width=30)) as bar:
        report = stages(bar)
        report("reading observations", 0, 0)
        for done in range(81):
            report("fitting motion", done, 80)
        report("running the network", 0, 1)
        report("running the network", 1, 1)
    lines = [line.rsplit(",", 1)[0] for line in buffer.getvalue().splitlines()]
    assert lines == [
        "reading observations",
        "fitting motion 0/80 (0%)",
        "fitting motion 20/80 (25%)",
        "fitting motion 40/80 (50%)",
        "fitting motion 60/80 (75%)",
        "fitting motion 80/80 (100%)",
        "running the network 0/1 (0%)",
        "running the network 1/1 (100%)",
    ]
    assert all(line.endswith(" s") for line in buffer.getvalue().splitlines())


def test_log_lines_on_a_pipe_are_neither_wrapped_nor_padded(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console = PlainConsole()  # pytest's captured stdout is not a terminal
    text = "epoch 3: train_loss 0.01234 val_loss 0.01301 lr 0.00194 188.3 samples/s " + "x" * 80
    console.log(text)
    console.print(text)
    logged, printed = capsys.readouterr().out.splitlines()
    assert logged.endswith(text) and logged.startswith("[") and printed == text


def test_a_piped_forecast_writes_whole_lines_and_no_bar(tmp_path: Path) -> None:
    obs = write_canonical(tmp_path / "obs.nc", rain_stack(12)[0])
    ckpt = write_checkpoint(tmp_path / "m.pt")
    env = {**os.environ, "COLUMNS": "40", "NOWCAST_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "nowcast", "forecast", str(obs), "-m", str(ckpt), "-n", "3"]
        + ["-o", str(tmp_path / "fc.nc"), "--plot"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not BAR_CHARACTERS & set(done.stdout + done.stderr)
    *progress, summary, model = done.stdout.splitlines()
    assert summary.startswith(f"wrote {tmp_path / 'fc.nc'}: 3 steps") and summary.endswith(")")
    assert len(summary) > 40 and model.startswith(f"model {ckpt} sha256 ")
    assert progress[0].startswith("reading observations")
    assert any(line.startswith("running the network 1/1 (100%)") for line in progress)
    # stderr holds no log lines, only messages: here the figure written.
    assert done.stderr.splitlines() == [f"wrote {tmp_path / 'fc.png'}"]
