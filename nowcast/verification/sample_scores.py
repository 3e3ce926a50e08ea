"""A freshly trained model against persistence and the bundled model, on the bundled sample.

What ``nowcast train`` reports at the end of a run on synthetic rain: the
bundled sample (:mod:`nowcast.synthetic.sample`) is the same kind of rain from
a seed no training set uses, so it is held out for both models alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nowcast.synthetic.sample import sample_path
from nowcast.verification.evaluate import EvaluateRequest, EvaluateResult, run_evaluation

#: Start times scored, evenly spread over the sample's 56: enough to rank the methods,
#: about 20 s on 2 CPU cores for both models.
SAMPLE_STARTS = 16


def score_on_sample(
    model: Path,
    output_dir: Path | None,
    *,
    device: str = "auto",
    on_start: Callable[[int, int], Any] | None = None,
) -> EvaluateResult:
    """Score ``model`` (a run folder or checkpoint), the bundled model and persistence.

    Args:
        model: The trained model.
        output_dir: Folder for the report files (as ``nowcast evaluate`` writes
            them); ``None`` writes nothing.
        device: ``auto``, ``cpu`` or ``cuda``.
        on_start: Called as ``on_start(done, total)`` after each start time.
    """
    request = EvaluateRequest(
        models=[str(model), "default"],
        data=sample_path(),
        baselines=["persistence"],
        max_starts=SAMPLE_STARTS,
        output_dir=output_dir,
        device=device,
    )
    return run_evaluation(request, on_start)
