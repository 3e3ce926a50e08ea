"""Encoder-forecaster: paper sizes, shapes, gradients, state hand-over, overfitting."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from nowcast.config import ModelConfig
from nowcast.data.patches import patchify
from nowcast.errors import ConfigError
from nowcast.models import build_model
from nowcast.models.convlstm import ConvLSTMCell
from nowcast.models.encoder_forecaster import EncoderForecaster, count_parameters

TINY = ModelConfig(hidden_channels=(6, 4), input_kernels=(3, 3), state_kernels=(3, 1), patch_size=4)


def _paper(hidden: tuple[int, ...]) -> ModelConfig:
    n = len(hidden)
    return ModelConfig(
        hidden_channels=hidden,
        input_kernels=(5,) * n,
        state_kernels=(5,) * n,
        peepholes=True,
        patch_size=4,
        in_channels=1,
    )


@pytest.mark.parametrize(
    ("hidden", "expected"),
    [
        ((256,), 13_524_496),  # ConvLSTM(5x5)-5x5-256
        ((128, 128), 10_042_896),  # ConvLSTM(5x5)-5x5-128-5x5-128
        ((128, 64, 64), 7_585_296),  # ConvLSTM(5x5)-5x5-128-5x5-64-5x5-64
    ],
)
def test_parameter_counts_match_shi2015_table1(hidden: tuple[int, ...], expected: int) -> None:
    with torch.device("meta"):
        model = build_model(_paper(hidden))
    assert isinstance(model, EncoderForecaster)
    assert count_parameters(model) == expected


@pytest.mark.parametrize("out_len", [1, 3, 9])
def test_forward_shape_for_any_out_len(out_len: int) -> None:
    torch.manual_seed(0)
    model = EncoderForecaster(TINY)
    y = model(torch.rand(2, 4, 1, 16, 12), out_len)
    assert y.shape == (2, out_len, 1, 16, 12)
    assert torch.isfinite(y).all()


def test_longer_rollout_extends_the_shorter_one() -> None:
    torch.manual_seed(0)
    model = EncoderForecaster(TINY).eval()
    x = torch.rand(1, 3, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x, 7)[:, :3], model(x, 3))


@pytest.mark.parametrize("feed", [False, True])
@pytest.mark.parametrize("peepholes", [False, True])
def test_every_parameter_gets_a_gradient(feed: bool, peepholes: bool) -> None:
    torch.manual_seed(0)
    cfg = dataclasses.replace(TINY, feed_prediction=feed, peepholes=peepholes)
    model = EncoderForecaster(cfg)
    model(torch.rand(2, 3, 1, 8, 8), 3).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name


def test_feed_prediction_gives_forecaster_layer1_an_input_conv() -> None:
    plain = EncoderForecaster(TINY)
    fed = EncoderForecaster(dataclasses.replace(TINY, feed_prediction=True))
    assert plain.forecaster[0].input_conv is None
    assert fed.forecaster[0].input_conv is not None
    assert fed.forecaster[0].input_conv.in_channels == 16


def test_frame_size_must_be_a_multiple_of_the_patch() -> None:
    model = EncoderForecaster(TINY)
    with pytest.raises(ValueError, match="multiple of the patch size 4"):
        model(torch.rand(1, 2, 1, 10, 8), 2)
    with pytest.raises(ValueError, match="out_len"):
        model(torch.rand(1, 2, 1, 8, 8), 0)


def test_mismatched_layer_lists_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="same"):
        EncoderForecaster(dataclasses.replace(TINY, input_kernels=(3,)))


@pytest.mark.parametrize("feed", [False, True])
def test_forecaster_starts_from_the_encoder_final_states(
    feed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    model = EncoderForecaster(dataclasses.replace(TINY, feed_prediction=feed))
    x = torch.rand(2, 3, 1, 8, 8)
    received: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def recorder(i: int, cell: ConvLSTMCell):  # type: ignore[no-untyped-def]
        run, step = cell.forward, cell.step

        def forward(x, state=None, steps=None, keep_outputs=True):  # type: ignore[no-untyped-def]
            received.setdefault(i, state)
            return run(x, state, steps, keep_outputs)

        def single(x, state):  # type: ignore[no-untyped-def]
            received.setdefault(i, state)
            return step(x, state)

        monkeypatch.setattr(cell, "forward", forward)
        monkeypatch.setattr(cell, "step", single)

    for i, cell in enumerate(model.forecaster):
        recorder(i, cell)
    with torch.no_grad():
        encoded = model.encode(patchify(x, 4))
        model(x, 2)
    assert sorted(received) == [0, 1]
    for i, (h, c) in enumerate(encoded):
        torch.testing.assert_close(received[i][0], h)
        torch.testing.assert_close(received[i][1], c)
        assert received[i][0].abs().sum() > 0


def test_layerwise_forecaster_equals_a_step_by_step_rollout() -> None:
    torch.manual_seed(0)
    model = EncoderForecaster(TINY)
    z = torch.rand(1, 3, 16, 2, 2)
    with torch.no_grad():
        states = model.encode(z)
        layerwise = model.forecast(states, 4, z[:, -1])
        stepped = []
        current = list(states)
        for _ in range(4):
            below = None
            hidden = []
            for i, cell in enumerate(model.forecaster):
                current[i] = cell.step(below, current[i])
                below = current[i][0]
                hidden.append(below)
            stepped.append(model.output(torch.cat(hidden, 1)))
    torch.testing.assert_close(layerwise, torch.stack(stepped, 1), rtol=1e-5, atol=1e-6)


def _moving_blobs() -> torch.Tensor:
    """(2, 8, 1, 16, 16): two Gaussian blobs moving diagonally, one pixel per frame."""
    yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    sequences = []
    for y0, x0, vy, vx in [(3, 3, 1, 1), (12, 4, -1, 1)]:
        frames = [
            torch.exp(-((yy - y0 - vy * t) ** 2 + (xx - x0 - vx * t) ** 2) / 4) for t in range(8)
        ]
        sequences.append(torch.stack(frames))
    return torch.stack(sequences)[:, :, None]


@pytest.mark.parametrize("feed", [False, True])
def test_tiny_model_overfits_a_tiny_batch(feed: bool) -> None:
    torch.manual_seed(0)
    data = _moving_blobs()
    x, y = data[:, :4], data[:, 4:]
    cfg = ModelConfig(
        hidden_channels=(16,),
        input_kernels=(3,),
        state_kernels=(3,),
        patch_size=4,
        feed_prediction=feed,
    )
    model = EncoderForecaster(cfg)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(100):
        loss = (model(x, 4) - y).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
