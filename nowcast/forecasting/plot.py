"""``nowcast forecast --plot``: the last observation next to the forecast, on map axes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from nowcast.data.observations import Observations
from nowcast.io.writers.forecast import read_forecast
from nowcast.plotting import rain_colour_map, save_png

#: Forecast panels shown besides the last observation.
PANELS = 4


def _extent_km(obs: Observations) -> tuple[float, float, float, float]:
    """Imshow extent (left, right, bottom, top) in km of projection (pixels on pixel grids)."""
    x, y = obs.grid.x, obs.grid.y
    dy, dx = obs.grid.spacing
    scale = 1000.0 if obs.grid.is_projected else 1.0
    left, right = (x.min() - dx / 2) / scale, (x.max() + dx / 2) / scale
    if y[0] > y[-1]:  # north-up raster: row 0 at the top
        return left, right, (y.min() - dy / 2) / scale, (y.max() + dy / 2) / scale
    return left, right, (y.max() + dy / 2) / scale, (y.min() - dy / 2) / scale


def plot_forecast(forecast_path: Path, obs: Observations) -> Path:
    """Write ``<forecast>.png``: last observed frame and a few lead times, one colour scale."""
    forecast = read_forecast(forecast_path)
    fields = forecast.fields
    reference = forecast.reference(obs.timestep_s)
    leads = (forecast.valid_times - reference).astype(np.int64)  # seconds
    last = obs.read(np.array([int(np.searchsorted(obs.times, reference))]))[0]
    picks = np.unique(np.linspace(0, fields.shape[0] - 1, min(PANELS, fields.shape[0])).round())
    panels = [(f"observed {str(reference)[:16]}Z", last)] + [
        (f"+{leads[int(i)] // 60} min", fields[int(i)]) for i in picks
    ]
    cmap, norm = rain_colour_map()
    fig = Figure(figsize=(3.2 * len(panels) + 1.0, 3.4))
    axes = fig.subplots(1, len(panels), sharex=True, sharey=True)
    extent = _extent_km(obs)
    image = None
    for ax, (title, field) in zip(np.atleast_1d(axes), panels, strict=True):
        image = ax.imshow(field, cmap=cmap, norm=norm, extent=extent, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlabel("x (km)" if obs.grid.is_projected else "x (pixel)")
    np.atleast_1d(axes)[0].set_ylabel("y (km)" if obs.grid.is_projected else "y (pixel)")
    assert image is not None  # panels is never empty
    fig.colorbar(image, ax=axes, extend="both", label="rain rate (mm h-1)", shrink=0.9)
    return save_png(fig, forecast_path.with_suffix(".png"), dpi=100)
