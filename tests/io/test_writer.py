"""The canonical and forecast writers follow docs/data-formats.md and write atomically."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import h5py
import netCDF4
import numpy as np
import pytest
import xarray as xr

from nowcast.errors import OutputExistsError
from nowcast.io.canonical import open_canonical
from nowcast.io.projection import latlon
from nowcast.io.writers import CanonicalWriter, ForecastWriter
from nowcast.io.writers import chunks as chunks_module
from nowcast.io.writers.chunks import chunk_blocks, compress_frame
from tests.helpers import laea_grid, rain_frames

COORDS = ("x", "y", "x_bnds", "y_bnds", "lat", "lon", "time")


def _write_canonical(path: Path, frames, **kwargs) -> None:
    with CanonicalWriter(path, frames[0].grid, "rainfall_rate", **kwargs) as writer:
        for frame in frames:
            writer.append(frame.time, frame.values)
        writer.set_attributes(nowcast_timestep_seconds=np.int32(300))


def _write_forecast(path: Path, fields: np.ndarray, pack: bool = False) -> np.datetime64:
    grid = laea_grid()
    ref = np.datetime64("2024-06-01T12:00:00")
    valid = ref + np.timedelta64(300, "s") * np.arange(1, fields.shape[0] + 1)
    with ForecastWriter(path, grid, "rainfall_rate", ref, valid, pack=pack, history="test") as w:
        for i, field in enumerate(fields):
            w.write_step(i, field)
    return ref


def test_canonical_round_trip_keeps_values_nan_mask_and_grid(tmp_path: Path) -> None:
    frames = rain_frames(4, laea_grid())
    path = tmp_path / "obs.nc"
    _write_canonical(path, frames)
    ds = xr.open_dataset(path, decode_coords="all")
    data = ds["rainfall_rate"]
    np.testing.assert_array_equal(data.values, np.stack([f.values for f in frames]))
    assert data.attrs["standard_name"] == "rainfall_rate"
    assert data.attrs["units"] == "mm h-1"
    assert data.encoding["grid_mapping"] == "crs"
    assert "crs" in ds.coords and "lat" in ds.coords
    assert ds["crs"].attrs["grid_mapping_name"] == "lambert_azimuthal_equal_area"
    np.testing.assert_allclose(ds["x"].values, frames[0].grid.x)
    np.testing.assert_allclose(ds["x_bnds"].values[:, 1] - ds["x_bnds"].values[:, 0], 1000.0)
    assert ds["time"].values[1] - ds["time"].values[0] == np.timedelta64(300, "s")
    ds.close()


def test_canonical_reader_gives_grid_and_lazy_frames(tmp_path: Path) -> None:
    frames = rain_frames(3, laea_grid())
    path = tmp_path / "obs.nc"
    _write_canonical(path, frames)
    data = open_canonical(path)
    assert data.variable == "rainfall_rate" and data.timestep_s == 300 and len(data) == 3
    assert data.grid.same_as(frames[0].grid)
    np.testing.assert_array_equal(data.read(1, 2)[0], frames[1].values)


def test_coordinates_carry_no_fill_value(tmp_path: Path) -> None:
    path = tmp_path / "obs.nc"
    _write_canonical(path, rain_frames(2, laea_grid()))
    with netCDF4.Dataset(path) as nc:
        for name in COORDS:
            assert "_FillValue" not in nc[name].ncattrs(), name
        assert nc["rainfall_rate"].getncattr("_FillValue") == np.float32(-9999.0)
        assert nc["rainfall_rate"].chunking() == [1, 16, 20]
        assert nc.getncattr("Conventions") == "CF-1.11"


def test_forecast_period_is_valid_minus_reference_time(tmp_path: Path) -> None:
    path = tmp_path / "fc.nc"
    fields = np.stack([f.values for f in rain_frames(3, laea_grid())])
    ref = _write_forecast(path, fields)
    ds = xr.open_dataset(path, decode_coords="all")
    assert ds["forecast_reference_time"].values == ref
    lead = (ds["time"].values - ds["forecast_reference_time"].values) / np.timedelta64(1, "s")
    np.testing.assert_array_equal(ds["forecast_period"].values, lead)
    np.testing.assert_array_equal(ds["forecast_period"].values, [300, 600, 900])
    np.testing.assert_array_equal(np.isnan(ds["rainfall_rate"].values), np.isnan(fields))
    ds.close()


def test_packed_forecast_decodes_to_float32_within_resolution(tmp_path: Path) -> None:
    path = tmp_path / "fc.nc"
    fields = np.stack([f.values for f in rain_frames(2, laea_grid())])
    _write_forecast(path, fields, pack=True)
    ds = xr.open_dataset(path)
    decoded = ds["rainfall_rate"].values
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(decoded), np.isnan(fields))
    assert np.nanmax(np.abs(decoded - fields)) <= 0.005 + 1e-6
    ds.close()


def test_refuses_to_overwrite_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "obs.nc"
    path.write_text("keep me")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        _write_canonical(path, rain_frames(1, laea_grid()))
    assert path.read_text() == "keep me"
    assert list(tmp_path.iterdir()) == [path]


def test_error_while_writing_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "obs.nc"
    frames = rain_frames(2, laea_grid())
    with pytest.raises(RuntimeError):
        with CanonicalWriter(path, frames[0].grid, "rainfall_rate") as writer:
            writer.append(frames[0].time, frames[0].values)
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("pack", [False, True])
def test_forecast_file_passes_cf_checker(tmp_path: Path, pack: bool) -> None:
    pytest.importorskip("compliance_checker")
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    path = tmp_path / "fc.nc"
    _write_forecast(path, np.stack([f.values for f in rain_frames(2, laea_grid())]), pack=pack)
    CheckSuite.load_all_available_checkers()
    report = tmp_path / "report.json"
    _, errors = ComplianceChecker.run_checker(
        str(path), ["cf:1.11"], 0, "normal", output_filename=str(report), output_format="json"
    )
    result = json.loads(report.read_text())["cf:1.11"]
    assert not errors
    assert result["high_count"] == 0, result["high_priorities"]


def _netcdf_c_chunks(path: Path, fields: list[np.ndarray]) -> list[tuple[int, bytes]]:
    """The chunks netCDF-C itself stores for ``fields`` in the canonical storage layout."""
    ny, nx = fields[0].shape
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", None)
        nc.createDimension("y", ny)
        nc.createDimension("x", nx)
        var = nc.createVariable(
            "rainfall_rate",
            "f4",
            ("time", "y", "x"),
            zlib=True,
            complevel=4,
            shuffle=True,
            chunksizes=(1, ny, nx),
            fill_value=np.float32(-9999.0),
        )
        for i, field in enumerate(fields):
            var[i] = np.ma.masked_invalid(field)
    with h5py.File(path) as h5:
        return [h5["rainfall_rate"].id.read_direct_chunk((i, 0, 0)) for i in range(len(fields))]


def _our_chunks(path: Path) -> list[tuple[int, bytes]]:
    with h5py.File(path) as h5:
        data = h5["rainfall_rate"]
        return [data.id.read_direct_chunk((i, 0, 0)) for i in range(data.shape[0])]


@pytest.fixture
def plain_zlib() -> Iterator[None]:
    """Deflate with zlib, as without the optional isal package."""
    with chunks_module.exact_zlib():
        yield


def test_frames_are_the_chunks_netcdf_c_writes(tmp_path: Path, plain_zlib: None) -> None:
    """Frames compressed outside netCDF-C are byte for byte what netCDF-C stores."""
    frames = rain_frames(2, laea_grid())
    _write_canonical(tmp_path / "obs.nc", frames)
    expected = _netcdf_c_chunks(tmp_path / "reference.nc", [f.values for f in frames])
    assert _our_chunks(tmp_path / "obs.nc") == expected


def test_isal_chunks_inflate_to_what_netcdf_c_stores(tmp_path: Path) -> None:
    pytest.importorskip("isal")
    assert chunks_module._use_isal  # the fast path is the one in use
    frames = rain_frames(2, laea_grid())
    _write_canonical(tmp_path / "obs.nc", frames)
    expected = _netcdf_c_chunks(tmp_path / "reference.nc", [f.values for f in frames])
    ours = _our_chunks(tmp_path / "obs.nc")
    assert [mask for mask, _ in ours] == [0, 0] and ours != expected  # other deflate bytes
    assert [zlib.decompress(b) for _, b in ours] == [zlib.decompress(b) for _, b in expected]
    with netCDF4.Dataset(tmp_path / "obs.nc") as nc:
        stored = nc["rainfall_rate"][:].filled(np.nan)
    np.testing.assert_array_equal(stored, np.stack([f.values for f in frames]))


def test_incompressible_frames_are_stored_as_netcdf_c_stores_them(
    tmp_path: Path, plain_zlib: None
) -> None:
    grid = laea_grid()
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 2**32, size=grid.shape, dtype=np.uint32).view(np.float32)
    noise = np.where(np.isfinite(noise), noise, np.nan).astype(np.float32)
    mask, packed = compress_frame(noise)
    assert mask == 0 and len(packed) > noise.nbytes  # HDF5 keeps even a deflate that grows
    path = tmp_path / "obs.nc"
    with CanonicalWriter(path, grid, "rainfall_rate") as writer:
        writer.append(np.datetime64("2024-06-01T12:00"), noise)
    assert _our_chunks(path) == _netcdf_c_chunks(tmp_path / "reference.nc", [noise])
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_mask(False)  # negative noise lies outside valid_min
        stored = nc["rainfall_rate"][0]
    np.testing.assert_array_equal(stored, np.where(np.isnan(noise), np.float32(-9999.0), noise))


def test_latlon_stored_later_equal_latlon_written_at_creation(tmp_path: Path) -> None:
    frames = rain_frames(1, laea_grid())
    _write_canonical(tmp_path / "now.nc", frames)
    with CanonicalWriter(
        tmp_path / "later.nc", frames[0].grid, "rainfall_rate", latlon_later=True
    ) as w:
        assert w.needs_latlon
        w.append(frames[0].time, frames[0].values)
        w.store_latlon(latlon(frames[0].grid))
        assert not w.needs_latlon
    with netCDF4.Dataset(tmp_path / "now.nc") as a, netCDF4.Dataset(tmp_path / "later.nc") as b:
        for name in ("lat", "lon"):
            np.testing.assert_array_equal(a[name][:], b[name][:])


def test_latlon_left_for_later_must_be_stored(tmp_path: Path) -> None:
    frames = rain_frames(1, laea_grid())
    with pytest.raises(RuntimeError, match="lat/lon"):
        with CanonicalWriter(
            tmp_path / "obs.nc", frames[0].grid, "rainfall_rate", latlon_later=True
        ):
            pass
    assert list(tmp_path.iterdir()) == []


def test_chunk_blocks_cover_the_array_and_pad_edges() -> None:
    array = np.arange(35, dtype=np.float32).reshape(5, 7)
    blocks = dict(chunk_blocks(array, (2, 3), -1.0))
    assert sorted(blocks) == [(i, j) for i in (0, 2, 4) for j in (0, 3, 6)]
    np.testing.assert_array_equal(blocks[(4, 6)], [[34, -1, -1], [-1, -1, -1]])
    np.testing.assert_array_equal(blocks[(2, 3)], array[2:4, 3:6])
