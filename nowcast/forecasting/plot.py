"""``nowcast forecast --plot``: the last observation next to the forecast, on a map.

Every forecast figure (this PNG and the ``--animate`` GIF of
:mod:`nowcast.forecasting.animate`) is drawn on the same map panel: axes in
km from the grid's south-west corner, north up, a labelled lat/lon graticule
from the grid's own 2-D latitude and longitude, the rain colour scale with
every class labelled, and a legend that tells no coverage (grey) from dry
(white). The title names the data, the reference time (UTC) and the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from nowcast.data.observations import Observations
from nowcast.io.projection import latlon
from nowcast.io.writers.forecast import read_forecast
from nowcast.plotting import (
    coverage_legend,
    draw_graticule,
    lead_label,
    rain_colour_bar,
    rain_colour_map,
    save_png,
    utc,
)

#: Forecast panels shown besides the last observation.
PANELS = 4


def forecast_title(source: str, reference: np.datetime64, model: str) -> str:
    """The figure title: what was forecast, from when, and by which model."""
    return f"Rain-rate nowcast of {source} from {utc(reference)}\nmodel {model}"


@dataclass(frozen=True)
class MapPanel:
    """What every panel of a forecast figure shares: the grid in km and its lat/lon.

    Attributes:
        x: Column centres in km from the grid's west edge (pixels on pixel grids).
        y: Row centres in km from the grid's south edge, in stored row order.
        north_up: Whether row 0 is the northernmost row.
        lat: Latitude of every cell (degrees north), ``None`` on pixel grids.
        lon: Longitude of every cell (degrees east), ``None`` on pixel grids.
        unit: ``km`` or ``pixel``.
    """

    x: np.ndarray
    y: np.ndarray
    north_up: bool
    lat: np.ndarray | None
    lon: np.ndarray | None
    unit: str

    @classmethod
    def of(cls, obs: Observations) -> MapPanel:
        """The panel of the observations' grid."""
        grid = obs.grid
        dy, dx = grid.spacing
        scale = 1000.0 if grid.is_projected else 1.0
        x = (grid.x - (grid.x.min() - dx / 2)) / scale
        y = (grid.y - (grid.y.min() - dy / 2)) / scale
        lat, lon = latlon(grid) if grid.is_projected else (None, None)
        unit = "km" if grid.is_projected else "pixel"
        return cls(x, y, bool(grid.y[0] >= grid.y[-1]), lat, lon, unit)

    def draw(self, ax: Axes, field: np.ndarray, title: str) -> AxesImage:
        """Show ``field`` (stored rows, NaN = no coverage) north up, with the graticule."""
        cmap, norm = rain_colour_map()
        width = float(self.x.max() + self.x.min())  # last centre + half a cell at each side
        height = float(self.y.max() + self.y.min())
        image = ax.imshow(
            field,
            cmap=cmap,
            norm=norm,
            extent=(0.0, width, 0.0, height),
            origin="upper" if self.north_up else "lower",
            interpolation="nearest",
        )
        if self.lat is not None and self.lon is not None:
            draw_graticule(ax, self.x, self.y, self.lat, self.lon)
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlabel(f"x ({self.unit} from the west edge)", fontsize=9)
        ax.set_ylabel(f"y ({self.unit} from the south edge)", fontsize=9)
        return image


@dataclass(frozen=True)
class ForecastSequence:
    """The last observed frames and the forecast after them, as the figures show them.

    Attributes:
        reference: The forecast's reference time (its last observation).
        observed_times: ``datetime64[s]`` times of ``observed``.
        observed: Observed frames ``(n, ny, nx)`` ending at ``reference``.
        valid_times: ``datetime64[s]`` valid time of each forecast field.
        forecast: Forecast fields ``(steps, ny, nx)``.
        units: Units of both.
    """

    reference: np.datetime64
    observed_times: np.ndarray
    observed: np.ndarray
    valid_times: np.ndarray
    forecast: np.ndarray
    units: str

    @classmethod
    def read(cls, forecast_path: Path, obs: Observations, inputs: int = 1) -> ForecastSequence:
        """The forecast file and the ``inputs`` observed frames up to its reference time."""
        forecast = read_forecast(forecast_path)
        reference = forecast.reference(obs.timestep_s)
        last = int(np.searchsorted(obs.times, reference))
        index = np.arange(max(0, last - inputs + 1), last + 1)
        return cls(
            reference,
            obs.times[index],
            obs.read(index),
            forecast.valid_times,
            forecast.fields,
            forecast.units or "mm h-1",
        )

    def title(self, time: np.datetime64, observed: bool) -> str:
        """A panel title: observed or forecast, lead time and valid time."""
        lead = lead_label(int((time - self.reference).astype("timedelta64[s]").astype(np.int64)))
        kind = "observed" if observed else "forecast"
        return f"{kind} {lead}\nvalid {utc(time)}"


def plot_forecast(forecast_path: Path, obs: Observations, model: str) -> Path:
    """Write ``<forecast>.png``: the last observed frame and a few lead times on one scale.

    Args:
        forecast_path: The forecast file just written.
        obs: The observations it started from.
        model: How the title names the model (name and checksum).

    Returns:
        The PNG written beside the forecast file.
    """
    figure = forecast_figure(ForecastSequence.read(forecast_path, obs), obs, model)
    return save_png(figure, forecast_path.with_suffix(".png"), dpi=100)


def forecast_figure(seq: ForecastSequence, obs: Observations, model: str) -> Figure:
    """The last observation and up to :data:`PANELS` lead times, spread evenly, side by side."""
    steps = seq.forecast.shape[0]
    picks = np.unique(np.linspace(0, steps - 1, min(PANELS, steps)).round()).astype(int)
    panels = [(seq.title(seq.reference, True), seq.observed[-1])] + [
        (seq.title(seq.valid_times[i], False), seq.forecast[i]) for i in picks
    ]
    fig = Figure(figsize=(3.2 * len(panels) + 1.2, 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharex=True, sharey=True))
    panel = MapPanel.of(obs)
    images = [panel.draw(ax, field, title) for ax, (title, field) in zip(axes, panels, strict=True)]
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.suptitle(forecast_title(Path(obs.source).name, seq.reference, model))
    rain_colour_bar(fig, images[-1], axes, f"rain rate ({seq.units})")
    coverage_legend(fig, seq.units)
    return fig
