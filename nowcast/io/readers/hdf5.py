"""HDF5 helpers the HDF5-based readers share: attributes as Python values, one-line errors.

ODIM_H5 and KNMI files store their metadata as HDF5 attributes of any type (fixed-length
byte strings with trailing NULs, numpy scalars, 1-element arrays); h5py's failures on
truncated or corrupt files are long, multi-line messages. Both readers, and the CF reader's
format sniffing, use these helpers, so that no reader imports another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nowcast.errors import InputError, first_line

# --- attribute normalisation (also used by nowcast.io.readers.knmi) -------------------


def attr_text(value: Any) -> str:
    """An HDF5 attribute as ``str``: bytes, str, numpy scalar or 1-element array.

    Fixed-length C strings may carry trailing NULs; they are cut off.
    """
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"expected one value, got {value.size}")
        value = value.reshape(-1)[0]
    if isinstance(value, (bytes, np.bytes_)):
        value = bytes(value).split(b"\0", 1)[0].decode("utf-8", "replace")
    return str(value).strip()


def attr_float(value: Any) -> float:
    """An HDF5 attribute as ``float`` (numbers, numeric strings, 1-element arrays)."""
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"expected one value, got {value.size}")
        value = value.reshape(-1)[0]
    if isinstance(value, (bytes, np.bytes_, str)):
        return float(attr_text(value))
    return float(value)


@contextmanager
def hdf5_errors(path: Path) -> Iterator[None]:
    """Turn h5py/HDF5 failures (truncated, corrupt, not HDF5) into one-line InputErrors."""
    try:
        yield
    except (OSError, RuntimeError, KeyError) as exc:
        raise InputError(f"{path}: unreadable HDF5 file ({first_line(exc)})") from None


def looks_like_hdf5(path: Path) -> bool:
    """True when ``path`` is a file with an HDF5 signature (never raises)."""
    try:
        return Path(path).is_file() and bool(h5py.is_hdf5(str(path)))
    except Exception:
        return False


def decode_elementwise(raw: np.ndarray, decode: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``decode(raw)`` for a ``decode`` that treats every value on its own.

    8- and 16-bit integer images go through a lookup table: every possible
    code is decoded once (256 or 65536 values) and each pixel is one table
    look-up, which gives the very values ``decode(raw)`` gives at a fraction
    of the cost of decoding every pixel in float64. Other types are decoded
    directly.
    """
    if raw.dtype.kind in "ui" and raw.dtype.itemsize <= 2:
        info = np.iinfo(raw.dtype)
        table = decode(np.arange(info.min, info.max + 1, dtype=raw.dtype))
        index = raw if raw.dtype.kind == "u" else raw.astype(np.intp) - info.min
        return table[index]
    return decode(raw)
