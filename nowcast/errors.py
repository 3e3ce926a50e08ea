"""Exceptions for expected failures.

Library code raises a :class:`NowcastError` subclass for anything a user can
fix (bad file, wrong grid, missing checkpoint). The CLI turns it into a
one-line message and exit code 1; anything else is a bug and keeps its
traceback.
"""


class NowcastError(Exception):
    """Base class of all expected, user-facing errors."""


class InputError(NowcastError):
    """A raw input file cannot be read or is not what it claims to be."""


class CanonicalDataError(NowcastError):
    """A canonical dataset breaks the contract in :mod:`nowcast.io.canonical`."""


class ConfigError(NowcastError):
    """A configuration value or file is invalid."""


class CheckpointError(NowcastError):
    """A checkpoint is missing, unsafe or does not fit the data."""


class OutputExistsError(NowcastError):
    """The output path exists and overwriting was not requested."""


class TrainingDivergedError(NowcastError):
    """The training loss became NaN or infinite."""


class OutputError(NowcastError):
    """An output cannot be written: no permission, disk full, size limit, name too long, ...

    Raised instead of the ``OSError`` (kept as ``__cause__``), with a message
    that names the file, so that a full disk is one line rather than a traceback.
    """


class RunLockedError(NowcastError):
    """Another live process is training into the same run folder."""


class Terminated(KeyboardInterrupt):
    """SIGTERM turned into an exception by the CLI's signal handler.

    A ``KeyboardInterrupt`` subclass so that it unwinds exactly like Ctrl-C:
    ``with`` blocks remove their temporary files and training saves its
    position; only the final message and exit code (143 instead of 130) differ.
    """


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when the message is empty.

    h5py, netCDF4 and torch errors can run to many lines; a user-facing message quotes one.
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
