"""Corrupted real radar files through ``ingest``: one clean error, or a file within the contract.

Each example takes a real file from ``../shared/data`` (KNMI HDF5, BOM CF NetCDF, RMI
ODIM_H5), corrupts it (truncation at a random offset, flipped bytes, a random value for
one of its attributes, a NaN/inf/huge patch in its data) and ingests it in-process. The
only acceptable outcomes are a :class:`~nowcast.errors.NowcastError` whose message is one
line, or a canonical file that :func:`~nowcast.io.canonical.open_canonical` accepts with
every value NaN or within ``[0, max rate]`` — never another exception, never a temporary
file left behind.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import netCDF4
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nowcast.errors import NowcastError
from nowcast.io import projection
from nowcast.io.canonical import open_canonical
from nowcast.io.grid import Grid
from nowcast.io.ingest.pipeline import ingest
from nowcast.io.writers.canonical import CanonicalWriter
from tests.conftest import DATA_DIR

#: Examples per radar set; three sets make 2,010 corrupted files per run
#: (``NOWCAST_FUZZ_EXAMPLES`` changes it for a longer or a quicker local run).
EXAMPLES = int(os.environ.get("NOWCAST_FUZZ_EXAMPLES", "670"))
#: Values an attribute or a data patch is set to: the edges a decoder must survive.
HOSTILE_NUMBERS = [0.0, -1.0, 1.0, 1000.0, 1e30, -1e30, 1e-30, np.nan, np.inf, -np.inf]
#: Files of each set per example (an ODIM rate without a window needs two to know its step).
SETS = {
    "knmi": ("radar/knmi", 1),
    "bom": ("radar/bom-cscn", 1),
    "rmi": ("radar/rmi-qpe", 2),
}


def _originals(name: str) -> list[Path]:
    folder, count = SETS[name]
    path = DATA_DIR / folder
    if not path.is_dir():
        pytest.skip(f"real data not found at {path}; set NOWCAST_DATA_DIR to ../shared/data")
    return sorted(p for p in path.iterdir() if p.is_file())[:count]


# --- corruptions: each edits the copy at ``path`` in place ------------------------------


def _truncate(path: Path, fraction: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def _flip(path: Path, positions: list[float], xor: int) -> None:
    data = bytearray(path.read_bytes())
    for position in positions:
        data[int(position * (len(data) - 1))] ^= xor
    path.write_bytes(bytes(data))


def _hdf5_attributes(h5: h5py.File) -> list[tuple[Any, str]]:
    found: list[tuple[Any, str]] = []
    h5.visititems(lambda _, obj: found.extend((obj, key) for key in obj.attrs))
    found.extend((h5, key) for key in h5.attrs)
    return found


def _set_attribute(path: Path, pick: float, value: Any) -> None:
    """Give one attribute (any group, dataset or the root) a hostile value."""
    with h5py.File(path, "r+") as h5:
        attributes = [a for a in _hdf5_attributes(h5) if not a[1].startswith("_Netcdf4")]
        if not attributes:
            return
        owner, key = attributes[int(pick * (len(attributes) - 1))]
        del owner.attrs[key]
        owner.attrs[key] = value


def _biggest_dataset(h5: h5py.File) -> h5py.Dataset | None:
    found: list[h5py.Dataset] = []
    h5.visititems(lambda _, obj: found.append(obj) if isinstance(obj, h5py.Dataset) else None)
    images = [d for d in found if d.ndim >= 2]
    return max(images, key=lambda d: d.size) if images else None


def _patch_data(path: Path, corner: tuple[float, float], size: int, value: float) -> None:
    """Overwrite a square of the image with ``value`` (NaN, inf, 1e30 ... cast to its type)."""
    with h5py.File(path, "r+") as h5:
        data = _biggest_dataset(h5)
        if data is None:
            return
        ny, nx = data.shape[-2:]
        y, x = int(corner[0] * (ny - 1)), int(corner[1] * (nx - 1))
        patch = np.asarray(data[..., y : y + size, x : x + size])
        with np.errstate(invalid="ignore", over="ignore"):
            patch[...] = (
                np.asarray(value).astype(data.dtype)
                if data.dtype.kind == "f"
                else (np.iinfo(data.dtype).max if data.dtype.kind in "ui" else 0)
            )
        data[..., y : y + size, x : x + size] = patch


fractions = st.floats(0.0, 1.0, allow_nan=False)
hostile_values = st.one_of(
    st.sampled_from(HOSTILE_NUMBERS),
    st.integers(-(2**31), 2**31 - 1),
    st.sampled_from([b"", b"\xff\xfe", "garbage", "mm h-1", "m s-1", "seconds since", "1e30"]),
)
corruptions: st.SearchStrategy[Callable[[Path], None]] = st.one_of(
    st.builds(lambda f: lambda p: _truncate(p, f), fractions),
    st.builds(
        lambda pos, x: lambda p: _flip(p, pos, x),
        st.lists(fractions, min_size=1, max_size=8),
        st.integers(1, 255),
    ),
    st.builds(lambda pick, v: lambda p: _set_attribute(p, pick, v), fractions, hostile_values),
    st.builds(
        lambda c, s, v: lambda p: _patch_data(p, c, s, v),
        st.tuples(fractions, fractions),
        st.integers(1, 64),
        st.sampled_from(HOSTILE_NUMBERS),
    ),
)


def _check_outcome(inputs: list[Path], output: Path) -> None:
    """Ingest ``inputs``; assert a one-line NowcastError or a file that keeps the contract."""
    try:
        ingest([str(p) for p in inputs], output, overwrite=True)
    except NowcastError as exc:
        message = str(exc)
        assert message.strip() and "\n" not in message.strip(), repr(message)
        return
    finally:
        litter = [p.name for p in output.parent.iterdir() if p.name.endswith(".tmp")]
        assert not litter, litter
    with open_canonical(output) as canonical:
        values = canonical.read(0, len(canonical))
    with netCDF4.Dataset(output) as nc:
        assert int(nc.getncattr("nowcast_implausible_values")) >= 0
    assert np.all(np.isfinite(canonical.grid.x)) and np.all(np.isfinite(canonical.grid.y))
    valid = values[~np.isnan(values)]
    assert np.all(np.isfinite(valid))
    assert valid.size == 0 or (valid.min() >= 0.0 and valid.max() <= canonical.max_rate)


@pytest.fixture
def latlon_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Project and compress each grid's lat/lon once: most of an ingest's time, not fuzzed here.

    Ingest recomputes them for every new Grid object; here a grid with the same
    coordinates and projection reuses the arrays and their compressed chunks. A corruption
    that changes the grid still gets its own.
    """
    arrays: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}
    chunks: dict[tuple[int, int], Any] = {}
    project, compress = projection.latlon, CanonicalWriter.compress_latlon

    def latlon(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        key = (
            grid.proj4,
            repr(grid.crs),
            np.asarray(grid.x).tobytes(),
            np.asarray(grid.y).tobytes(),
        )
        if key not in arrays:
            arrays[key] = project(grid)
        return arrays[key]

    def compress_latlon(self: CanonicalWriter, values: tuple[np.ndarray, np.ndarray]) -> Any:
        key = (id(values[0]), id(values[1]))  # the arrays above live as long as the test
        if key not in chunks:
            chunks[key] = compress(self, values)
        return chunks[key]

    monkeypatch.setattr(projection, "latlon", latlon)
    monkeypatch.setattr(CanonicalWriter, "compress_latlon", compress_latlon)


@pytest.mark.realdata
@pytest.mark.usefixtures("latlon_once")
@pytest.mark.filterwarnings("default")  # a library warning on a broken file is not a failure
@pytest.mark.parametrize("name", sorted(SETS))
def test_corrupted_real_files_fail_cleanly_or_keep_the_contract(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    originals = _originals(name)
    work = tmp_path_factory.mktemp(f"fuzz-{name}")

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(corrupt=corruptions, which=st.integers(0, len(originals) - 1))
    def run(corrupt: Callable[[Path], None], which: int) -> None:
        inputs = []
        for i, original in enumerate(originals):
            copy = work / f"in{i}{original.suffix}"
            shutil.copyfile(original, copy)
            inputs.append(copy)
        try:
            corrupt(inputs[which])
        except (OSError, KeyError, ValueError, TypeError, RuntimeError):
            return  # the corruption itself could not be applied to this file: nothing to test
        _check_outcome(inputs, work / "out.nc")

    run()
