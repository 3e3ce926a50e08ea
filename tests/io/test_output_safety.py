"""What AtomicOutput and the output checks refuse: races, special files, long names, inputs."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from nowcast.errors import OutputError, OutputExistsError
from nowcast.io.writers import atomic
from nowcast.io.writers.atomic import AtomicOutput, check_output
from nowcast.io.writers.targets import check_future_folder, name_max


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.tmp"))


def _write(target: Path, text: str, **options: bool) -> None:
    with AtomicOutput(target, overwrite=options.get("overwrite", False)) as out:
        out.tmp.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("hard_links", [True, False], ids=["link", "no-hard-links"])
def test_a_target_created_meanwhile_is_kept_and_the_temporary_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hard_links: bool
) -> None:
    if not hard_links:  # e.g. some network and FAT file systems

        def no_link(*args: object, **kwargs: object) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(atomic.os, "link", no_link)
    target = tmp_path / "out.nc"
    with pytest.raises(OutputExistsError, match="out.nc was created by someone else"):
        with AtomicOutput(target, overwrite=False) as out:
            out.tmp.write_text("mine", encoding="utf-8")
            target.write_text("theirs", encoding="utf-8")  # another process finished first
    assert target.read_text(encoding="utf-8") == "theirs"
    assert _leftovers(tmp_path) == []

    _write(tmp_path / "new.nc", "only")  # and with the name free, the file arrives
    assert (tmp_path / "new.nc").read_text(encoding="utf-8") == "only"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.nc", "out.nc"]


def test_file_and_folder_are_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync

    def record(fd: int) -> None:
        synced.append(os.path.isdir(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", record)
    _write(tmp_path / "out.txt", "x")
    assert synced == [False, True]  # the file before its rename, the folder after


def _fifo(folder: Path) -> Path:
    path = folder / "pipe"
    os.mkfifo(path)
    return path


def _folder(folder: Path) -> Path:
    (folder / "dir").mkdir()
    return folder / "dir"


def _link_to_folder(folder: Path) -> Path:
    (folder / "link").symlink_to(_folder(folder), target_is_directory=True)
    return folder / "link"


@pytest.mark.parametrize(
    ("make", "kind"),
    [(_fifo, "a FIFO"), (_folder, "a folder"), (_link_to_folder, "a folder")],
)
def test_only_a_regular_file_is_ever_replaced(tmp_path: Path, make, kind: str) -> None:
    target = make(tmp_path)
    message = f"{target} is {kind}, not a regular file; it is not replaced"
    with pytest.raises(OutputError, match=message):
        check_output(target, overwrite=True)
    with pytest.raises(OutputError, match=message):  # checked again at the rename
        _write(target, "x", overwrite=True)
    assert os.path.lexists(target) and _leftovers(tmp_path) == []


def test_a_device_is_refused_before_any_work() -> None:
    with pytest.raises(OutputError, match="/dev/null is a character device"):
        check_output(Path("/dev/null"), overwrite=True)


@pytest.mark.parametrize("make", ["symlink", "hard link"])
def test_an_input_is_never_the_output(tmp_path: Path, make: str) -> None:
    source = tmp_path / "obs.nc"
    source.write_text("observations", encoding="utf-8")
    alias = tmp_path / "alias.nc"
    alias.symlink_to(source) if make == "symlink" else os.link(source, alias)
    for output in (source, alias):
        with pytest.raises(OutputError, match=f"{output} is also an input .*obs.nc"):
            check_output(output, overwrite=True, inputs=[tmp_path / "other.nc", source])
    check_output(tmp_path / "fc.nc", overwrite=False, inputs=[source])  # a new name is fine
    assert source.read_text(encoding="utf-8") == "observations"


@pytest.mark.parametrize("name", ["a" * 250 + ".nc", "é" * 120 + ".nc"], ids=["ascii", "utf8"])
def test_a_long_name_gets_a_shortened_temporary_name(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    with AtomicOutput(target, overwrite=False) as out:
        assert len(os.fsencode(out.tmp.name)) <= name_max(tmp_path)
        assert out.tmp.name.startswith(".") and out.tmp.name.endswith(".tmp")
        out.tmp.write_text("x", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "x" and _leftovers(tmp_path) == []


def test_a_name_too_long_for_the_file_system_is_one_clear_error(tmp_path: Path) -> None:
    target = tmp_path / ("b" * 300 + ".nc")
    with pytest.raises(
        OutputError, match=r"file name too long \(303 bytes; the limit here is 255\)"
    ):
        check_output(target, overwrite=False)
    with pytest.raises(OutputError, match="file name too long"):
        AtomicOutput(target, overwrite=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.ENOSPC, "No space left on device"), (errno.EFBIG, "File too large")],
)
def test_a_write_failure_is_one_line_naming_the_target(
    tmp_path: Path, code: int, reason: str
) -> None:
    target = tmp_path / "out.csv"
    with pytest.raises(OutputError, match=f"^cannot write {target}: {reason}$") as caught:
        with AtomicOutput(target, overwrite=False) as out:
            out.tmp.write_text("half", encoding="utf-8")
            raise OSError(code, os.strerror(code))
    assert isinstance(caught.value.__cause__, OSError)
    assert list(tmp_path.iterdir()) == []


class _FailingClose(AtomicOutput):
    def close(self) -> None:
        raise RuntimeError("NetCDF: HDF error")


def test_a_close_that_fails_on_a_full_disk_still_removes_the_temporary(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), _FailingClose(tmp_path / "x.nc", overwrite=True):
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_written_is_refused_up_front(tmp_path: Path) -> None:
    plain = tmp_path / "file"
    plain.write_text("", encoding="utf-8")
    with pytest.raises(OutputError, match=f"cannot write into {plain}: not a folder"):
        check_output(plain / "out.nc", overwrite=False)
    with pytest.raises(OutputError, match="output folder .*missing does not exist"):
        check_output(tmp_path / "missing" / "out.nc", overwrite=False)
    check_future_folder(tmp_path / "new" / "deeper")  # created later by the command
    with pytest.raises(OutputError, match=f"cannot write into {plain}: not a folder"):
        check_future_folder(plain / "evaluation")
