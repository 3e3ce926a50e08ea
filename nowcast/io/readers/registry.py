"""Reader protocol and the name -> reader registry.

A reader turns one raw file into canonical :class:`~nowcast.io.grid.Frame`
objects. Each reader module defines one class implementing :class:`Reader`
and is listed in :data:`READERS`; ``--format auto`` asks each reader's
:meth:`Reader.can_open` (which looks at the file's *content*, never its name).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from nowcast.errors import InputError
from nowcast.io.grid import Frame
from nowcast.io.plausible import DEFAULT_MAX_RATE, check_max_rate


@dataclass(frozen=True)
class ReaderOptions:
    """Options a reader may use; each reader ignores those it has no use for.

    Attributes:
        zr_a: ``a`` of the Z-R relation ``Z = a R^b`` (reflectivity -> mm h-1).
        zr_b: ``b`` of the Z-R relation.
        sequences: Moving MNIST sequences to generate from IDX digit files.
        frames: Frames per generated Moving MNIST sequence.
        seed: Seed of the Moving MNIST generator.
        timestep_s: Synthetic cadence given to Moving MNIST frames, seconds.
        max_rate: Largest plausible rain rate, mm h-1: decoded values beyond it
            become no data, or refuse the frame (:mod:`nowcast.io.plausible`).
    """

    zr_a: float = 200.0
    zr_b: float = 1.6
    sequences: int = 1000
    frames: int = 20
    seed: int = 0
    timestep_s: int = 300
    max_rate: float = DEFAULT_MAX_RATE

    def __post_init__(self) -> None:
        """Refuse a ``max_rate`` that is not finite and > 0 (ConfigError)."""
        check_max_rate(self.max_rate)


class Reader(Protocol):
    """What every format reader provides."""

    name: str
    description: str

    def can_open(self, path: Path) -> bool:
        """True when the file's content looks like this format (cheap, never raises)."""
        ...

    def frames(self, path: Path) -> Iterator[Frame]:
        """Yield the file's frames in canonical units; raise InputError when unreadable."""
        ...


#: Format name -> "module:Class". Modules are imported on first use.
READERS: dict[str, str] = {
    "odim": "nowcast.io.readers.odim:OdimReader",
    "knmi": "nowcast.io.readers.knmi:KnmiReader",
    "cf": "nowcast.io.readers.cf.reader:CfNetcdfReader",
    "mnist-npy": "nowcast.io.readers.moving_mnist.reader:MovingMnistNpyReader",
    "mnist-idx": "nowcast.io.readers.moving_mnist.reader:MnistIdxReader",
}


def get_reader(name: str, options: ReaderOptions | None = None) -> Reader:
    """Instantiate the reader registered as ``name``.

    Raises:
        InputError: for an unknown name; the message lists the known ones.
    """
    key = name.lower()
    if key not in READERS:
        raise InputError(f"unknown format {name!r} (known: auto, {', '.join(READERS)})")
    module_name, class_name = READERS[key].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    reader: Reader = cls(options or ReaderOptions())
    return reader


def detect_reader(path: Path, options: ReaderOptions | None = None) -> Reader:
    """Find the reader whose ``can_open`` accepts ``path``.

    Raises:
        InputError: when no reader recognises the file.
    """
    for name in READERS:
        reader = get_reader(name, options)
        if reader.can_open(path):
            return reader
    raise InputError(
        f"{path}: not a recognised radar or Moving MNIST file (tried: {', '.join(READERS)})"
    )
