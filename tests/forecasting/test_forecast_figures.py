"""``forecast --plot`` and ``--animate``: titled maps in km with a graticule, and a GIF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.data.observations import load_observations
from nowcast.forecasting.model_choice import sha256_of
from nowcast.forecasting.plot import ForecastSequence, forecast_figure, forecast_title

runner = CliRunner()
IN_LEN = 4  # the test checkpoints' input length (tests/helpers.py tiny_config)


def _forecast(obs_file: Path, ckpt: Path, *flags: str) -> Path:
    output = obs_file.parent / "fc.nc"
    args = ["forecast", str(obs_file), "-m", str(ckpt), "-n", "3", "-o", str(output), *flags]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return output


def test_title_names_data_reference_time_and_model() -> None:
    title = forecast_title("knmi.nc", np.datetime64("2010-08-26T04:15:00"), "default (sha256 12ab)")
    assert (
        title
        == "Rain-rate nowcast of knmi.nc from 2010-08-26 04:15 UTC\nmodel default (sha256 12ab)"
    )


def test_png_panels_are_titled_maps_in_km_with_a_graticule(obs_file: Path, ckpt_dir: Path) -> None:
    output = _forecast(obs_file, ckpt_dir / "rain.pt", "--plot")
    obs = load_observations([str(obs_file)])
    seq = ForecastSequence.read(output, obs)
    fig = forecast_figure(seq, obs, "rain (sha256 0123)")
    assert fig.get_suptitle() == forecast_title("obs.nc", seq.reference, "rain (sha256 0123)")
    maps = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in maps] == [
        "observed 0 min\nvalid 2024-06-01 12:55 UTC",
        "forecast +5 min\nvalid 2024-06-01 13:00 UTC",
        "forecast +10 min\nvalid 2024-06-01 13:05 UTC",
        "forecast +15 min\nvalid 2024-06-01 13:10 UTC",
    ]
    assert maps[0].get_xlabel() == "x (km from the west edge)"
    assert maps[0].get_ylabel() == "y (km from the south edge)"
    assert maps[0].get_xlim() == (0.0, 28.0) and maps[0].get_ylim() == (0.0, 24.0)
    graticule = [t.get_text() for t in maps[0].texts]
    assert any(t.endswith("°N") for t in graticule) and any(t.endswith("°E") for t in graticule)
    assert output.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gif_shows_the_inputs_then_every_lead(obs_file: Path, ckpt_dir: Path) -> None:
    output = _forecast(obs_file, ckpt_dir / "rain.pt", "--animate")
    with Image.open(output.with_suffix(".gif")) as gif:
        assert gif.n_frames == IN_LEN + 3
    assert not output.with_suffix(".png").exists()
    seq = ForecastSequence.read(output, load_observations([str(obs_file)]), IN_LEN)
    titles = [seq.title(t, True) for t in seq.observed_times]
    titles += [seq.title(t, False) for t in seq.valid_times]
    assert titles[0] == "observed -15 min\nvalid 2024-06-01 12:40 UTC"
    assert titles[IN_LEN] == "forecast +5 min\nvalid 2024-06-01 13:00 UTC"
    assert len(set(titles)) == IN_LEN + 3


def test_summary_names_the_model_by_path_and_sha256(obs_file: Path, ckpt_dir: Path) -> None:
    ckpt = ckpt_dir / "rain.pt"
    output = obs_file.parent / "fc.nc"
    result = runner.invoke(app, ["forecast", str(obs_file), "-m", str(ckpt), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert f"model {ckpt.resolve()} sha256 {sha256_of(ckpt)}" in result.stdout.splitlines()
