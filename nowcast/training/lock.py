"""One training run per run folder: an OS lock on ``RUN_DIR/.lock`` held for the whole run.

Two runs writing one folder would overwrite each other's checkpoints and
interleave ``train.log``. The lock is ``flock`` on a file in the folder, so
the operating system releases it when the process ends in any way
(``kill -9`` and power cuts included): there is never a stale lock to
remove by hand, and a run killed that way resumes at once. The file itself
stays, holding the process id of the last run, which the refusal quotes.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from nowcast.errors import RunLockedError
from nowcast.io.writers.targets import check_future_folder, write_error

LOCK_NAME = ".lock"


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Create ``run_dir`` if needed and hold its lock until the block ends.

    Raises:
        RunLockedError: another live process holds the lock.
        OutputError: the folder cannot be created or written.
    """
    path = Path(run_dir) / LOCK_NAME
    check_future_folder(path.parent)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise write_error(path, exc) from exc
    try:
        _acquire(fd, path.parent)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def _acquire(fd: int, run_dir: Path) -> None:
    if sys.platform == "win32":  # no flock; one run per folder is then the user's care
        return
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        raise RunLockedError(
            f"{run_dir} is in use by another training run (process {holder}); "
            "wait for it to end or choose another --run-dir"
        ) from None
