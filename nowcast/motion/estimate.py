"""Motion from a sequence of rain fields: a smooth velocity field fitted by gradient descent.

The velocity (pixels per step) lives on a coarse grid of control points, one
every ``cell`` pixels, and is interpolated bilinearly in between; that keeps it
smooth and the fit cheap. It is chosen to minimise the squared difference
between each frame advected one step and the next frame (relative to the
rain's own mean square, so any rain scale fits alike), plus a penalty on
differences between neighbouring control points (the field is also defined,
by that penalty, where there is no rain to track). The frames are blurred,
first strongly then lightly, so that motions of several pixels are found from
a start at rest. Everything is torch (batched, on the frames' device) and
needs no optical-flow package.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from nowcast.motion.advect import warp

#: Gaussian blur widths (pixels) of the successive fitting stages, coarse to fine.
BLURS = (4.0, 1.5)


def _blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of ``(N, 1, H, W)`` with zero padding."""
    radius = max(1, math.ceil(2.5 * sigma))
    taps = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    x = F.conv2d(x, kernel.view(1, 1, 1, -1), padding=(0, radius))
    return F.conv2d(x, kernel.view(1, 1, -1, 1), padding=(radius, 0))


def _roughness(control: Tensor) -> Tensor:
    """Mean squared difference between neighbouring control points."""
    dy = control[:, :, 1:] - control[:, :, :-1]
    dx = control[:, :, :, 1:] - control[:, :, :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()


def estimate_motion(
    frames: Tensor,
    *,
    cell: int = 4,
    iterations: int = 40,
    smoothness: float = 0.05,
    lr: float = 0.25,
    on_iteration: Callable[[int, int], Any] | None = None,
) -> Tensor:
    """Velocity field that advects each frame of ``frames`` onto the next.

    Args:
        frames: ``(B, T, H, W)``, ``T >= 2``, in a scale where 0 is dry (the
            model's rain scale). Non-finite values count as dry: one NaN or
            infinity would otherwise make the whole fit, and the warp of
            every later step, non-finite.
        cell: Pixels between control points of the velocity field.
        iterations: Adam steps per blur stage (:data:`BLURS`).
        smoothness: Weight of the roughness penalty against the fit.
        lr: Adam step size, pixels per step.
        on_iteration: Called as ``on_iteration(done, total)`` before the first
            Adam step (``done`` 0) and after each (progress: the fit is the slow
            part of a moving-frame forecast).

    Returns:
        ``(B, 2, H, W)`` float32 velocity in pixels per step (columns, rows),
        detached. With fewer than two frames, or no rain, it is zero.
    """
    b, t, h, w = frames.shape
    control_shape = (b, 2, math.ceil(h / cell) + 1, math.ceil(w / cell) + 1)
    control = torch.zeros(control_shape, device=frames.device)
    rows = _interpolation_weights(h, control_shape[2], frames.device)  # (H, rows of points)
    columns = _interpolation_weights(w, control_shape[3], frames.device).T  # (columns, W)
    frames = torch.nan_to_num(frames.detach().float(), nan=0.0, posinf=0.0, neginf=0.0)
    if t < 2 or not bool((frames > 0).any()):
        return _dense(control, rows, columns)
    x = frames.reshape(b * t, 1, h, w)
    if on_iteration:
        on_iteration(0, len(BLURS) * iterations)
    with torch.enable_grad(), torch.autocast(frames.device.type, enabled=False):
        control.requires_grad_(True)
        optimizer = _Adam(control, lr)
        for stage, sigma in enumerate(BLURS):
            seq = _blur(x, sigma).reshape(b, t, h, w)
            src, dst = seq[:, :-1], seq[:, 1:]  # frame pairs as channels: one grid per sample
            norm = _wet_power(src, dst)
            for step in range(1, iterations + 1):
                velocity = _dense(control, rows, columns)
                misfit = (warp(src, velocity, padding="border") - dst).pow(2).sum() / norm
                loss = misfit + smoothness * _roughness(control)
                (gradient,) = torch.autograd.grad(loss, control)
                optimizer.step(gradient)
                if on_iteration:
                    on_iteration(stage * iterations + step, len(BLURS) * iterations)
    return _dense(control.detach(), rows, columns)


class _Adam:
    """Adam on one tensor, the very arithmetic of ``torch.optim.Adam`` (defaults, CPU path).

    Why not ``torch.optim.Adam``: building the first torch optimizer in a process
    imports ``torch._dynamo``, 1.1-1.7 s on a 2-core CPU, which was a quarter of a
    moving-frame forecast of a 765 x 700 grid; the fit needs none of it.
    """

    def __init__(self, param: Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999)):
        self.param, self.lr, self.betas, self.eps = param, lr, betas, 1e-8
        self.steps = 0
        self.exp_avg = torch.zeros_like(param, memory_format=torch.preserve_format)
        self.exp_avg_sq = torch.zeros_like(param, memory_format=torch.preserve_format)

    @torch.no_grad()
    def step(self, gradient: Tensor) -> None:
        """One update of ``param`` from ``gradient`` (same shape), in place."""
        beta1, beta2 = self.betas
        self.steps += 1
        self.exp_avg.lerp_(gradient, 1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
        step_size = self.lr / (1 - beta1**self.steps)
        denominator = (self.exp_avg_sq.sqrt() / (1 - beta2**self.steps) ** 0.5).add_(self.eps)
        self.param.addcdiv_(self.exp_avg, denominator, value=-step_size)


def _wet_power(src: Tensor, dst: Tensor) -> Tensor:
    """Wet pixel count times the mean square of the wet values: the misfit's scale.

    Dividing the misfit by it makes the fit independent of the rain scale, so
    that one ``smoothness`` suits rain in mm/h and in the model's 0-1 log
    scale alike. Measured on three real radars (docs/lab/skill-notebook.md §7.7),
    the plain per-pixel misfit in the log scale let the roughness penalty win
    and gave smoother, less accurate motion.
    """
    wet = (src > 0.01) | (dst > 0.01)
    count = wet.sum().clamp(min=1)
    power = (src.pow(2) + dst.pow(2))[wet].sum() / (2 * count)
    return count * power.clamp(min=1e-6)


def _dense(control: Tensor, rows: Tensor, columns: Tensor) -> Tensor:
    """Control points ``(B, 2, gh, gw)`` -> a velocity ``(B, 2, H, W)`` at every pixel.

    Bilinear interpolation with corners aligned, as ``F.interpolate`` does it,
    written as two small matrix products (``rows`` ``(H, gh)``, ``columns``
    ``(gw, W)`` from :func:`_interpolation_weights`): forward and backward are
    then two matmuls each, where the interpolation's own backward took a
    fifth of the fit's time.
    """
    return rows @ (control @ columns)  # columns first: torch's order of the two blends


def _interpolation_weights(n: int, points: int, device: torch.device) -> Tensor:
    """``(n, points)`` weights of linear interpolation from ``points`` control points.

    Points lie every ``cell`` pixels (:func:`_cell`) from pixel 0, corners
    aligned over ``(points - 1) * cell`` pixels of which the first ``n`` are
    kept: the arithmetic of ``F.interpolate(..., mode="bilinear",
    align_corners=True)`` along one axis (float32 source positions).
    """
    size = (points - 1) * _cell(n, points)
    scale = (points - 1) / (size - 1) if size > 1 else 0.0
    source = torch.arange(n, dtype=torch.float32) * torch.tensor(scale, dtype=torch.float32)
    left = source.long().clamp(max=points - 1)
    right = (left + 1).clamp(max=points - 1)
    fraction = source - left.float()
    weights = torch.zeros(n, points)
    pixels = torch.arange(n)
    weights[pixels, left] = 1.0 - fraction
    weights[pixels, right] += fraction
    return weights.to(device)


def _cell(n: int, points: int) -> int:
    """Pixels between control points for ``points`` along ``n`` pixels (ceil division)."""
    return max(1, math.ceil(n / max(points - 1, 1)))
