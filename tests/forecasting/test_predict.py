"""Tiled inference over grids of any size, and the physical-units wrapper around it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from nowcast.forecasting.model_choice import load_model
from nowcast.forecasting.predict import plan_tiles, predict
from nowcast.forecasting.run import model_forecast
from nowcast.models import build_model
from nowcast.motion import estimate_motion
from tests.helpers import tiny_config

CPU = torch.device("cpu")


def _smooth_frames(ny: int, nx: int, n: int = 4) -> np.ndarray:
    """Slowly moving waves in [0.1, 0.9]: any seam would stand out against them."""
    yy, xx = np.mgrid[0:ny, 0:nx]
    frames = [0.5 + 0.4 * np.sin(xx / 9.0 + 0.3 * k) * np.cos(yy / 11.0) for k in range(n)]
    return np.stack(frames).astype(np.float32)


def _model(name: str = "encoder_forecaster") -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(tiny_config(model=name).model).eval()


def _excess_step(tiled: np.ndarray, whole: np.ndarray, axis: int) -> float:
    """Largest change in neighbour-to-neighbour difference that tiling introduced."""
    return float(
        np.abs(np.abs(np.diff(tiled, axis=axis)) - np.abs(np.diff(whole, axis=axis))).max()
    )


@pytest.mark.parametrize(
    ("shape", "size", "overlap"),
    [((97, 131), 32, 8), ((96, 128), 64, 16), ((200, 65), 64, 63), ((130, 130), 64, 0)],
)
def test_tiles_cover_the_grid_with_at_least_the_overlap(
    shape: tuple[int, int], size: int, overlap: int
) -> None:
    plan = plan_tiles(shape, size, overlap)
    covered = np.zeros(shape, dtype=int)
    for starts, length in ((plan.rows, shape[0]), (plan.cols, shape[1])):
        assert starts[0] == 0 and starts[-1] + size == length
        steps = np.diff(starts)
        assert np.all(steps > 0) and np.all(size - steps >= overlap)
    for r in plan.rows:
        for c in plan.cols:
            covered[r : r + size, c : c + size] += 1
    assert covered.min() >= 1
    assert plan.count == len(plan.rows) * len(plan.cols)


def test_small_grids_are_one_tile_and_bad_overlap_is_refused() -> None:
    assert plan_tiles((20, 64), 64, 16).count == 1
    assert plan_tiles((97, 131), 32, 8).rows == (0, 24, 48, 65)
    with pytest.raises(ValueError, match="overlap 32 must be smaller than the tile size 32"):
        plan_tiles((97, 131), 32, 32)


@pytest.mark.parametrize(("tile", "overlap"), [(32, 8), (40, 12), (64, 0)])
def test_tiled_persistence_equals_untiled(tile: int, overlap: int) -> None:
    frames = np.random.default_rng(0).random((4, 97, 131), dtype=np.float32)
    model = _model("persistence")
    calls: list[tuple[int, int]] = []
    whole = predict(model, frames, 5, patch=4, device=CPU)
    tiled = predict(
        model,
        frames,
        5,
        patch=4,
        device=CPU,
        tile=tile,
        overlap=overlap,
        on_tile=lambda done, total: calls.append((done, total)),
    )
    np.testing.assert_array_equal(whole, np.repeat(frames[-1:], 5, axis=0))
    # Blending identical tiles is a weighted mean of equal values: exact up to float rounding.
    np.testing.assert_array_max_ulp(tiled, whole, maxulp=4)
    count = plan_tiles((97, 131), tile, overlap).count
    assert calls == [(k, count) for k in range(count + 1)] and count > 1


def test_tiled_convlstm_matches_untiled_inside_tiles_without_seams() -> None:
    frames = _smooth_frames(96, 128)
    model = _model()
    whole = predict(model, frames, 4, patch=4, device=CPU)
    tiled = predict(model, frames, 4, patch=4, device=CPU, tile=64, overlap=16)
    value_range = float(whole.max() - whole.min())
    diff = np.abs(tiled - whole)
    # Far from any cut the first tile sees all it needs: same numbers.
    np.testing.assert_allclose(tiled[:, :32, :32], whole[:, :32, :32], atol=1e-6)
    assert diff.max() < 0.05 * value_range and diff.mean() < 0.002 * value_range
    bound = 0.05 * value_range
    assert max(_excess_step(tiled, whole, 1), _excess_step(tiled, whole, 2)) < bound
    # The bound is tight enough to catch real seams: tiles pasted without blending break it.
    pasted = predict(model, frames, 4, patch=4, device=CPU, tile=64, overlap=0)
    assert max(_excess_step(pasted, whole, 1), _excess_step(pasted, whole, 2)) > bound


def test_tiled_moving_frame_forecast_has_no_seams() -> None:
    frames = _smooth_frames(96, 128)
    torch.manual_seed(0)
    cfg = tiny_config().model
    model = build_model(dataclasses.replace(cfg, frame="lagrangian", residual=True)).eval()
    whole = predict(model, frames, 4, patch=4, device=CPU)
    tiled = predict(model, frames, 4, patch=4, device=CPU, tile=64, overlap=16)
    assert tiled.shape == whole.shape == (4, 96, 128) and np.isfinite(tiled).all()
    # Each tile fits its own motion and brings no rain in across its own edges (an untrained
    # residual model is extrapolation), so tiles differ from the whole grid; blending over the
    # overlap halves the steps that pasting the tiles leaves at the cuts (docs/forecast.md).
    value_range = float(np.ptp(whole))
    assert np.abs(tiled - whole).mean() < 0.05 * value_range
    pasted = predict(model, frames, 4, patch=4, device=CPU, tile=64, overlap=0)
    for axis in (1, 2):
        assert _excess_step(tiled, whole, axis) < 0.6 * _excess_step(pasted, whole, axis)


def test_tiles_given_the_whole_grids_motion_stay_closer_to_the_whole_grid() -> None:
    frames = _smooth_frames(96, 128)
    torch.manual_seed(0)
    cfg = tiny_config().model
    model = build_model(dataclasses.replace(cfg, frame="lagrangian", residual=True)).eval()
    velocity = estimate_motion(torch.from_numpy(frames[None]))[0]  # what a forecast passes
    whole = predict(model, frames, 4, patch=4, device=CPU, velocity=velocity)
    np.testing.assert_array_equal(whole, predict(model, frames, 4, patch=4, device=CPU))
    own = predict(model, frames, 4, patch=4, device=CPU, tile=64, overlap=16)
    shared = predict(model, frames, 4, patch=4, device=CPU, tile=64, overlap=16, velocity=velocity)
    # Each tile still brings no rain in across its edges, but no longer moves its rain
    # by a motion fitted on its own part of the grid.
    assert np.abs(shared - whole).mean() < 0.7 * np.abs(own - whole).mean()
    assert _excess_step(shared, whole, 1) < 0.5 * _excess_step(own, whole, 1)


def test_odd_grid_keeps_its_shape() -> None:
    frames = _smooth_frames(97, 131)
    out = predict(_model(), frames, 3, patch=4, device=CPU)
    assert out.shape == (3, 97, 131) and out.dtype == np.float32
    assert np.isfinite(out).all()
    # Frames are padded bottom/right (edge values repeated) and cropped back, not shifted.
    padded = np.pad(frames, ((0, 0), (0, 3), (0, 1)), mode="edge")
    padded_out = predict(_model(), padded, 3, patch=4, device=CPU)
    np.testing.assert_allclose(out, padded_out[:, :97, :131], atol=1e-6)


def test_more_steps_than_trained_extend_the_same_forecast() -> None:
    frames = _smooth_frames(24, 28)
    model = _model()
    four = predict(model, frames, 4, patch=4, device=CPU)
    nine = predict(model, frames, 9, patch=4, device=CPU)
    assert nine.shape == (9, 24, 28) and np.isfinite(nine).all()
    np.testing.assert_allclose(nine[:4], four, atol=1e-6)
    assert not np.allclose(nine[8], nine[3])


def test_model_forecast_is_physical_and_keeps_the_coverage(ckpt_dir: Path) -> None:
    loaded = load_model(ckpt_dir / "rain.pt", CPU)
    assert (loaded.in_len, loaded.out_len, loaded.patch_size) == (4, 4, 4)
    rng = np.random.default_rng(5)
    raw = rng.gamma(0.5, 4.0, size=(4, 97, 131)).astype(np.float32)
    raw[:, :10, :] = np.nan  # no coverage in the first rows of every frame
    raw[-1, 50:60, 70:80] = np.nan  # and a hole in the last frame only
    fields = model_forecast(loaded, raw, 9, device=CPU, tile=64)
    assert fields.shape == (9, 97, 131) and fields.dtype == np.float32
    np.testing.assert_array_equal(
        np.isnan(fields), np.broadcast_to(np.isnan(raw[-1]), fields.shape)
    )
    assert np.nanmin(fields) >= 0.0


def test_persistence_checkpoint_returns_the_last_frame_in_mm_h(ckpt_dir: Path) -> None:
    loaded = load_model(ckpt_dir / "persistence.pt", CPU)
    raw = np.random.default_rng(6).gamma(0.5, 4.0, size=(4, 24, 28)).astype(np.float32)
    raw[-1, 0, :5] = np.nan
    network = model_forecast(loaded, raw, 3, device=CPU, sharp=False)
    # log_rain maps rain below its 0.1 mm/h threshold to dry ...
    expected = np.where(raw[-1] < 0.1, 0.0, raw[-1])
    for lead in network:
        np.testing.assert_allclose(lead, expected, rtol=1e-5, atol=0)
    # ... and probability matching to the last frame gives those values back, in place
    for lead in model_forecast(loaded, raw, 3, device=CPU):
        np.testing.assert_array_equal(lead, raw[-1])
