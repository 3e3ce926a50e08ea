"""ConvLSTM layer: parameter layout, equations, batched vs step-by-step."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nowcast.errors import ConfigError
from nowcast.models.convlstm import ConvLSTMCell


def _n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("c", "h", "k", "peep", "expected"),
    [
        # 4h(c+h)k^2 + 4h (one bias) + 3h (peepholes)
        (16, 8, 3, True, 4 * 8 * (16 + 8) * 9 + 4 * 8 + 3 * 8),
        (16, 8, 3, False, 4 * 8 * (16 + 8) * 9 + 4 * 8),
        # no input: 4h*h*k^2 + 4h + 3h
        (0, 8, 5, True, 4 * 8 * 8 * 25 + 4 * 8 + 3 * 8),
    ],
)
def test_parameter_count(c: int, h: int, k: int, peep: bool, expected: int) -> None:
    assert _n_params(ConvLSTMCell(c, h, k, k, peep)) == expected


def test_single_bias_sits_on_input_conv_or_on_state_conv_without_input() -> None:
    with_input = ConvLSTMCell(3, 4, 3, 3, True)
    assert with_input.input_conv is not None and with_input.input_conv.bias is not None
    assert with_input.state_conv.bias is None
    without = ConvLSTMCell(0, 4, 3, 3, True)
    assert without.input_conv is None and without.state_conv.bias is not None


@pytest.mark.parametrize("kernel", [2, 0])
def test_even_or_empty_kernel_is_a_config_error(kernel: int) -> None:
    with pytest.raises(ConfigError, match="odd"):
        ConvLSTMCell(1, 4, kernel, 3, True)


def _randomise(cell: ConvLSTMCell) -> None:
    torch.manual_seed(3)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn_like(p) * 0.3)


def _reference(cell: ConvLSTMCell, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shi et al. (2015) eq. 3 written gate by gate, from the cell's weights."""
    b, t, _, hh, ww = x.shape
    n = cell.hidden
    assert cell.input_conv is not None
    wx = cell.input_conv.weight.split(n)  # gate order i, f, o, g
    bx = cell.input_conv.bias.split(n)  # type: ignore[union-attr]
    wh = cell.state_conv.weight.split(n)
    kx = cell.input_conv.kernel_size[0] // 2
    kh = cell.state_conv.kernel_size[0] // 2
    h = torch.zeros(b, n, hh, ww)
    c = torch.zeros(b, n, hh, ww)
    hs = []
    for step in range(t):
        xt = x[:, step]

        def gate(j: int, xt: torch.Tensor = xt, h: torch.Tensor = h) -> torch.Tensor:
            return F.conv2d(xt, wx[j], bx[j], padding=kx) + F.conv2d(h, wh[j], padding=kh)

        i = torch.sigmoid(gate(0) + cell.peep_i * c)
        f = torch.sigmoid(gate(1) + cell.peep_f * c)
        c = f * c + i * torch.tanh(gate(3))
        o = torch.sigmoid(gate(2) + cell.peep_o * c)
        h = o * torch.tanh(c)
        hs.append(h)
    return torch.stack(hs, 1), c


def test_batched_sequence_matches_equations_and_single_steps() -> None:
    cell = ConvLSTMCell(3, 4, 3, 5, peepholes=True)
    _randomise(cell)
    x = torch.randn(2, 5, 3, 6, 7)
    with torch.no_grad():
        seq, (h, c) = cell(x)
        ref_seq, ref_c = _reference(cell, x)
        state = None
        stepped = []
        for t in range(x.shape[1]):
            state = cell.step(x[:, t], state)
            stepped.append(state[0])
    assert seq is not None and seq.shape == (2, 5, 4, 6, 7)
    torch.testing.assert_close(seq, ref_seq, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(c, ref_c, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(seq, torch.stack(stepped, 1), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(h, seq[:, -1])


def test_layer_without_input_runs_from_a_state() -> None:
    cell = ConvLSTMCell(0, 4, 3, 3, peepholes=False)
    state = (torch.randn(1, 4, 5, 5), torch.randn(1, 4, 5, 5))
    seq, _ = cell(None, state, steps=3)
    assert seq is not None and seq.shape == (1, 3, 4, 5, 5)
    with pytest.raises(ValueError, match="initial state"):
        cell(None, None, steps=3)


def test_keep_outputs_false_returns_only_the_state() -> None:
    cell = ConvLSTMCell(2, 3, 3, 3, True)
    seq, (h, _) = cell(torch.randn(1, 2, 2, 4, 4), keep_outputs=False)
    assert seq is None and h.shape == (1, 3, 4, 4)
