"""``nowcast evaluate`` holds one method's forecast at a time, whatever the number of starts.

On a 2200 x 1900 grid a forecast is 67 MB per 4 lead times and members are
20 times that: the peak memory depends on how many are alive together. Each
forecast here is tracked by a weak reference; when a method is asked for a
forecast, none of the earlier ones (any method, any start) may still be alive.
"""

from __future__ import annotations

import weakref

import numpy as np
import pytest

from nowcast.data.observations import Observations, load_observations
from nowcast.verification.run import Method, evaluate, example_fields
from tests.forecasting.conftest import rain_stack
from tests.helpers import write_canonical

STEPS = 3


class Tracker:
    """Methods that forecast persistence and count the earlier forecasts still alive."""

    def __init__(self) -> None:
        self.forecasts: list[weakref.ref[np.ndarray]] = []
        self.alive_at_call: list[int] = []

    def _track(self, array: np.ndarray) -> np.ndarray:
        self.forecasts.append(weakref.ref(array))
        return array

    def predict(self, frames: np.ndarray, steps: int) -> np.ndarray:
        """Persistence, after counting the tracked forecasts nobody has freed."""
        self.alive_at_call.append(sum(ref() is not None for ref in self.forecasts))
        return self._track(np.repeat(frames[-1:], steps, axis=0))

    def ensemble(
        self, frames: np.ndarray, steps: int, members: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Persistence and ``members`` copies of it."""
        forecast = self.predict(frames, steps)
        return forecast, self._track(np.repeat(forecast[None], members, axis=0))

    def methods(self) -> list[Method]:
        """Three methods of different input lengths, one of them with members."""
        return [
            Method("a", self.predict, 4, ensemble=self.ensemble),
            Method("b", self.predict, 1),
            Method("c", self.predict, 3),
        ]


@pytest.fixture(scope="module")
def obs(tmp_path_factory: pytest.TempPathFactory) -> Observations:
    """12 rain frames on a 24 x 28 grid: 6 start times of 4 inputs and 3 lead times."""
    fields, grid = rain_stack(12)
    path = tmp_path_factory.mktemp("memory") / "obs.nc"
    return load_observations([str(write_canonical(path, fields, grid))])


@pytest.mark.parametrize("members", [0, 2])
def test_no_forecast_is_alive_when_the_next_method_forecasts(
    obs: Observations, members: int
) -> None:
    tracker = Tracker()
    starts = np.arange(3, 9)
    evaluate(obs, tracker.methods(), starts, STEPS, [0.5], [1, 3], [1.0, 3.0], members=members)
    assert tracker.alive_at_call == [0] * (3 * starts.size)


def test_the_example_keeps_only_the_plotted_leads(obs: Observations) -> None:
    tracker = Tracker()
    observed, forecasts = example_fields(obs, tracker.methods(), 5, STEPS, [0, 2])
    assert tracker.alive_at_call == [0, 0, 0]
    assert observed.shape == (2, 24, 28)
    assert {name: f.shape for name, f in forecasts.items()} == dict.fromkeys("abc", (2, 24, 28))
    np.testing.assert_array_equal(forecasts["b"], np.repeat(obs.read(np.array([5])), 2, axis=0))
    assert not any(ref() is not None for ref in tracker.forecasts)  # copies, not views
