"""What an output path must be before anything is written to it, and OS errors as one line.

Commands check their outputs here before the expensive work (reading,
forecasting, training), so that a read-only folder or a name the file system
cannot hold fails at once rather than after an hour of computing.
:class:`~nowcast.io.writers.atomic.AtomicOutput` checks the target again at the
moment it replaces it, because another process may have changed it meanwhile.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from nowcast.errors import OutputError, OutputExistsError, first_line

#: OS errors that mean "this output cannot be written" rather than a bug.
WRITE_ERRNOS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EFBIG,
        errno.ENAMETOOLONG,
        errno.EROFS,
        errno.EIO,
    }
)
#: ``NAME_MAX`` where the file system does not say (every common Linux file system).
DEFAULT_NAME_MAX = 255


def write_error(path: Path, exc: OSError) -> OutputError:
    """The one-line error for ``exc``, raised while writing ``path`` (``exc`` kept as the cause)."""
    reason = os.strerror(exc.errno) if exc.errno else first_line(exc)
    error = OutputError(f"cannot write {path}: {reason}")
    error.__cause__ = exc
    return error


def raise_write_error(path: Path, exc: BaseException) -> None:
    """Raise :func:`write_error` when ``exc`` is an OS error of writing; otherwise return.

    Only the errors of :data:`WRITE_ERRNOS` are translated: any other
    exception is left to propagate as it is.
    """
    if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
        raise write_error(path, exc)


def name_max(folder: Path) -> int:
    """The longest file name, in bytes, that the file system of ``folder`` allows."""
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):  # no such folder, or no pathconf (Windows)
        return DEFAULT_NAME_MAX
    return limit if limit > 0 else DEFAULT_NAME_MAX


def check_name(path: Path) -> None:
    """Refuse a file name longer than its file system allows (``ENAMETOOLONG`` up front)."""
    size, limit = len(os.fsencode(path.name)), name_max(path.parent)
    if size > limit:
        raise OutputError(
            f"cannot write {path}: file name too long ({size} bytes; the limit here is {limit})"
        )


def check_folder(folder: Path) -> None:
    """Require ``folder`` to exist, to be a folder and to be writable by this process."""
    if not folder.exists():
        raise OutputError(f"output folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"cannot write into {folder}: not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only(folder) else "permission denied"
        raise OutputError(f"cannot write into {folder}: {reason}")


def check_future_folder(folder: Path) -> None:
    """Check that ``folder`` is, or can be created as, a writable folder; create nothing.

    For commands that write several files into one folder later (``evaluate``):
    the first part of the path that exists must be a writable folder.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    check_folder(existing)


def check_target(path: Path, overwrite: bool, inputs: Iterable[Path] = ()) -> None:
    """Refuse a target that is an input, is not a regular file, or exists without ``overwrite``.

    ``inputs`` are compared by device and inode, so a symlink or a hard link
    to an input is that input too.

    Raises:
        OutputError: the target is an input, or a folder, device, FIFO or socket.
        OutputExistsError: the target exists and ``overwrite`` is False.
    """
    if not os.path.lexists(path):
        return
    for source in inputs:
        if same_file(path, source):
            raise OutputError(f"{path} is also an input ({source}); write to another file")
    check_replaceable(path)
    if not overwrite:
        raise OutputExistsError(f"{path} exists; use --overwrite to replace it")


def check_replaceable(path: Path, *, links: bool = False) -> None:
    """Refuse to replace anything but a regular file (and, with ``links``, a symlink).

    A folder, device, FIFO or socket, or a symlink to one, is never replaced:
    ``-o /dev/null --overwrite`` run as root would otherwise swap the device
    for a plain file. A dangling symlink hides nothing and may be replaced.
    ``links`` is for a link the program maintains itself (``runs/latest``).
    """
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            if links:
                return
            info = os.stat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode):
        kind = _kind(info.st_mode)
        raise OutputError(f"{path} is {kind}, not a regular file; it is not replaced")


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are one file, through symlinks and hard links (False if missing)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows)
        return False
