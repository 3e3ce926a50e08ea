"""Space-to-depth patches and padding: exact inverses."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nowcast.data.patches import crop_padding, pad_to_multiple, patchify, unpatchify


@settings(max_examples=40, deadline=None)
@given(
    b=st.integers(1, 2),
    t=st.integers(1, 3),
    c=st.integers(1, 2),
    p=st.integers(1, 4),
    hp=st.integers(1, 4),
    wp=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_unpatchify_inverts_patchify(
    b: int, t: int, c: int, p: int, hp: int, wp: int, seed: int
) -> None:
    x = torch.randn(b, t, c, hp * p, wp * p, generator=torch.Generator().manual_seed(seed))
    z = patchify(x, p)
    assert z.shape == (b, t, c * p * p, hp, wp)
    assert torch.equal(unpatchify(z, p), x)


def test_patch_channels_are_the_pixels_of_one_patch_in_row_major_order() -> None:
    x = torch.arange(16.0).reshape(1, 1, 1, 4, 4)
    z = patchify(x, 2)  # (1, 1, 4, 2, 2)
    # top-left patch is pixels (0,0), (0,1), (1,0), (1,1) = 0, 1, 4, 5
    assert z[0, 0, :, 0, 0].tolist() == [0.0, 1.0, 4.0, 5.0]
    assert z[0, 0, :, 1, 1].tolist() == [10.0, 11.0, 14.0, 15.0]


def test_patchify_rejects_sizes_that_are_not_multiples() -> None:
    with pytest.raises(ValueError, match="not a multiple of the patch size 4"):
        patchify(torch.zeros(1, 1, 1, 6, 8), 4)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 13), w=st.integers(1, 13), p=st.integers(1, 5))
def test_padding_reaches_a_multiple_and_crops_back(h: int, w: int, p: int) -> None:
    x = torch.randn(2, 3, 1, h, w, generator=torch.Generator().manual_seed(h * 100 + w))
    padded, pads = pad_to_multiple(x, p)
    assert padded.shape[-2] % p == 0 and padded.shape[-1] % p == 0
    assert padded.shape[-2:] == (h + pads[0], w + pads[1])
    assert pads[0] < p and pads[1] < p
    assert torch.equal(crop_padding(padded, pads), x)


def test_padding_repeats_the_edge() -> None:
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 1, 2, 2)
    padded, pads = pad_to_multiple(x, 3)
    assert pads == (1, 1)
    assert padded[0, 0, 0].tolist() == [[1.0, 2.0, 2.0], [3.0, 4.0, 4.0], [3.0, 4.0, 4.0]]
