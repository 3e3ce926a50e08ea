"""Which observed frames a forecast starts from, and reading them from any input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nowcast.data.observations import load_observations
from nowcast.errors import InputError
from nowcast.forecasting.inputs import select_inputs
from nowcast.synthetic.odim_write import write_odim
from tests.forecasting.conftest import rain_stack
from tests.helpers import STEP_S, T0, laea_grid, write_canonical


def _at(minutes: float) -> np.datetime64:
    return T0 + np.timedelta64(int(minutes * 60), "s")


def _one_line_error(excinfo: pytest.ExceptionInfo[InputError]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


def test_default_is_the_last_in_len_frames(obs_file: Path) -> None:
    obs = load_observations([str(obs_file)])
    np.testing.assert_array_equal(select_inputs(obs, 4, STEP_S), [8, 9, 10, 11])


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(30, [3, 4, 5, 6]), (32, [3, 4, 5, 6]), (34.9, [3, 4, 5, 6]), (15, [0, 1, 2, 3])],
)
def test_at_picks_the_frames_ending_at_or_before_it(
    obs_file: Path, minutes: float, expected: list[int]
) -> None:
    obs = load_observations([str(obs_file)])
    np.testing.assert_array_equal(select_inputs(obs, 4, STEP_S, _at(minutes)), expected)


def test_too_few_frames_up_to_at(obs_file: Path) -> None:
    obs = load_observations([str(obs_file)])
    with pytest.raises(InputError) as excinfo:
        select_inputs(obs, 4, STEP_S, _at(10))
    message = _one_line_error(excinfo)
    assert "3 frame(s) up to 2024-06-01T12:10:00Z" in message and "needs 4" in message
    with pytest.raises(InputError, match="no frame at or before 2024-06-01T11:00:00Z"):
        select_inputs(obs, 4, STEP_S, _at(-60))


def test_a_gap_in_the_needed_frames_names_the_missing_times(tmp_path: Path) -> None:
    fields, grid = rain_stack(10)
    times = [_at(5 * k) for k in range(12) if k not in (9, 10)]  # 12:45 and 12:50 missing
    obs = load_observations([str(write_canonical(tmp_path / "g.nc", fields, grid, times=times))])
    with pytest.raises(InputError) as excinfo:
        select_inputs(obs, 4, STEP_S)
    message = _one_line_error(excinfo)
    assert "missing: 2024-06-01T12:45:00Z, 2024-06-01T12:50:00Z" in message
    assert "ending 2024-06-01T12:55:00Z" in message
    # Before the gap the frames are complete.
    np.testing.assert_array_equal(select_inputs(obs, 4, STEP_S, _at(40)), [5, 6, 7, 8])


def test_frames_are_taken_at_the_requested_cadence(obs_file: Path) -> None:
    obs = load_observations([str(obs_file)])
    np.testing.assert_array_equal(select_inputs(obs, 4, 600), [5, 7, 9, 11])
    with pytest.raises(InputError, match="every 1200 s") as excinfo:
        select_inputs(obs, 4, 1200)  # 11:55, 12:15, 12:35, 12:55: the first is not observed
    assert _one_line_error(excinfo).endswith("missing: 2024-06-01T11:55:00Z")


def test_frames_spanning_two_sequences_are_refused(tmp_path: Path) -> None:
    fields = np.random.default_rng(3).random((12, 8, 8), dtype=np.float32)
    grid = laea_grid(8, 8)
    path = write_canonical(
        tmp_path / "mnist.nc", fields, grid, variable="intensity", sequence=[0] * 6 + [1] * 6
    )
    obs = load_observations([str(path)])
    assert obs.sequence is not None and obs.variable == "intensity"
    with pytest.raises(InputError) as excinfo:
        select_inputs(obs, 4, STEP_S, _at(35))  # frames 4..7: sequences 0, 0, 1, 1
    assert "span two sequences" in _one_line_error(excinfo)
    np.testing.assert_array_equal(select_inputs(obs, 4, STEP_S, _at(45)), [6, 7, 8, 9])
    np.testing.assert_array_equal(select_inputs(obs, 4, STEP_S, _at(25)), [2, 3, 4, 5])


def test_canonical_and_raw_odim_give_the_same_observations(tmp_path: Path) -> None:
    fields, grid = rain_stack(5)
    fields = np.round(fields, 2)  # what ODIM's gain of 0.01 mm/h can store
    raw = tmp_path / "raw"
    raw.mkdir()
    for k, values in enumerate(fields):
        write_odim(raw / f"r{k}.h5", values, _at(5 * k), grid)
    canonical = load_observations([str(write_canonical(tmp_path / "c.nc", fields, grid))])
    for sources in ([str(raw)], [str(raw / "*.h5")]):
        odim = load_observations(sources)
        np.testing.assert_array_equal(odim.times, canonical.times)
        assert odim.variable == canonical.variable == "rainfall_rate"
        assert odim.timestep_s == canonical.timestep_s == STEP_S
        assert odim.grid.same_as(canonical.grid)
        assert odim.source == "5 files (r0.h5 .. r4.h5)"
        every = np.arange(5)
        np.testing.assert_array_equal(odim.read(every), canonical.read(every))
        np.testing.assert_array_equal(odim.read(np.array([3, 1])), fields[[3, 1]])
    assert np.isnan(canonical.read(np.array([0]))[0, :2, :3]).all()


def test_a_single_raw_file_takes_its_cadence_from_the_time_window(tmp_path: Path) -> None:
    fields, grid = rain_stack(1)
    write_odim(tmp_path / "one.h5", np.round(fields[0], 2), T0, grid, interval_s=600)
    obs = load_observations([str(tmp_path / "one.h5")])
    assert obs.timestep_s == 600 and obs.times.tolist() == [T0.item()]
    assert obs.source == "one.h5"


def test_raw_files_on_two_grids_or_with_one_time_twice_are_refused(tmp_path: Path) -> None:
    fields, grid = rain_stack(2)
    write_odim(tmp_path / "a.h5", np.round(fields[0], 2), T0, grid)
    write_odim(tmp_path / "b.h5", np.round(fields[1], 2), T0, grid)
    with pytest.raises(InputError, match="duplicate frame times"):
        load_observations([str(tmp_path / "a.h5"), str(tmp_path / "b.h5")])
    other = laea_grid(24, 28, x0=0.0)
    write_odim(tmp_path / "c.h5", np.round(fields[1], 2), _at(5), other)
    with pytest.raises(InputError, match=r"c\.h5 is on a different grid than .*a\.h5"):
        load_observations([str(tmp_path / "a.h5"), str(tmp_path / "c.h5")])
