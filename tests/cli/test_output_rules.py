"""Outputs every command refuses before doing any work: inputs, devices, unwritable folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from nowcast.cli import app
from tests.forecasting.conftest import rain_stack, write_checkpoint
from tests.helpers import write_canonical

runner = CliRunner()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``obs.nc`` (12 frames, 24 x 28) and ``m.pt`` (an untrained tiny model)."""
    folder = tmp_path_factory.mktemp("inputs")
    write_canonical(folder / "obs.nc", rain_stack(12)[0])
    write_checkpoint(folder / "m.pt")
    return folder


def _refused(args: list[str], monkeypatch: pytest.MonkeyPatch, work: str) -> str:
    """Run ``nowcast ARGS``, which must fail with exit 1 before ``work`` (module.function) runs."""

    def too_late(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{work} ran before the output was checked")

    monkeypatch.setattr(work, too_late)
    monkeypatch.setenv("NOWCAST_DEVICE", "cpu")
    result: Result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


def _commands(inputs: Path, output: Path) -> dict[str, tuple[list[str], str]]:
    """Each command writing ``output``, and the first expensive step it must not reach."""
    obs, model = str(inputs / "obs.nc"), str(inputs / "m.pt")
    return {
        "ingest": (["ingest", obs, "-o", str(output)], "nowcast.io.ingest.pipeline.read_frames"),
        "forecast": (
            ["forecast", obs, "--model", model, "-o", str(output)],
            "nowcast.forecasting.request.load_observations",
        ),
        "calibrate": (
            ["calibrate", obs, "--model", model, "-o", str(output)],
            "nowcast.forecasting.calibrate.load_observations",
        ),
        "evaluate": (
            ["evaluate", "--model", model, "--data", obs, "--output-dir", str(output)],
            "nowcast.verification.evaluate.load_model",
        ),
        "train": (
            ["train", obs, "--preset", "tiny", "--run-dir", str(output)],
            "nowcast.training.launch.train",
        ),
    }


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write to (root ignores permission bits)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir(mode=0o555)
        return folder
    if os.path.isdir("/proc/sys") and not os.access("/proc/sys", os.W_OK):
        return Path("/proc/sys")
    pytest.skip("running as root, and no folder here refuses root")


@pytest.mark.parametrize("command", ["ingest", "forecast", "calibrate", "evaluate", "train"])
def test_an_unwritable_output_folder_fails_before_any_work(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    folder = _unwritable_folder(tmp_path)
    args, work = _commands(inputs, folder / "out")[command]
    line = _refused(args, monkeypatch, work)
    assert line in (
        f"error: cannot write into {folder}: permission denied",
        f"error: cannot write into {folder}: read-only file system",
    )


@pytest.mark.parametrize("command", ["ingest", "forecast", "calibrate"])
@pytest.mark.parametrize("alias", ["itself", "symlink", "hard link"])
def test_an_input_is_never_overwritten(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, alias: str
) -> None:
    source = inputs / ("m.pt" if command == "calibrate" else "obs.nc")
    target = {"itself": source, "symlink": tmp_path / "out", "hard link": tmp_path / "out"}[alias]
    if alias == "symlink":
        target.symlink_to(source)
    elif alias == "hard link":
        os.link(source, target)
    before = source.read_bytes()
    args, work = _commands(inputs, target)[command]
    line = _refused([*args, "--overwrite"], monkeypatch, work)
    assert line == f"error: {target} is also an input ({source}); write to another file"
    assert source.read_bytes() == before


def test_a_device_is_never_replaced(inputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args, work = _commands(inputs, Path("/dev/null"))["forecast"]
    line = _refused([*args, "--overwrite"], monkeypatch, work)
    assert line == "error: /dev/null is a character device, not a regular file; it is not replaced"
