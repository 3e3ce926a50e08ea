"""Sharp deterministic output and members: the observed values, placed by the network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nowcast.forecasting.ensemble import MovedObservations, members, moved_observations, sharpen
from nowcast.forecasting.model_choice import load_model
from nowcast.forecasting.run import MEMBERS, model_ensemble, model_forecast, network_forecast
from nowcast.motion import displacements
from tests.forecasting.conftest import rain_stack

CPU = torch.device("cpu")
N = 64
STEPS = 3
SPEED = 3  # pixels per step, to the right


def _blob(cx: float, cy: float, width: float, peak: float) -> np.ndarray:
    y, x = np.mgrid[0:N, 0:N]
    field = peak * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * width**2))
    field[field < 0.1] = 0.0  # dry around the rain
    return field.astype(np.float32)


def _observed() -> np.ndarray:
    """Four frames of a rain blob moving ``SPEED`` pixels a step; no coverage top right."""
    rng = np.random.default_rng(0)
    frames = np.stack([_blob(16 + SPEED * t, 30, 6.0, 20.0) for t in range(4)])
    frames *= rng.uniform(0.7, 1.3, size=frames.shape).astype(np.float32)  # some texture
    frames[:, :12, 48:] = np.nan
    return frames


def _network(raw: np.ndarray) -> np.ndarray:
    """A hedging forecast: the blob moved on, wider and fainter, NaN outside the coverage."""
    fields = np.stack([_blob(25 + SPEED * (k + 1), 30, 10.0, 6.0) for k in range(STEPS)])
    fields[:, np.isnan(raw[-1])] = np.nan
    return fields


def _moving(raw: np.ndarray) -> MovedObservations:
    velocity = torch.zeros((1, 2, N, N))
    velocity[:, 0] = SPEED
    return moved_observations(raw, displacements(velocity, STEPS), STEPS)


def _values(field: np.ndarray, covered: np.ndarray) -> np.ndarray:
    return np.sort(field[covered])


def test_the_last_frame_moves_along_the_motion_with_its_own_values() -> None:
    raw = _observed()

    moved = _moving(raw)
    fixed = moved_observations(raw, None, STEPS)

    last = np.nan_to_num(raw[-1], nan=0.0)
    assert moved.last.shape == (STEPS, N, N) and moved.last.dtype == np.float32
    np.testing.assert_array_equal(moved.covered, np.isfinite(raw[-1]))
    for k in range(STEPS):
        shift = SPEED * (k + 1)
        np.testing.assert_array_equal(moved.last[k][:, shift:], last[:, :-shift])
        assert np.all(moved.last[k][:, :shift] == 0.0)  # from outside the grid: no rain
        np.testing.assert_array_equal(fixed.last[k], last)
    # The blob moves with the motion, so its scales keep their correlation in the moving
    # frame: at the largest scales more than in the fixed frame.
    along, still = moved.correlation(), fixed.correlation()
    assert along.shape == still.shape == (7,)
    assert float(along[4]) > 0.9
    assert float(along[4]) > float(still[4])


def test_sharpen_gives_the_moved_observations_values_where_the_network_puts_rain() -> None:
    raw = _observed()
    moved = _moving(raw)
    fields = _network(raw)

    out = sharpen(fields, moved)

    assert out.shape == (STEPS, N, N) and out.dtype == np.float32
    covered = moved.covered
    for k in range(STEPS):
        np.testing.assert_array_equal(_values(out[k], covered), _values(moved.last[k], covered))
        assert np.isnan(out[k][~covered]).all()
        wet, observed_wet = (float(np.mean(f[covered] > 0.1)) for f in (out[k], moved.last[k]))
        assert wet == observed_wet and 0.1 < wet < 0.5
        # The network's peak gets the observed peak; its veil (> 0, below the observed
        # wet area's rank) becomes dry.
        assert out[k].flat[np.nanargmax(fields[k])] == np.nanmax(moved.last[k])
        veil = (fields[k] > 0) & covered
        assert float(np.mean(out[k][veil] > 0)) < float(np.mean(fields[k][veil] > 0))
    assert np.nanmax(out) > 2 * np.nanmax(fields)  # peaks no longer faded


def test_a_forecast_of_no_rain_is_ranked_by_the_moved_observation() -> None:
    raw = _observed()
    moved = _moving(raw)
    dry = np.where(np.isnan(raw[-1]), np.nan, 0.0)[None].repeat(STEPS, 0).astype(np.float32)

    out = sharpen(dry, moved)

    expected = np.where(moved.covered, moved.last, np.nan)
    np.testing.assert_array_equal(out, expected)


def test_members_are_observed_values_placed_differently() -> None:
    raw = _observed()
    moved = _moving(raw)
    fields = _network(raw)
    leads: list[tuple[int, int]] = []

    ensemble = members(
        fields, moved, 5, seed=1, on_lead=lambda done, total: leads.append((done, total))
    )

    assert ensemble.shape == (5, STEPS, N, N) and ensemble.dtype == np.float32
    assert leads == [(1, STEPS), (2, STEPS), (3, STEPS)]
    covered = moved.covered
    assert np.isnan(ensemble[:, :, ~covered]).all()
    for k in range(STEPS):
        expected = _values(moved.last[k], covered)
        for m in range(5):
            np.testing.assert_array_equal(_values(ensemble[m, k], covered), expected)
    for m in range(1, 5):
        assert not np.array_equal(ensemble[0], ensemble[m])
    # They differ where the network hedges, and agree on the rain's whereabouts.
    spread = ensemble[:, :, covered].std(axis=0)
    assert float(spread.max()) > 1.0
    mean = np.where(covered, ensemble.mean(axis=0), -1.0)
    for k in range(STEPS):
        peak = np.unravel_index(np.nanargmax(mean[k]), mean[k].shape)
        centre = np.unravel_index(np.nanargmax(fields[k]), fields[k].shape)
        assert abs(int(peak[1]) - int(centre[1])) <= 6 and abs(int(peak[0]) - int(centre[0])) <= 6


def test_members_are_reproducible_with_their_seed() -> None:
    raw = _observed()
    moved = _moving(raw)
    fields = _network(raw)

    first = members(fields, moved, 3, seed=4)
    again = members(fields, moved, 3, seed=4)
    other = members(fields, moved, 3, seed=5)

    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_members_in_the_fixed_frame_keep_the_coverage() -> None:
    raw = _observed()
    moved = moved_observations(raw, None, STEPS)

    ensemble = members(_network(raw), moved, 2)

    expected = np.broadcast_to(np.isnan(raw[-1]), ensemble.shape)
    np.testing.assert_array_equal(np.isnan(ensemble), expected)


@pytest.mark.parametrize("frame", ["eulerian", "lagrangian"])
def test_model_ensemble_shares_its_deterministic_output_with_model_forecast(
    ckpt_dir: Path, frame: str
) -> None:
    loaded = load_model(ckpt_dir / "rain.pt", CPU, frame)
    raw = rain_stack(12)[0][-4:]
    progress: list[tuple[str, int, int]] = []

    deterministic, ensemble = model_ensemble(
        loaded,
        raw,
        STEPS,
        4,
        device=CPU,
        seed=2,
        on_progress=lambda stage, done, total: progress.append((stage, done, total)),
    )

    assert deterministic.shape == (STEPS, 24, 28) and ensemble.shape == (4, STEPS, 24, 28)
    assert deterministic.dtype == ensemble.dtype == np.float32
    np.testing.assert_array_equal(deterministic, model_forecast(loaded, raw, STEPS, device=CPU))
    assert [p for p in progress if p[0] == MEMBERS] == [(MEMBERS, k, STEPS) for k in (1, 2, 3)]
    fields, moved = network_forecast(loaded, raw, STEPS, device=CPU)
    np.testing.assert_array_equal(deterministic, sharpen(fields, moved))
    np.testing.assert_array_equal(ensemble, members(fields, moved, 4, seed=2))
    covered = np.isfinite(raw[-1])
    np.testing.assert_array_equal(moved.covered, covered)
    for k in range(STEPS):
        np.testing.assert_array_equal(
            _values(ensemble[3, k], covered), _values(moved.last[k], covered)
        )


def test_a_persistence_ensemble_has_the_last_frame_as_deterministic_output(
    ckpt_dir: Path,
) -> None:
    loaded = load_model(ckpt_dir / "persistence.pt", CPU)
    assert loaded.frame == "eulerian"
    raw = rain_stack(12)[0][-4:]

    deterministic, ensemble = model_ensemble(loaded, raw, STEPS, 3, device=CPU)

    for k in range(STEPS):
        np.testing.assert_array_equal(deterministic[k], raw[-1])
    covered = np.isfinite(raw[-1])
    for m in range(3):
        for k in range(STEPS):
            np.testing.assert_array_equal(
                _values(ensemble[m, k], covered), _values(raw[-1], covered)
            )
    assert not np.array_equal(ensemble[0], ensemble[1])
