"""Atomic output: write to a temporary file beside the target, rename when complete.

An interrupted command (Ctrl-C, kill, error) therefore never leaves a
half-written file under the target name: :class:`AtomicOutput` removes the
temporary file on any exception, and its name ends in ``.tmp`` so that one
left behind by a hard kill is easy to spot.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from nowcast.errors import NowcastError, OutputExistsError

_Output = TypeVar("_Output", bound="AtomicOutput")


def check_output(path: Path, overwrite: bool) -> None:
    """Refuse an existing target unless ``overwrite``; require its folder to exist."""
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; use --overwrite to replace it")
    if path.exists() and path.is_dir():
        raise NowcastError(f"{path} is a directory, not a file name")
    if not path.parent.exists():
        raise NowcastError(f"output folder {path.parent} does not exist")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicOutput:
    """A temporary file beside ``path`` that becomes ``path`` only when complete.

    The temporary file is created (empty) at once, in the target's folder so
    that the final rename stays on one file system. Used as
    ``with AtomicOutput(path) as out:``, the body writes ``out.tmp`` (or puts
    something else under that name, e.g. a symlink); leaving the block
    renames it onto ``path`` (:meth:`finish`), and any exception,
    ``KeyboardInterrupt`` included, removes it (:meth:`abort`) and
    propagates. Writers with a longer life cycle (:mod:`nowcast.io.writers.file`)
    extend :meth:`finish` and :meth:`abort` or call them themselves. Refusing
    an existing target is the caller's choice (:func:`check_output`).

    Attributes:
        path: The target.
        tmp: The temporary file, named ``.<target name>.<random>.tmp``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        fd, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
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
        if exc_type is not None:
            self.abort()
            return
        try:
            self.finish()
        except BaseException:
            self.abort()
            raise

    def finish(self) -> None:
        """Move the finished temporary file onto the target name (atomic on POSIX).

        ``mkstemp`` creates owner-only files; the result gets the usual
        permissions of a new file (``0666`` less the umask). A symlink keeps
        its own: ``chmod`` would change the folder it points at.
        """
        if not self.tmp.is_symlink():
            os.chmod(self.tmp, 0o666 & ~_umask())
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Remove the temporary file, ignoring one that is already gone."""
        self.tmp.unlink(missing_ok=True)
