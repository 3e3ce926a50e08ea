"""The one atomic-write helper: rename when complete, never a half-written target."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nowcast.io.writers.atomic import AtomicOutput


def _leftovers(folder: Path) -> list[Path]:
    return list(folder.glob(".*.tmp"))


def test_the_target_appears_only_when_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with AtomicOutput(target, overwrite=True) as out:
        assert out.tmp.parent == tmp_path and out.tmp.name.startswith(".out.txt.")
        out.tmp.write_text("new", encoding="utf-8")
        assert not target.exists()
    assert target.read_text(encoding="utf-8") == "new"
    assert not _leftovers(tmp_path)


def test_the_result_gets_the_permissions_of_a_new_file(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        with AtomicOutput(tmp_path / "out.txt", overwrite=True) as out:
            out.tmp.write_text("x", encoding="utf-8")
    finally:
        os.umask(mask)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("error", [ValueError("disk full"), KeyboardInterrupt()])
def test_any_exception_keeps_the_old_target_and_removes_the_temporary(
    tmp_path: Path, error: BaseException
) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(type(error)), AtomicOutput(target, overwrite=True) as out:
        out.tmp.write_text("half", encoding="utf-8")
        raise error
    assert target.read_text(encoding="utf-8") == "old"
    assert not _leftovers(tmp_path)


def test_a_symlink_replaces_the_target_and_leaves_its_folder_alone(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    link = tmp_path / "latest"
    with AtomicOutput(link, overwrite=True) as out:
        out.tmp.unlink()
        out.tmp.symlink_to("run", target_is_directory=True)
    assert link.is_symlink() and os.readlink(link) == "run"
    assert folder.stat().st_mode & 0o777 == 0o700  # chmod did not follow the link
    assert not _leftovers(tmp_path)


def test_abort_twice_is_harmless(tmp_path: Path) -> None:
    output = AtomicOutput(tmp_path / "out.txt", overwrite=True)
    output.abort()
    output.abort()
    assert not _leftovers(tmp_path) and not (tmp_path / "out.txt").exists()
