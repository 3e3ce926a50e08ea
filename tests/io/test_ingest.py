"""The ingest pipeline: ordering, validation, clipping, atomic output, reports."""

from __future__ import annotations

import threading
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from nowcast.errors import CanonicalDataError, InputError, OutputExistsError
from nowcast.io.canonical import open_canonical
from nowcast.io.ingest.pipeline import expand_sources, ingest, read_frames
from nowcast.io.readers.registry import detect_reader
from nowcast.io.writers import CanonicalWriter
from nowcast.synthetic.odim_write import write_odim
from tests.helpers import laea_grid, rain_frames


def _odim_files(folder: Path, n: int = 4, grid=None, start: str = "2024-06-01T12:00") -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for frame in rain_frames(n, grid or laea_grid(), start=start):
        path = folder / f"f_{str(frame.time).replace(':', '')}.h5"
        write_odim(path, np.round(frame.values, 2), frame.time, frame.grid)
        paths.append(path)
    return paths


def test_ingest_writes_sorted_frames_and_reports(tmp_path: Path) -> None:
    src = tmp_path / "src"
    paths = _odim_files(src, 4)
    names = [p.name for p in paths]
    for path, name in zip(paths, reversed(names), strict=True):  # names no longer in time order
        path.rename(path.with_name("x" + name))
    summary = ingest([str(src)], tmp_path / "out.nc")
    data = open_canonical(tmp_path / "out.nc")
    assert len(data) == 4 and data.timestep_s == 300
    assert np.all(np.diff(data.times).astype(int) == 300)
    expected = np.stack([np.round(f.values, 2) for f in rain_frames(4, laea_grid())])
    np.testing.assert_allclose(data.read(0, 4), expected, atol=1e-5)
    assert summary.stats.frames == 4 and summary.gaps == []
    assert summary.stats.nan_fraction == pytest.approx(6 / (16 * 20))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc", "src"]


def test_gaps_are_allowed_and_reported(tmp_path: Path) -> None:
    src = tmp_path / "src"
    paths = _odim_files(src, 5)
    paths[2].unlink()
    summary = ingest([str(src)], tmp_path / "out.nc")
    assert summary.timestep_s == 300
    assert [str(a) for a, _ in summary.gaps] == ["2024-06-01T12:05:00"]


def test_duplicate_times_are_refused_naming_both_files(tmp_path: Path) -> None:
    _odim_files(tmp_path / "a", 2)
    _odim_files(tmp_path / "b", 1)
    with pytest.raises(CanonicalDataError, match=r"duplicate time .* in .*b/.* and .*a/"):
        ingest([str(tmp_path / "a"), str(tmp_path / "b")], tmp_path / "out.nc")
    assert not (tmp_path / "out.nc").exists()
    assert not list(tmp_path.glob(".*tmp"))


def test_mixed_grids_are_refused(tmp_path: Path) -> None:
    _odim_files(tmp_path / "a", 2)
    _odim_files(tmp_path / "b", 1, grid=laea_grid(x0=0.0), start="2024-06-01T13:00")
    with pytest.raises(CanonicalDataError, match="different grid"):
        ingest([str(tmp_path / "a"), str(tmp_path / "b")], tmp_path / "out.nc")
    assert not (tmp_path / "out.nc").exists()


