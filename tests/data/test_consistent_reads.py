"""Every read of a canonical file comes from the one file that was opened.

A forecast or a training run that starts while the data file is atomically replaced
(``os.replace``, as every nowcast writer does) must not combine one file's times with
another file's frames: the open file keeps being read, and a process that has to reopen
the path (a DataLoader worker) refuses a file other than the one it was given.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from torch.utils.data import DataLoader

from nowcast.config import DataConfig
from nowcast.data.dataset import CanonicalWindows, from_workers
from nowcast.data.observations import load_observations
from nowcast.errors import CanonicalDataError
from nowcast.io.canonical import open_canonical
from tests.helpers import T0, write_canonical

CFG = DataConfig(in_len=2, out_len=1, crop=0, flips=False, transform="linear", max_rate=1.0)


def _replace(path: Path, value: float, n: int = 4, start_s: int = 3600) -> None:
    """Atomically replace ``path`` with a file of ``n`` frames of ``value``, one hour later."""
    times = [T0 + np.timedelta64(start_s + 300 * k, "s") for k in range(n)]
    staged = write_canonical(
        path.with_name("staged.nc"), np.full((n, 8, 8), value, "f4"), times=times
    )
    os.replace(staged, path)


@pytest.fixture
def first(tmp_path: Path) -> Path:
    """A canonical file of 4 frames of 1.0 mm/h from T0."""
    return write_canonical(tmp_path / "obs.nc", np.ones((4, 8, 8), "f4"))


def test_an_open_file_keeps_its_frames_after_the_path_is_replaced(first: Path) -> None:
    data = open_canonical(first)
    _replace(first, 2.0)
    assert data.times[0] == T0
    np.testing.assert_array_equal(data.read(0, 4), np.ones((4, 8, 8), "f4"))
    data.close()
    assert open_canonical(first).read(0, 1)[0, 0, 0] == 2.0  # a new open sees the new file


def test_a_copy_in_another_process_refuses_the_replaced_file(first: Path) -> None:
    with open_canonical(first) as data:
        copy = pickle.loads(pickle.dumps(data))  # what a DataLoader worker receives
        _replace(first, 2.0)
        with pytest.raises(CanonicalDataError, match="replaced or changed after it was opened"):
            copy.read(0, 1)


def test_a_closed_file_reopens_only_while_it_is_the_same(first: Path) -> None:
    data = open_canonical(first)
    data.close()
    assert data.read(1, 2)[0, 0, 0] == 1.0  # reopened: still the same file
    data.close()
    _replace(first, 2.0)
    with pytest.raises(CanonicalDataError, match="replaced"):
        data.read(0, 1)


def test_observations_read_the_file_their_times_came_from(first: Path) -> None:
    obs = load_observations([str(first)])
    _replace(first, 2.0)
    assert obs.times[0] == T0
    np.testing.assert_array_equal(obs.read(np.array([0, 2])), np.ones((2, 8, 8), "f4"))


def test_training_windows_refuse_a_file_replaced_before_a_worker_opens_it(first: Path) -> None:
    windows = CanonicalWindows(first, np.array([0, 1]), CFG, 4, train=False)
    worker = pickle.loads(pickle.dumps(windows))
    _replace(first, 2.0)
    with pytest.raises(CanonicalDataError, match="replaced"):
        worker[0]


def test_training_windows_refuse_a_file_other_than_the_one_the_splits_came_from(
    first: Path,
) -> None:
    source = open_canonical(first)
    _replace(first, 2.0)
    with pytest.raises(CanonicalDataError, match="replaced"):
        CanonicalWindows(first, np.array([0]), CFG, 4, train=False, identity=source.identity)


def test_a_worker_s_refusal_reaches_the_main_process_as_one_line(first: Path) -> None:
    windows = CanonicalWindows(first, np.array([0, 1]), CFG, 4, train=False)
    _replace(first, 2.0)
    with pytest.raises(CanonicalDataError) as caught:
        list(from_workers(DataLoader(windows, num_workers=1)))
    assert str(caught.value) == (
        f"{first} was replaced or changed after it was opened; start again to use the new file"
    )


def test_a_nan_time_is_one_clear_error(first: Path) -> None:
    path = first.with_name("nan_time.nc")
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", 2)
        nc.createDimension("y", 2)
        nc.createDimension("x", 2)
        nc.createVariable("time", "f8", ("time",))[:] = [0.0, np.nan]
        nc.createVariable("y", "f8", ("y",))[:] = [1.0, 0.0]
        nc.createVariable("x", "f8", ("x",))[:] = [0.0, 1.0]
        nc.createVariable("rainfall_rate", "f4", ("time", "y", "x"))[:] = 0.0
        nc["rainfall_rate"].units = "mm h-1"
        nc.nowcast_timestep_seconds = 300
    with pytest.raises(CanonicalDataError, match="time has missing or non-finite"):
        open_canonical(path)
