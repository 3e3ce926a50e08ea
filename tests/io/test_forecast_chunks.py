"""Forecast fields stored as ready-made chunks are the fields netCDF-C stored before.

The reference is the writer's own file definition filled the way the writer filled it
before (plain netCDF4 writes of masked arrays: netCDF-C packs, compresses and stores).
The new file decodes to the same values, NaN, attributes and encoding, has the same
structure, and with plain zlib the very same chunk bytes; an interrupted write leaves
nothing behind and no compressing thread.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import h5py
import netCDF4
import numpy as np
import pytest
import xarray as xr

from nowcast.io.writers import ForecastWriter
from nowcast.io.writers import chunks as chunks_module
from nowcast.io.writers import ensemble as ensemble_module
from nowcast.io.writers import forecast as forecast_module
from tests.helpers import laea_grid, rain_frames

REF = np.datetime64("2024-06-01T12:00:00", "s")
STEPS, MEMBERS = 3, 4
ENSEMBLE = {
    "members": MEMBERS,
    "thresholds": (1.0, 0.1, 5.0),
    "ensemble_method": "test: deterministic field times random factors",
    "deterministic_long_name": "Ensemble mean of nowcast of rainfall rate",
}
RAIN, DET = "rainfall_rate", "rainfall_rate_deterministic"
PROB = "probability_of_rainfall_rate_above_threshold"
#: Rates packing treats apart: halves of the scale, its largest code and beyond, signs, zeros.
EDGES = [0.005, 0.015, 0.025, 1.234567, 327.66, 327.67, 327.675, 1000.0, np.inf, -np.inf]
EDGES += [-0.004, -0.005, -0.006, 0.0, -0.0, 1e-7, np.nan]


def _valid() -> np.ndarray:
    return REF + np.timedelta64(300, "s") * np.arange(1, STEPS + 1)


#: A forecast to write: ``(steps, ny, nx)`` fields, members or None, the writer's options.
Case = tuple[np.ndarray, np.ndarray | None, dict[str, Any]]


def _case(members: int, pack: bool) -> Case:
    """Fields with NaN and :data:`EDGES`, and ``members`` members (none: deterministic)."""
    grid = laea_grid()
    fields = np.stack([f.values for f in rain_frames(STEPS, grid)])
    fields[0].flat[: len(EDGES)] = EDGES
    options = {"pack": pack, "history": "test", **(ENSEMBLE if members else {})}
    if not members:
        return fields, None, options
    factors = np.random.default_rng(2).uniform(0.0, 3.0, (members, STEPS, *grid.shape))
    spread = (fields[None] * factors).astype(np.float32)
    spread[:, :, 1, :5] = 1.0  # exactly at a threshold
    return fields, spread, options


def _write_new(path: Path, case: Case) -> Path:
    fields, spread, options = case
    with ForecastWriter(path, laea_grid(), RAIN, REF, _valid(), **options) as writer:
        for k in range(STEPS):
            writer.write_step(k, fields[k], None if spread is None else spread[:, k])
    return path


def _put(var: Any, where: tuple[int | slice, ...], values: np.ndarray) -> None:
    """A field stored as the writer stored it before: a masked array, netCDF4 packing it."""
    values = values.astype(np.float32, copy=False)
    if var.dtype == np.int16:
        values = np.minimum(values, float(np.float32(0.01)) * np.iinfo(np.int16).max)
    missing = np.isnan(values)
    var[where] = np.ma.masked_array(np.where(missing, 0.0, values), mask=missing)


def _old_probabilities(members: np.ndarray, deterministic: np.ndarray) -> np.ndarray:
    count = np.float32(members.shape[0])
    thresholds = np.sort(np.asarray(ENSEMBLE["thresholds"], dtype=np.float32))
    result = np.stack([np.count_nonzero(members >= t, axis=0) / count for t in thresholds])
    result = result.astype(np.float32)
    result[:, np.isnan(deterministic)] = np.nan
    return result


def _write_old(path: Path, case: Case) -> Path:
    """The same forecast, defined by the writer and filled with plain netCDF4 writes."""
    fields, spread, options = case
    with ForecastWriter(path, laea_grid(), RAIN, REF, _valid(), **options):
        pass  # defined, nothing stored
    # netCDF4 casts the masked -inf to int16 as well, which numpy warns about.
    with netCDF4.Dataset(path, "a") as nc, np.errstate(invalid="ignore"):
        for k in range(STEPS):
            if spread is None:
                _put(nc[RAIN], (k,), fields[k])
                continue
            _put(nc[RAIN], (slice(None), k), spread[:, k])
            _put(nc[DET], (k,), fields[k])
            _put(nc[PROB], (slice(None), k), _old_probabilities(spread[:, k], fields[k]))
    return path


def _structure(path: Path) -> dict[str, Any]:
    """What ``ncdump -hs`` shows: dimensions, variables, attributes, storage, filters."""
    with netCDF4.Dataset(path) as nc:
        variables = {
            name: (
                var.dtype,
                var.dimensions,
                var.chunking(),
                var.filters(),
                var.endian(),
                [(key, repr(var.getncattr(key))) for key in var.ncattrs()],
            )
            for name, var in nc.variables.items()
        }
        dims = [(name, len(dim), dim.isunlimited()) for name, dim in nc.dimensions.items()]
        attrs = [(key, repr(nc.getncattr(key))) for key in nc.ncattrs()]
        return {"format": nc.data_model, "dims": dims, "vars": variables, "attrs": attrs}


def _data_names(spread: np.ndarray | None) -> list[str]:
    return [RAIN] if spread is None else [RAIN, DET, PROB]


def _raw(path: Path, name: str) -> np.ndarray:
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_maskandscale(False)
        return np.asarray(nc[name][:])


def _chunks(path: Path, name: str) -> list[tuple[int, bytes]]:
    with h5py.File(path) as h5:
        data = h5[name]
        offsets = np.ndindex(*data.shape[:-2])
        return [data.id.read_direct_chunk((*offset, 0, 0)) for offset in offsets]


def _encoding(var: xr.DataArray) -> dict[str, Any]:
    """How xarray decodes ``var`` (dtype, fill, packing, chunks, filters), not which file."""
    return {key: value for key, value in var.encoding.items() if key != "source"}


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three compressing threads, whatever the CPUs of the machine."""
    monkeypatch.setattr(forecast_module, "compress_threads", lambda: 3)