def test_bad_files_fail_with_their_name_or_are_skipped(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _odim_files(src, 3)
    (src / "notes.h5").write_text("this is not HDF5\n")
    with pytest.raises(InputError, match="notes.h5"):
        ingest([str(src)], tmp_path / "out.nc")
    assert not (tmp_path / "out.nc").exists()
    summary = ingest([str(src)], tmp_path / "out.nc", skip_bad=True)
    assert summary.stats.frames == 3
    assert [Path(p).name for p, _ in summary.skipped] == ["notes.h5"]


def test_truncated_hdf5_is_an_input_error(tmp_path: Path) -> None:
    src = tmp_path / "src"
    path = _odim_files(src, 1)[0]
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(InputError, match=path.name):
        ingest([str(path)], tmp_path / "out.nc")


def test_negative_rates_are_clipped_and_counted(tmp_path: Path) -> None:
    grid = laea_grid()
    frame = rain_frames(1, grid)[0]
    path = tmp_path / "neg.h5"
    raw = np.round(frame.values * 4) / 4  # exact in binary with gain 0.25
    raw[5, 5] = -1.0  # representable through a negative offset
    odim = {"gain": 0.25, "offset": -2.0, "nodata": 65535, "undetect": 0}
    write_odim(path, raw, frame.time, grid, **odim)
    second = tmp_path / "neg2.h5"
    write_odim(second, raw, frame.time + np.timedelta64(300, "s"), grid, **odim)
    summary = ingest([str(path), str(second)], tmp_path / "out.nc")
    assert summary.stats.clipped == 2
    assert open_canonical(tmp_path / "out.nc").read(0, 1)[0, 5, 5] == 0.0


def test_empty_inputs_and_existing_output(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no input files"):
        ingest([str(tmp_path / "empty")], tmp_path / "out.nc")
    with pytest.raises(InputError, match="no such file"):
        expand_sources([str(tmp_path / "missing")])
    _odim_files(tmp_path / "src", 2)
    (tmp_path / "out.nc").write_text("old")
    with pytest.raises(OutputExistsError):
        ingest([str(tmp_path / "src")], tmp_path / "out.nc")
    assert (tmp_path / "out.nc").read_text() == "old"
    ingest([str(tmp_path / "src")], tmp_path / "out.nc", overwrite=True)
    assert len(open_canonical(tmp_path / "out.nc")) == 2


def test_glob_sources(tmp_path: Path) -> None:
    _odim_files(tmp_path, 3)
    assert len(expand_sources([str(tmp_path / "*.h5")])) == 3


def test_moving_mnist_keeps_sequences_apart(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "mm.npy"
    np.save(path, rng.integers(0, 255, size=(5, 3, 64, 64), dtype=np.uint8))
    summary = ingest([str(path)], tmp_path / "mm.nc")
    data = open_canonical(tmp_path / "mm.nc")
    assert data.variable == "intensity" and summary.sequences == 3
    np.testing.assert_array_equal(data.sequence, np.repeat([0, 1, 2], 5))
    assert data.timestep_s == 300 and summary.gaps == []
    assert data.grid.crs is None


def _no_temporaries(folder: Path) -> bool:
    return not list(folder.glob(".*.tmp"))


def test_reader_is_reused_and_other_formats_still_detected(tmp_path: Path, monkeypatch) -> None:
    odim = _odim_files(tmp_path / "odim", 3)
    cf_file = tmp_path / "later.nc"
    ingest([str(p) for p in _odim_files(tmp_path / "more", 2, start="2024-06-01T13:00")], cf_file)
    detected: list[str] = []

    def counting(path: Path, options=None):
        detected.append(Path(path).name)
        return detect_reader(path, options)

    monkeypatch.setattr("nowcast.io.ingest.sources.detect_reader", counting)
    frames = list(read_frames([*odim, cf_file, odim[0]]))
    assert [f.extra["quantity"] for f in frames] == ["RATE"] * 3 + ["rainfall_rate"] * 2 + ["RATE"]
    assert detected == [odim[0].name, cf_file.name, odim[0].name]


def test_reused_reader_refuses_a_file_of_another_format(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _odim_files(src, 3)
    with netCDF4.Dataset(src / "zz_temperature.h5", "w") as nc:  # NetCDF-4 = HDF5, no rain
        nc.createDimension("x", 3)
        nc.createVariable("t", "f4", ("x",)).standard_name = "air_temperature"
    with pytest.raises(InputError, match=r"zz_temperature.h5: not a recognised radar") as exc:
        ingest([str(src)], tmp_path / "out.nc")
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "out.nc").exists() and _no_temporaries(tmp_path)


def test_bad_last_file_leaves_no_output_after_background_writing(tmp_path: Path) -> None:
    src = tmp_path / "src"
    paths = _odim_files(src, 8)  # more frames than the writer queue holds
    paths[-1].write_bytes(paths[-1].read_bytes()[:3000])
    with pytest.raises(InputError, match=paths[-1].name):
        ingest([str(src)], tmp_path / "out.nc")
    assert not (tmp_path / "out.nc").exists() and _no_temporaries(tmp_path)


def test_error_in_a_compressing_thread_reaches_the_caller(tmp_path: Path, monkeypatch) -> None:
    _odim_files(tmp_path / "src", 6)
    store = CanonicalWriter.store_chunk

    def failing(self, index: int, chunk) -> None:
        if index == 2:
            raise OSError("No space left on device")
        store(self, index, chunk)

    monkeypatch.setattr(CanonicalWriter, "store_chunk", failing)
    threads = threading.active_count()
    with pytest.raises(OSError, match="No space left"):
        ingest([str(tmp_path / "src")], tmp_path / "out.nc")
    assert not (tmp_path / "out.nc").exists() and _no_temporaries(tmp_path)
    assert threading.active_count() == threads
