"""``nowcast forecast --animate``: the observed input frames, then the forecast, as a GIF.

One map panel (:class:`~nowcast.forecasting.plot.MapPanel`) is drawn once and
its image data and title replaced frame by frame, so every frame has the same
layout, colour scale and graticule; only the field and the title (observed
or forecast, lead time, valid time) change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from PIL import Image

from nowcast.data.observations import Observations
from nowcast.forecasting.plot import ForecastSequence, MapPanel, forecast_title
from nowcast.plotting import coverage_legend, rain_colour_bar, render, save_gif

#: Seconds each frame is shown: a 12-step forecast plays in about 6 s.
SECONDS_PER_FRAME = 0.5
#: GIF resolution: about 560 x 620 pixels, a few hundred kB for a radar composite.
DPI = 80


def animate_forecast(
    forecast_path: Path,
    obs: Observations,
    model: str,
    inputs: int,
    on_frame: Callable[[int, int], Any] | None = None,
) -> Path:
    """Write ``<forecast>.gif``: ``inputs`` observed frames, then every forecast lead time.

    Args:
        forecast_path: The forecast file just written.
        obs: The observations it started from.
        model: How the title names the model (name and checksum).
        inputs: Observed frames shown before the forecast (the model's input length).
        on_frame: Called as ``on_frame(done, total)`` after each rendered frame.

    Returns:
        The GIF written beside the forecast file.
    """
    seq = ForecastSequence.read(forecast_path, obs, inputs)
    total = seq.observed.shape[0] + seq.forecast.shape[0]

    def frames() -> Iterator[Image.Image]:
        fig = Figure(figsize=(7.0, 7.8), layout="constrained")
        ax = fig.subplots()
        image = MapPanel.of(obs).draw(ax, seq.observed[0], "")
        fig.suptitle(forecast_title(Path(obs.source).name, seq.reference, model))
        rain_colour_bar(fig, image, ax, f"rain rate ({seq.units})")
        coverage_legend(fig, seq.units)
        shown = [(t, f, True) for t, f in zip(seq.observed_times, seq.observed, strict=True)]
        shown += [(t, f, False) for t, f in zip(seq.valid_times, seq.forecast, strict=True)]
        for done, (time, field, observed) in enumerate(shown, start=1):
            image.set_data(field)
            ax.set_title(
                seq.title(time, observed), fontsize=11, color="black" if observed else "#8b0000"
            )
            yield render(fig, DPI)
            fig.set_layout_engine("none")  # keep the first frame's layout: no text re-measured
            if on_frame:
                on_frame(done, total)

    return save_gif(frames(), forecast_path.with_suffix(".gif"), SECONDS_PER_FRAME)