@pytest.fixture(
    params=[(0, False), (0, True), (MEMBERS, False), (MEMBERS, True)],
    ids=["deterministic", "deterministic-packed", "ensemble", "ensemble-packed"],
)
def case(request: pytest.FixtureRequest, threads: None) -> Case:
    """Each kind of forecast file, written with three compressing threads."""
    return _case(*request.param)


def test_new_file_decodes_as_the_netcdf_c_file(tmp_path: Path, case: Case) -> None:
    new, old = _write_new(tmp_path / "new.nc", case), _write_old(tmp_path / "old.nc", case)
    assert _structure(new) == _structure(old)
    for name in _data_names(case[1]):
        np.testing.assert_array_equal(_raw(new, name), _raw(old, name), strict=True)
    with xr.open_dataset(new) as a, xr.open_dataset(old) as b:
        xr.testing.assert_identical(a, b)
        for name in _data_names(case[1]):
            assert np.isnan(a[name].values).any()
            np.testing.assert_array_equal(np.isnan(a[name].values), np.isnan(b[name].values))
            assert _encoding(a[name]) == _encoding(b[name])
        packed = case[2]["pack"]
        assert a[RAIN].encoding["dtype"] == (np.int16 if packed else np.float32)


def test_with_plain_zlib_the_chunks_are_the_bytes_netcdf_c_stores(
    tmp_path: Path, case: Case
) -> None:
    with chunks_module.exact_zlib():
        new = _write_new(tmp_path / "new.nc", case)
    old = _write_old(tmp_path / "old.nc", case)
    for name in _data_names(case[1]):
        assert _chunks(new, name) == _chunks(old, name), name


def test_packed_codes_of_the_edge_rates() -> None:
    codes = chunks_module.pack_frame(np.array(EDGES, dtype=np.float32))
    assert codes.dtype == np.int16
    assert codes[4:10].tolist() == [32766, 32767, 32767, 32767, 32767, -32768]
    assert codes[10:].tolist() == [0, 0, -1, 0, 0, 0, -32768]


@pytest.mark.parametrize("members", [0, MEMBERS], ids=["deterministic", "ensemble"])
def test_a_field_of_another_shape_is_refused_not_stored(tmp_path: Path, members: int) -> None:
    fields, spread, options = _case(members, pack=False)
    narrow = (fields[:, :, 1:], None if spread is None else spread[:, :, :, 1:], options)
    with pytest.raises(ValueError, match=r"rainfall_rate: a field of shape \(16, 20\) expected"):
        _write_new(tmp_path / "fc.nc", narrow)
    assert list(tmp_path.iterdir()) == []


def _compress_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("nowcast-compress")]


def test_an_interrupted_ensemble_write_leaves_nothing_and_no_thread(
    tmp_path: Path, threads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object) -> np.ndarray:
        assert _compress_threads()  # the members are being compressed meanwhile
        raise KeyboardInterrupt

    monkeypatch.setattr(ensemble_module, "probabilities", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _write_new(tmp_path / "ens.nc", _case(MEMBERS, pack=False))
    assert list(tmp_path.iterdir()) == []
    assert not _compress_threads()
