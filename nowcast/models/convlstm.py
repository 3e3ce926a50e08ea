"""The convolutional LSTM layer of Shi et al. (2015), eq. 3.

Shapes use the layout ``BTCHW`` (batch, time, channels, height, width). One
layer keeps a state ``(h, c)`` of two ``(B, hidden, H, W)`` tensors. The four
gates come from ONE input-to-state convolution and ONE state-to-state
convolution with ``4 * hidden`` output channels (gate order ``i, f, o, g``).
Because the input part does not depend on the state, :meth:`ConvLSTMCell.forward`
computes it for the whole sequence in one batched convolution over
``(B*T, C, H, W)`` and only the state part runs step by step.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nowcast.errors import ConfigError

State = tuple[Tensor, Tensor]


def _same_padding(kernel: int) -> int:
    """Zero padding that keeps H and W (odd kernels only, so it is symmetric)."""
    if kernel < 1 or kernel % 2 == 0:
        raise ConfigError(f"ConvLSTM kernel sizes must be odd and positive, got {kernel}")
    return kernel // 2


class ConvLSTMCell(nn.Module):
    """One ConvLSTM layer: gates from conv(x) + conv(h), optional peepholes.

    Parameters: the input conv ``4*hidden x in_channels x k_in x k_in`` plus the
    layer's single bias of ``4*hidden``; the state conv
    ``4*hidden x hidden x k_s x k_s`` (without bias); and, with peepholes, three
    per-channel weights ``W_ci, W_cf, W_co`` of shape ``(hidden, 1, 1)``. A layer
    with ``in_channels == 0`` (the first forecaster layer, which has no input)
    has no input conv and carries the bias on the state conv instead.

    Args:
        in_channels: Channels of the input frames (0 = the layer takes no input).
        hidden: Channels of ``h`` and ``c``.
        input_kernel: Odd side of the input-to-state kernel.
        state_kernel: Odd side of the state-to-state kernel.
        peepholes: Add the cell-state terms ``W_c* o c`` to the i, f, o gates.
    """

    def __init__(
        self, in_channels: int, hidden: int, input_kernel: int, state_kernel: int, peepholes: bool
    ) -> None:
        super().__init__()
        if in_channels < 0 or hidden < 1:
            raise ConfigError(
                f"ConvLSTM needs in_channels >= 0 and hidden >= 1, got {in_channels} and {hidden}"
            )
        self.in_channels = in_channels
        self.hidden = hidden
        self.peepholes = peepholes
        self.input_conv: nn.Conv2d | None = None
        if in_channels > 0:
            self.input_conv = nn.Conv2d(
                in_channels, 4 * hidden, input_kernel, padding=_same_padding(input_kernel)
            )
        else:
            _same_padding(input_kernel)
        self.state_conv = nn.Conv2d(
            hidden,
            4 * hidden,
            state_kernel,
            padding=_same_padding(state_kernel),
            bias=in_channels == 0,
        )
        self.peep_i: nn.Parameter | None = None
        self.peep_f: nn.Parameter | None = None
        self.peep_o: nn.Parameter | None = None
        if peepholes:
            self.peep_i = nn.Parameter(torch.zeros(hidden, 1, 1))
            self.peep_f = nn.Parameter(torch.zeros(hidden, 1, 1))
            self.peep_o = nn.Parameter(torch.zeros(hidden, 1, 1))

    def input_gates(self, x: Tensor) -> Tensor:
        """Input-to-state part of the gates for a whole sequence, in one conv.

        Args:
            x: ``(B, T, C, H, W)`` input sequence.

        Returns:
            ``(B, T, 4*hidden, H, W)`` pre-activations (bias included).
        """
        if self.input_conv is None:
            raise ValueError("this ConvLSTM layer has no input (in_channels=0)")
        b, t = x.shape[:2]
        gx = self.input_conv(x.flatten(0, 1))  # (B*T, C, H, W) -> (B*T, 4h, H, W)
        return gx.unflatten(0, (b, t))  # (B, T, 4h, H, W)

    def forward(
        self,
        x: Tensor | None,
        state: State | None = None,
        steps: int | None = None,
        keep_outputs: bool = True,
    ) -> tuple[Tensor | None, State]:
        """Run the layer over a sequence.

        Args:
            x: ``(B, T, C, H, W)`` inputs, or ``None`` for a layer without input
                (then ``state`` and ``steps`` are required).
            state: Initial ``(h, c)``, each ``(B, hidden, H, W)``; ``None`` = zeros.
            steps: Number of steps when ``x`` is ``None``.
            keep_outputs: Return the hidden sequence; ``False`` saves its memory
                when only the final state is needed.

        Returns:
            ``(B, T, hidden, H, W)`` hidden states (or ``None``) and the final ``(h, c)``.
        """
        if x is None:
            if state is None or steps is None:
                raise ValueError("a ConvLSTM layer without input needs an initial state and steps")
            gx: Tensor | None = None
        else:
            gx = self.input_gates(x)
            steps = x.shape[1]
        h, c = (None, None) if state is None else state
        # unbind: one backward node for all steps (indexing gx[:, t] would zero-fill a
        # full-size gradient per step)
        inputs = [None] * steps if gx is None else gx.unbind(1)  # T x (B, 4h, H, W)
        outputs = []
        for gx_t in inputs:
            h, c = self._advance(gx_t, h, c)
            if keep_outputs:
                outputs.append(h)
        if h is None or c is None:
            raise ValueError("a ConvLSTM sequence needs at least one step")
        hidden = torch.stack(outputs, dim=1) if keep_outputs else None  # (B, T, hidden, H, W)
        return hidden, (h, c)

    def step(self, x: Tensor | None, state: State | None) -> State:
        """Advance one time step from a single frame.

        Args:
            x: ``(B, C, H, W)`` input, or ``None`` for a layer without input.
            state: ``(h, c)``, each ``(B, hidden, H, W)``; ``None`` = zeros.

        Returns:
            The new ``(h, c)``.
        """
        if (x is None) != (self.input_conv is None):
            raise ValueError(f"layer with in_channels={self.in_channels} got input {x is not None}")
        gx = None if x is None or self.input_conv is None else self.input_conv(x)
        h, c = (None, None) if state is None else state
        return self._advance(gx, h, c)

    def _advance(self, gx: Tensor | None, h: Tensor | None, c: Tensor | None) -> State:
        """One LSTM update from the input part ``gx`` (B, 4h, H, W) and the state."""
        if h is None:
            if gx is None:
                raise ValueError("a ConvLSTM layer without input needs an initial state")
            gates = gx  # zero h: the state conv contributes nothing (it has no bias here)
        else:
            gates = self.state_conv(h)
            if gx is not None:
                gates += gx  # in place on a fresh conv output: safe for autograd
        gi, gf, go, gg = gates.chunk(4, dim=1)
        if c is None:  # zero c: the forget gate and the i/f peepholes drop out
            c_new = torch.sigmoid(gi) * torch.tanh(gg)
        else:
            if self.peep_i is not None and self.peep_f is not None:
                gi = torch.addcmul(gi, self.peep_i, c)
                gf = torch.addcmul(gf, self.peep_f, c)
            c_new = torch.addcmul(torch.sigmoid(gf) * c, torch.sigmoid(gi), torch.tanh(gg))
        if self.peep_o is not None:
            go = torch.addcmul(go, self.peep_o, c_new)
        h_new = torch.sigmoid(go) * torch.tanh(c_new)
        return h_new, c_new
