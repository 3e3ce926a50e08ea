"""The working grid: block means in, bilinear interpolation back, factors from kilometres."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.errors import InputError
from nowcast.forecasting.model_choice import load_model
from nowcast.forecasting.run import model_forecast
from nowcast.forecasting.scale import block_factor, block_mean, interpolate_back, working_factor
from nowcast.io.grid import Grid
from tests.helpers import laea_grid

PIXELS = Grid(x=np.arange(8.0), y=np.arange(6.0))


@pytest.mark.parametrize(
    ("cell_m", "scale_km", "factor"),
    [(1000.0, 4.0, 4), (500.0, 4.0, 8), (2000.0, 4.0, 2), (1000.0, 0.0, 1), (1000.0, 0.3, 1)],
)
def test_block_factor_is_the_scale_over_the_grid_spacing(
    cell_m: float, scale_km: float, factor: int
) -> None:
    assert block_factor(laea_grid(cell=cell_m), scale_km) == factor


def test_blocks_larger_than_the_grid_are_an_error() -> None:
    assert block_factor(laea_grid(16, 20), 16.0) == 16
    with pytest.raises(InputError, match=r"17 km is coarser than the whole grid \(16 x 20 pixels"):
        block_factor(laea_grid(16, 20), 17.0)


def test_kilometres_on_a_pixel_grid_are_an_error_unless_they_are_the_models_default() -> None:
    with pytest.raises(InputError, match="4 km needs a projected grid in metres"):
        block_factor(PIXELS, 4.0)
    assert working_factor(PIXELS, None, 4.0) == 1  # the model's recommendation: ignored
    with pytest.raises(InputError, match="pixel grid"):
        working_factor(PIXELS, 4.0, 0.0)  # the user's request: refused
    assert working_factor(laea_grid(), None, 3.0) == 3
    assert working_factor(laea_grid(), 0.0, 3.0) == 1


def test_block_mean_ignores_nan_and_pads_the_far_edges() -> None:
    frames = np.array(
        [
            [1.0, 3.0, 5.0, 7.0, 9.0],
            [np.nan, 2.0, np.nan, np.nan, 1.0],
            [4.0, 4.0, 6.0, 6.0, np.nan],
        ],
        dtype=np.float32,
    )[None]
    blocks = block_mean(frames, 2)
    assert blocks.shape == (1, 2, 3) and blocks.dtype == np.float32
    np.testing.assert_allclose(
        blocks[0], [[2.0, 6.0, 5.0], [4.0, 6.0, np.nan]]
    )  # (1+3+2)/3, (5+7)/2, (9+1)/2; (4+4)/2, (6+6)/2, nothing covered


def test_interpolation_back_reproduces_a_linear_ramp_inside_the_grid() -> None:
    ny, nx, factor = 12, 16, 4
    ramp = (np.arange(nx, dtype=np.float32)[None, :] * 0.5 + np.arange(ny)[:, None])[None]
    back = interpolate_back(block_mean(ramp, factor), factor, (ny, nx))
    assert back.shape == (1, ny, nx)
    inner = (slice(None), slice(factor, -factor), slice(factor, -factor))
    np.testing.assert_allclose(back[inner], ramp[inner], rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    value=st.floats(0.0, 200.0, width=32),
    factor=st.integers(1, 5),
    ny=st.integers(1, 17),
    nx=st.integers(1, 17),
)
def test_a_constant_field_survives_the_round_trip(
    value: float, factor: int, ny: int, nx: int
) -> None:
    frames = np.full((2, ny, nx), value, dtype=np.float32)
    back = interpolate_back(block_mean(frames, factor), factor, (ny, nx))
    assert back.shape == (2, ny, nx)
    np.testing.assert_allclose(back, value, rtol=1e-6, atol=1e-6)


def test_model_forecast_runs_the_network_on_block_means(ckpt_dir: Path) -> None:
    """Persistence on blocks = the last frame's block means, interpolated back, NaN kept."""
    loaded = load_model(ckpt_dir / "persistence.pt", torch.device("cpu"))
    rng = np.random.default_rng(0)
    raw = rng.gamma(0.8, 3.0, size=(loaded.in_len, 10, 13)).astype(np.float32)
    raw[:, :3, :2] = np.nan
    fields = model_forecast(loaded, raw, 3, device=torch.device("cpu"), factor=2, sharp=False)
    blocks = block_mean(raw[-1:], 2)
    blocks = np.where(blocks < 0.1, 0.0, blocks)  # log_rain: below 0.1 mm/h is dry
    expected = interpolate_back(blocks, 2, (10, 13))[0]
    expected[np.isnan(raw[-1])] = np.nan
    for lead in fields:
        np.testing.assert_allclose(lead, expected, rtol=1e-4, atol=1e-5)


def test_forecast_records_the_working_grid(obs_file: Path, ckpt_dir: Path) -> None:
    runner = CliRunner()
    model = ckpt_dir / "rain.pt"
    for scale, pixels in (("2", 2), ("0", 1)):
        out = obs_file.parent / f"fc{scale}.nc"
        args = ["forecast", str(obs_file), "-n", "2", "-m", str(model), "-o", str(out)]
        result = runner.invoke(app, [*args, "--scale-km", scale])
        assert result.exit_code == 0, result.output
        with netCDF4.Dataset(out) as nc:
            assert int(nc.getncattr("nowcast_block_pixels")) == pixels
        assert ("2 x 2-pixel blocks" in result.stdout) == (pixels == 2)


def test_an_exported_model_carries_its_working_grid(tmp_path: Path, ckpt_dir: Path) -> None:
    from nowcast.training.checkpoint import export_for_inference

    with_scale = export_for_inference(ckpt_dir / "rain.pt", tmp_path / "a.pt", "note", 4.0)
    without = export_for_inference(ckpt_dir / "rain.pt", tmp_path / "b.pt", "note")
    cpu = torch.device("cpu")
    assert load_model(with_scale, cpu).scale_km == 4.0
    assert load_model(without, cpu).scale_km == 0.0
    assert load_model(ckpt_dir / "rain.pt", cpu).scale_km == 0.0  # a training checkpoint


def test_a_working_grid_coarser_than_the_data_fails_with_one_line_and_no_file(
    obs_file: Path, ckpt_dir: Path
) -> None:
    out = obs_file.parent / "fc.nc"
    args = ["forecast", str(obs_file), "-m", str(ckpt_dir / "rain.pt"), "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--scale-km", "100"])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]  # progress, then error
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == lines[-1:] and "100 km is coarser than the whole grid" in errors[0], lines
    assert not out.exists()
