"""The observed frames a forecast starts from: the ``in_len`` frames ending at ``--at``.

``forecast`` accepts a canonical file or raw radar files; both are loaded as
:class:`~nowcast.data.observations.Observations` (frames read by index on demand).
"""

from __future__ import annotations

import numpy as np

from nowcast.data.observations import Observations
from nowcast.errors import InputError


def select_inputs(
    obs: Observations, in_len: int, timestep_s: int, at: np.datetime64 | None = None
) -> np.ndarray:
    """Indices of the ``in_len`` frames ending at the last frame at or before ``at``.

    The frames must be exactly ``timestep_s`` apart (and in one sequence).

    Raises:
        InputError: too few frames, or frames missing in the needed stretch
            (the message names the missing times).
    """
    times = obs.times
    last = times.size - 1 if at is None else int(np.searchsorted(times, at, side="right")) - 1
    if last < 0:
        raise InputError(f"no frame at or before {at}Z in {obs.source}")
    if last + 1 < in_len:
        raise InputError(
            f"{obs.source} has {last + 1} frame(s) up to {times[last]}Z; "
            f"the model needs {in_len} input frames"
        )
    end = times[last]
    wanted = end - np.arange(in_len - 1, -1, -1) * np.timedelta64(timestep_s, "s")
    found = np.searchsorted(times, wanted)
    found = np.minimum(found, times.size - 1)
    missing = [str(t) + "Z" for t, i in zip(wanted, found, strict=True) if times[i] != t]
    if missing:
        raise InputError(
            f"the model needs {in_len} frames every {timestep_s} s ending {end}Z; "
            f"missing: {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else "")
        )
    if obs.sequence is not None and len(set(obs.sequence[found].tolist())) > 1:
        raise InputError(f"the {in_len} input frames ending {end}Z span two sequences")
    return found
