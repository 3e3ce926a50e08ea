"""Atomic output: write to a temporary file beside the target, rename when complete.

An interrupted command (Ctrl-C, SIGTERM, a full disk, an error) therefore
never leaves a half-written file under the target name: :class:`AtomicOutput`
removes the temporary file on any exception, and its name ends in ``.tmp`` so
that one left behind by a hard kill (``kill -9``, power cut) is easy to spot.
Without ``overwrite`` the target is refused at the moment of the rename if it
appeared meanwhile, so two commands writing one file never lose a result
silently. The rules a target must pass are in :mod:`nowcast.io.writers.targets`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from nowcast.errors import OutputExistsError
from nowcast.io.writers.targets import (
    check_folder,
    check_name,
    check_replaceable,
    check_target,
    name_max,
    raise_write_error,
    write_error,
)

_Output = TypeVar("_Output", bound="AtomicOutput")
#: What ``tempfile.mkstemp`` adds to the prefix: 8 random characters and ``.tmp``.
_TMP_EXTRA = 8 + len(".tmp")
#: ``os.link`` errors of file systems without hard links: claim the name another way.
_NO_HARD_LINKS = frozenset(
    {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK, errno.EXDEV}
)


def check_output(path: Path, overwrite: bool, inputs: Iterable[Path] = ()) -> None:
    """Check an output before any work: writable folder, valid name, replaceable target.

    Args:
        path: The file to write.
        overwrite: Whether an existing regular file may be replaced.
        inputs: Files the command reads; the output may not be one of them.

    Raises:
        OutputError: the folder is missing or not writable, the name is too
            long, or the target is an input or not a regular file.
        OutputExistsError: the target exists and ``overwrite`` is False.
    """
    check_folder(path.parent)
    check_name(path)
    check_target(path, overwrite, inputs)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicOutput:
    """A temporary file beside ``path`` that becomes ``path`` only when complete.

    The temporary file is created (empty) at once, in the target's folder so
    that the final rename stays on one file system. Used as
    ``with AtomicOutput(path, overwrite=...) as out:``, the body writes
    ``out.tmp`` (or puts something else under that name, e.g. a symlink);
    leaving the block moves it onto ``path`` (:meth:`finish`), and any
    exception, ``KeyboardInterrupt`` and SIGTERM included, removes it
    (:meth:`abort`) and propagates; an OS error of writing (disk full, size
    limit, permissions) becomes one :class:`~nowcast.errors.OutputError`
    naming ``path``. Writers with a longer life cycle
    (:mod:`nowcast.io.writers.file`) extend :meth:`close` and call
    :meth:`finish` and :meth:`fail` themselves.

    Args:
        path: The target.
        overwrite: Replace an existing regular file. Without it the target is
            refused (:class:`~nowcast.errors.OutputExistsError`) if it exists
            when the file is complete, even if it appeared only meanwhile.
        links: With ``overwrite``, also replace a symlink, wherever it points
            (for a link the program maintains, such as ``runs/latest``).

    Attributes:
        path: The target.
        tmp: The temporary file, named ``.<target name>.<random>.tmp`` (the
            target name shortened when the whole would exceed ``NAME_MAX``).
    """

    def __init__(self, path: Path, *, overwrite: bool, links: bool = False) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        self.links = links
        check_name(self.path)
        try:
            fd, name = tempfile.mkstemp(
                prefix=_tmp_prefix(self.path), suffix=".tmp", dir=self.path.parent
            )
        except OSError as exc:
            raise write_error(self.path, exc) from exc
        os.close(fd)
        self.tmp = Path(name)

    def __enter__(self: _Output) -> _Output:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.fail(exc)
            return
        with self.removed_on_error():
            self.finish()

    @contextlib.contextmanager
    def removed_on_error(self) -> Iterator[None]:
        """A writer's set-up step: on any error the temporary file goes (see :meth:`fail`)."""
        try:
            yield
        except BaseException as exc:
            self.fail(exc)
            raise

    def finish(self) -> None:
        """Close, sync and move the finished temporary file onto the target name.

        ``mkstemp`` creates owner-only files; the result gets the usual
        permissions of a new file (``0666`` less the umask). A symlink keeps
        its own: ``chmod`` would change the folder it points at. The file is
        synced before it gets its name and the folder after, so the name
        never points at data still in memory after a power cut.

        Raises:
            OutputExistsError: without ``overwrite``, when the target exists now.
            OutputError: when the target is not a regular file (see
                ``links``), or on an OS error.
        """
        self.close()
        try:
            if not self.tmp.is_symlink():
                os.chmod(self.tmp, 0o666 & ~_umask())
                _fsync_file(self.tmp)
            if self.overwrite:
                check_replaceable(self.path, links=self.links)
                os.replace(self.tmp, self.path)
            else:
                self._place_new()
            _fsync_folder(self.path.parent)
        except OSError as exc:
            raise write_error(self.path, exc) from exc

    def _place_new(self) -> None:
        """Give the temporary file the target name only if that name is still free.

        A hard link fails if the name exists, atomically; where the file system
        has no hard links the name is claimed with ``O_EXCL`` and then replaced.
        """
        try:
            os.link(self.tmp, self.path)
        except FileExistsError:
            raise _appeared(self.path) from None
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            self._claim_and_replace()
            return
        self.tmp.unlink()

    def _claim_and_replace(self) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise _appeared(self.path) from None
        os.close(fd)
        os.replace(self.tmp, self.path)

    def fail(self, exc: BaseException) -> None:
        """Remove the temporary file after ``exc``; raise the one-line error for a write failure.

        For callers that run the life cycle themselves: call it with the
        exception in hand, then re-raise that exception (``raise``) when this returns.
        """
        self.abort()
        raise_write_error(self.path, exc)

    def close(self) -> None:
        """Close what is open on the temporary file (nothing here; writers extend this)."""

    def abort(self) -> None:
        """Close and remove the temporary file; safe to call twice.

        Errors while closing are ignored: a close that fails on a full disk
        must not keep the file that is being deleted from being deleted.
        """
        try:
            with contextlib.suppress(Exception):
                self.close()
        finally:
            with contextlib.suppress(OSError):
                self.tmp.unlink(missing_ok=True)


def _appeared(path: Path) -> OutputExistsError:
    return OutputExistsError(
        f"{path} was created by someone else while this one was written; "
        "use --overwrite to replace it"
    )


def _tmp_prefix(path: Path) -> str:
    """``.<name>.``, the name shortened (whole characters) so the temporary name fits NAME_MAX."""
    room = name_max(path.parent) - _TMP_EXTRA - len("..")
    name = path.name
    while len(os.fsencode(name)) > room:
        name = name[:-1]
    return f".{name}."


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make a new name in ``folder`` durable (where the system can open and sync folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows opens no folders; its rename is as durable as it gets
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # a file system that cannot sync a folder
            raise
    finally:
        os.close(fd)
