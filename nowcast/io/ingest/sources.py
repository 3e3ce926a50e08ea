"""Input files and their readers: the first stage of ``nowcast ingest``.

Kept apart from the pipeline (:mod:`nowcast.io.ingest.pipeline`) because finding the
files and choosing a reader for each is its own job, and
:mod:`nowcast.data.observations` uses it without writing anything: sources
expand to a sorted file list, and the reader detected for one file is tried
first on the next.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from nowcast.errors import InputError
from nowcast.io.grid import Frame
from nowcast.io.plausible import screen_frame
from nowcast.io.readers.registry import Reader, ReaderOptions, detect_reader, get_reader


def expand_sources(sources: Sequence[str]) -> list[Path]:
    """Files, directories (searched recursively) and glob patterns -> sorted file list.

    Raises:
        InputError: when a source matches nothing, or nothing at all is found.
    """
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p)))
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(source):
            matches = sorted(Path(p) for p in glob.glob(source, recursive=True))
            found.extend(p for p in matches if p.is_file())
        else:
            raise InputError(f"{source}: no such file or directory")
    if not found:
        raise InputError(f"no input files found in {', '.join(sources)}")
    return list(dict.fromkeys(found))


def _hidden(path: Path) -> bool:
    return path.name.startswith(".")


def read_frames(
    paths: Sequence[Path],
    fmt: str = "auto",
    options: ReaderOptions | None = None,
    skipped: list[tuple[str, str]] | None = None,
    on_file: Callable[[Path], None] | None = None,
) -> Iterator[Frame]:
    """Yield the frames of every file in ``paths``, screened for plausibility.

    Implausible values become NaN and are counted in ``Frame.implausible``;
    a wholly implausible frame raises InputError like an unreadable file
    (:func:`~nowcast.io.plausible.screen_frame`, with ``options.max_rate``).

    With ``auto``, the reader detected for one file is tried first on the
    next (a series is nearly always one format), which saves opening every
    file once per candidate format. A file it cannot read goes through the
    full detection, exactly as if nothing had been reused, so mixed formats
    are read (or refused) as before and a bad file gets detection's error.

    Args:
        paths: Input files.
        fmt: A reader name or ``auto`` (detect by content, per file).
        options: Reader options (Z-R, Moving MNIST generation).
        skipped: When given, unreadable files are appended as ``(path, reason)``
            and skipped instead of raising.
        on_file: Called after each file (progress).
    """
    fixed: Reader | None = None if fmt == "auto" else get_reader(fmt, options)
    max_rate = (options or ReaderOptions()).max_rate
    last: list[Reader] = []
    for path in paths:
        try:
            frames = (
                fixed.frames(path) if fixed is not None else _detected_frames(path, options, last)
            )
            for frame in frames:
                yield screen_frame(frame, max_rate)
        except InputError as exc:
            if skipped is None:
                raise
            skipped.append((str(path), str(exc)))
        if on_file:
            on_file(path)


def _detected_frames(
    path: Path, options: ReaderOptions | None, last: list[Reader]
) -> Iterator[Frame]:
    """The frames of ``path``: by ``last[0]`` when it reads the file, else by detection.

    ``last`` holds the reader of the previous file (empty at first) and is
    updated to the reader that read this one. The reused reader counts as
    having read the file once it yields its first frame (or finishes
    without error); before that, any InputError sends the file through
    :func:`detect_reader`.
    """
    if last:
        frames = last[0].frames(path)
        try:
            first = next(frames, None)
        except InputError:
            pass
        else:
            if first is not None:
                yield first
                yield from frames
            return
    reader = detect_reader(path, options)
    last[:] = [reader]
    yield from reader.frames(path)
