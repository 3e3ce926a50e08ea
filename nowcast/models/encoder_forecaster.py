"""The encoder-forecaster network of Shi et al. (2015), section 3.3.

Shapes use the layout ``BTCHW``. Frames ``(B, T_in, C, H, W)`` are cut into
``p x p`` patches, ``(B, T_in, C*p*p, H/p, W/p)``; a stack of ConvLSTM layers
encodes the sequence; a second stack with the same layer sizes starts from
the encoder's final ``(h, c)`` of each layer and unrolls ``out_len`` steps; a
``1 x 1`` convolution over all forecaster hidden states gives each output
frame in patch space, which is put back together as ``(B, out_len, C, H, W)``.
See ``docs/model.md`` for the diagram and the parameter counts.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

from nowcast.config import ModelConfig
from nowcast.data.patches import patchify, unpatchify
from nowcast.errors import ConfigError
from nowcast.models import register_model
from nowcast.models.convlstm import ConvLSTMCell, State
from nowcast.motion import displacements, estimate_motion, from_lagrangian, to_lagrangian


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters of ``model`` (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def _check_config(cfg: ModelConfig) -> None:
    sizes = {len(cfg.hidden_channels), len(cfg.input_kernels), len(cfg.state_kernels)}
    if len(sizes) != 1 or not cfg.hidden_channels:
        raise ConfigError(
            "model.hidden_channels, model.input_kernels and model.state_kernels need the same, "
            f"non-zero length (got {len(cfg.hidden_channels)}, {len(cfg.input_kernels)}, "
            f"{len(cfg.state_kernels)})"
        )
    if cfg.residual and cfg.feed_prediction:
        raise ConfigError("model.residual and model.feed_prediction cannot be combined")


@register_model("encoder_forecaster")
class EncoderForecaster(nn.Module):
    """ConvLSTM encoder-forecaster; ``forward(x, out_len)`` predicts ``out_len`` frames.

    The forecaster's first layer takes no external input (as in the paper)
    unless ``cfg.feed_prediction``: then it reads its own previous prediction
    (the last input frame at the first step), which forces a step-by-step
    rollout. Without it each forecaster layer runs over the whole horizon at
    once, so its input convolution is batched over time like the encoder's.
    The output is linear in the hidden states: with the ``bce`` loss it is
    read as logits. With ``cfg.frame == "lagrangian"`` the network runs in
    the frame that moves with the rain (:meth:`forward`); with
    ``cfg.residual`` it adds its output to the last input frame.

    Args:
        cfg: The architecture; nothing else is read.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        _check_config(cfg)
        self.patch_size = cfg.patch_size
        self.in_channels = cfg.in_channels
        self.feed_prediction = cfg.feed_prediction
        self.lagrangian = cfg.frame == "lagrangian"
        patch_channels = cfg.in_channels * cfg.patch_size**2
        hidden = list(cfg.hidden_channels)
        below = [patch_channels, *hidden[:-1]]
        layers = list(zip(below, hidden, cfg.input_kernels, cfg.state_kernels, strict=True))
        self.encoder = nn.ModuleList(
            ConvLSTMCell(c, h, ki, ks, cfg.peepholes) for c, h, ki, ks in layers
        )
        first_input = patch_channels if cfg.feed_prediction else 0
        self.forecaster = nn.ModuleList(
            ConvLSTMCell(first_input if i == 0 else c, h, ki, ks, cfg.peepholes)
            for i, (c, h, ki, ks) in enumerate(layers)
        )
        self.output = nn.Conv2d(sum(hidden), patch_channels, kernel_size=1)
        self.residual = cfg.residual
        if cfg.residual:  # start as persistence: the change is zero until trained
            nn.init.zeros_(self.output.weight)
            assert self.output.bias is not None  # Conv2d's default bias=True
            nn.init.zeros_(self.output.bias)

    def forward(self, x: Tensor, out_len: int, velocity: Tensor | None = None) -> Tensor:
        """Predict ``out_len`` frames after the input frames.

        Args:
            x: ``(B, T_in, C, H, W)`` input frames; H and W multiples of the patch size.
            out_len: Frames to predict (any positive number, not only the trained one).
            velocity: ``(B, 2, H, W)`` motion of ``x`` in pixels per step, for
                the moving frame; fitted from ``x`` when ``None``. A forecast
                passes the fit it also uses for the sub-block detail, and tiles
                their crop of the whole grid's fit. Unused in the eulerian frame.

        Returns:
            ``(B, out_len, C, H, W)`` predicted frames.

        Raises:
            ValueError: on a wrong shape, a frame size that is not a multiple
                of the patch size, or ``out_len < 1``.
        """
        self._check_input(x, out_len)
        if not self.lagrangian:
            return self._run(x, out_len)
        if velocity is None:
            velocity = estimate_motion(x.mean(dim=2))  # (B, 2, H, W) pixels per step
        disp = displacements(velocity, max(out_len, x.shape[1] - 1))
        y = self._run(to_lagrangian(x, disp), out_len)
        return from_lagrangian(y, disp)

    def _run(self, x: Tensor, out_len: int) -> Tensor:
        """The network itself: frames ``(B, T_in, C, H, W)`` -> ``(B, out_len, C, H, W)``."""
        z = patchify(x, self.patch_size)  # (B, T_in, C*p*p, H/p, W/p)
        states = self.encode(z)
        y = self.forecast(states, out_len, z[:, -1])  # (B, out_len, C*p*p, H/p, W/p)
        y = unpatchify(y, self.patch_size)  # (B, out_len, C, H, W)
        return y + x[:, -1:] if self.residual else y

    def encode(self, z: Tensor) -> list[State]:
        """Run the encoder over patched frames ``(B, T_in, C*p*p, h, w)``.

        Returns:
            The final ``(h, c)`` of every layer, bottom to top.
        """
        states: list[State] = []
        seq: Tensor | None = z
        last = len(self.encoder) - 1
        for i, cell in enumerate(self.encoder):
            seq, state = cell(seq, keep_outputs=i < last)  # (B, T_in, hidden_i, h, w)
            states.append(state)
        return states

    def forecast(self, states: list[State], out_len: int, last_input: Tensor) -> Tensor:
        """Unroll the forecaster from the encoder states.

        Args:
            states: ``(h, c)`` of every layer, as returned by :meth:`encode`.
            out_len: Steps to predict.
            last_input: ``(B, C*p*p, h, w)`` last patched input frame (read only
                with ``feed_prediction``).

        Returns:
            ``(B, out_len, C*p*p, h, w)`` predictions in patch space.
        """
        if self.feed_prediction:
            return self._forecast_fed_back(states, out_len, last_input)
        hidden: list[Tensor] = []
        seq: Tensor | None = None
        for cell, state in zip(self.forecaster, states, strict=True):
            seq, _ = cell(seq, state, steps=out_len)  # (B, out_len, hidden_i, h, w)
            assert seq is not None
            hidden.append(seq)
        both = torch.cat(hidden, dim=2)  # (B, out_len, sum(hidden), h, w)
        b, t = both.shape[:2]
        frames = self.output(both.flatten(0, 1))  # (B*out_len, C*p*p, h, w)
        return frames.unflatten(0, (b, t))

    def _forecast_fed_back(self, states: list[State], out_len: int, last_input: Tensor) -> Tensor:
        """Step-by-step rollout where layer 1 reads the previous prediction."""
        states = list(states)
        previous = last_input  # (B, C*p*p, h, w)
        frames: list[Tensor] = []
        for _ in range(out_len):
            layer_input = previous
            hidden: list[Tensor] = []
            for i, cell in enumerate(self.forecaster):
                states[i] = cast(ConvLSTMCell, cell).step(layer_input, states[i])
                layer_input = states[i][0]
                hidden.append(layer_input)
            previous = self.output(torch.cat(hidden, dim=1))  # (B, C*p*p, h, w)
            frames.append(previous)
        return torch.stack(frames, dim=1)  # (B, out_len, C*p*p, h, w)

    def _check_input(self, x: Tensor, out_len: int) -> None:
        if x.ndim != 5 or x.shape[2] != self.in_channels:
            raise ValueError(
                f"expected frames (B, T, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        h, w = x.shape[-2:]
        p = self.patch_size
        if h % p or w % p:
            raise ValueError(
                f"frame size {h}x{w} is not a multiple of the patch size {p}; "
                "pad the frames first (nowcast.data.patches.pad_to_multiple)"
            )
        if out_len < 1:
            raise ValueError(f"out_len must be >= 1, got {out_len}")
