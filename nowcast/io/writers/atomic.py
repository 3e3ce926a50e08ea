"""Atomic output: write to a temporary file beside the target, rename when complete.

An interrupted command (Ctrl-C, kill, error) therefore never leaves a
half-written file under the target name; the temporary file is removed on
error and carries a ``.tmp`` suffix so it is easy to spot if a hard kill
leaves one behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nowcast.errors import NowcastError, OutputExistsError


def check_output(path: Path, overwrite: bool) -> None:
    """Refuse an existing target unless ``overwrite``; require its folder to exist."""
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; use --overwrite to replace it")
    if path.exists() and path.is_dir():
        raise NowcastError(f"{path} is a directory, not a file name")
    if not path.parent.exists():
        raise NowcastError(f"output folder {path.parent} does not exist")


def temporary_path(path: Path) -> Path:
    """A fresh temporary file name in the target's folder (same file system)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def commit(tmp: Path, path: Path) -> None:
    """Move the finished temporary file onto the target name (atomic on POSIX).

    ``mkstemp`` creates owner-only files; the result gets the usual
    permissions of a new file (``0666`` less the umask).
    """
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def discard(tmp: Path) -> None:
    """Remove a temporary file, ignoring one that is already gone."""
    tmp.unlink(missing_ok=True)
