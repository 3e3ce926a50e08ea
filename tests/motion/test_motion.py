"""nowcast.motion: the velocity found, the displacements along it, the moving frame."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from nowcast.config import ModelConfig
from nowcast.errors import ConfigError
from nowcast.models import build_model
from nowcast.motion import displacements, estimate_motion, from_lagrangian, to_lagrangian, warp
from nowcast.motion.estimate import _Adam, _cell, _dense, _interpolation_weights

H = W = 64
U, V = 2.5, -1.5  # pixels per step along columns and rows


def blobs(steps: int, u: float = U, v: float = V) -> torch.Tensor:
    """``(1, steps, H, W)`` two Gaussian rain cells moving by (u, v) per step."""
    rows, cols = torch.meshgrid(
        torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij"
    )
    frames = []
    for k in range(steps):
        cx, cy = 24 + u * k, 36 + v * k
        cell = torch.exp(-((cols - cx) ** 2 + (rows - cy) ** 2) / 40.0)
        cell = cell + 0.6 * torch.exp(-((cols - cx - 12) ** 2 + (rows - cy + 8) ** 2) / 20.0)
        frames.append(cell)
    return torch.stack(frames)[None]


def test_estimate_motion_recovers_a_translation() -> None:
    frames = blobs(5)
    velocity = estimate_motion(frames)
    assert velocity.shape == (1, 2, H, W)
    wet = frames[0, -1] > 0.1
    assert velocity[0, 0][wet].mean().item() == pytest.approx(U, abs=0.2)
    assert velocity[0, 1][wet].mean().item() == pytest.approx(V, abs=0.2)


def test_estimate_motion_is_zero_without_rain_or_without_a_pair() -> None:
    assert not estimate_motion(torch.zeros(2, 4, 16, 16)).any()
    assert not estimate_motion(blobs(1)).any()


def test_estimate_motion_runs_in_no_grad_and_returns_no_graph() -> None:
    with torch.no_grad():
        velocity = estimate_motion(blobs(3))
    assert not velocity.requires_grad
    assert velocity.abs().max() > 1.0


def test_warp_shifts_by_whole_pixels_and_fills_dry_from_outside() -> None:
    field = torch.arange(H * W, dtype=torch.float32).view(1, 1, H, W)
    shift = torch.zeros(1, 2, H, W)
    shift[:, 0] = 3.0  # everything moves 3 columns to the right
    moved = warp(field, shift)
    assert torch.allclose(moved[..., 3:], field[..., :-3], atol=1e-2)  # float32 grid maths
    assert moved[..., :3].abs().max() < 1e-3
    assert torch.allclose(warp(field, torch.zeros(1, 2, H, W)), field, atol=1e-2)


def test_displacements_of_a_uniform_velocity_grow_linearly() -> None:
    velocity = torch.zeros(2, 2, 8, 8)
    velocity[:, 0], velocity[:, 1] = 1.5, -0.5
    disp = displacements(velocity, 4)
    assert disp.shape == (4, 2, 2, 8, 8)
    for n in range(4):
        assert torch.allclose(disp[n, :, 0], torch.full((2, 8, 8), 1.5 * (n + 1)))
        assert torch.allclose(disp[n, :, 1], torch.full((2, 8, 8), -0.5 * (n + 1)))
    assert displacements(velocity, 0).shape == (0, 2, 2, 8, 8)


def test_moving_frame_aligns_inputs_and_extrapolates_the_future() -> None:
    seq = blobs(9, u=2.0, v=-1.0)[:, :, None]  # (1, 9, 1, H, W), whole-pixel motion
    inputs, future = seq[:, :5], seq[:, 5:]
    velocity = torch.zeros(1, 2, H, W)
    velocity[:, 0], velocity[:, 1] = 2.0, -1.0
    disp = displacements(velocity, 4)
    aligned = to_lagrangian(inputs, disp)
    last = inputs[:, -1]
    for k in range(5):
        assert torch.allclose(aligned[:, k], last, atol=1e-5)
    forecast = from_lagrangian(last[:, None].expand(-1, 4, -1, -1, -1), disp)
    assert torch.allclose(forecast, future, atol=1e-5)


@pytest.mark.parametrize("frame", ["eulerian", "lagrangian"])
def test_untrained_residual_model_forecasts_persistence_in_its_frame(frame: str) -> None:
    model = build_model(
        ModelConfig(
            hidden_channels=(4,), input_kernels=(3,), state_kernels=(3,), frame=frame, residual=True
        )
    )
    x = blobs(5)[:, :, None]
    with torch.no_grad():
        y = model(x, 3)
    last = x[:, -1:].expand(-1, 3, -1, -1, -1)
    if frame == "eulerian":
        assert torch.equal(y, last)
    else:
        disp = displacements(estimate_motion(x[:, :, 0]), 4)
        assert torch.allclose(y, from_lagrangian(last, disp), atol=1e-6)
        assert not torch.allclose(y, last, atol=1e-2)  # the rain moved


def test_a_given_velocity_replaces_the_fit_in_the_moving_frame() -> None:
    model = build_model(
        ModelConfig(
            hidden_channels=(4,), input_kernels=(3,), state_kernels=(3,), frame="lagrangian",
            residual=True,
        )
    )  # fmt: skip
    seq = blobs(8, u=2.0, v=-1.0)[:, :, None]  # whole-pixel motion
    velocity = torch.zeros(1, 2, H, W)
    velocity[:, 0], velocity[:, 1] = 2.0, -1.0
    with torch.no_grad():
        given = model(seq[:, :5], 3, velocity=velocity)
        still = model(seq[:, :5], 3, velocity=torch.zeros(1, 2, H, W))
    assert torch.allclose(given, seq[:, 5:], atol=1e-5)  # untrained: extrapolation along it
    persistence = seq[:, 4:5].expand(-1, 3, -1, -1, -1)
    assert torch.allclose(still, persistence, atol=1e-6)  # no motion: persistence


def test_model_frame_and_residual_are_checked() -> None:
    with pytest.raises(ConfigError, match="model.frame must be one of eulerian, lagrangian"):
        build_model(ModelConfig(frame="moving"))
    with pytest.raises(ConfigError, match="cannot be combined"):
        build_model(ModelConfig(residual=True, feed_prediction=True))


def test_the_fit_s_adam_is_torch_s_adam_bit_for_bit() -> None:
    # The motion fit carries its own Adam (torch.optim's first use imports torch._dynamo,
    # seconds per forecast); it must give torch's values exactly.
    generator = torch.Generator().manual_seed(0)
    reference = torch.randn(2, 2, 7, 9, generator=generator).requires_grad_(True)
    own = reference.detach().clone()
    optimizer, mine = torch.optim.Adam([reference], lr=0.05), _Adam(own, 0.05)
    for i in range(200):
        gradient = torch.randn(own.shape, generator=generator) * (i % 7 + 0.1)
        reference.grad = gradient.clone()
        optimizer.step()
        mine.step(gradient)
    assert torch.equal(reference.detach(), own)


def test_a_forecast_process_does_not_import_dynamo() -> None:
    code = (
        "import sys, torch\n"
        "from nowcast.motion import estimate_motion\n"
        "frames = torch.zeros(1, 3, 16, 16); frames[:, :, 4:8, 4:8] = 1.0\n"
        "estimate_motion(frames, iterations=2)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(("h", "w", "cell"), [(255, 234, 4), (7, 9, 4), (16, 16, 4), (1, 5, 3)])
def test_dense_velocity_is_the_bilinear_interpolation_of_the_control_points(
    h: int, w: int, cell: int
) -> None:
    points = (math.ceil(h / cell) + 1, math.ceil(w / cell) + 1)
    control = torch.randn(2, 2, *points, generator=torch.Generator().manual_seed(h))
    rows = _interpolation_weights(h, points[0], torch.device("cpu"))
    columns = _interpolation_weights(w, points[1], torch.device("cpu")).T

    dense = _dense(control, rows, columns)

    size = ((points[0] - 1) * _cell(h, points[0]), (points[1] - 1) * _cell(w, points[1]))
    reference = F.interpolate(control, size=size, mode="bilinear", align_corners=True)
    assert dense.shape == (2, 2, h, w)
    torch.testing.assert_close(dense, reference[..., :h, :w], rtol=0, atol=1e-6)
