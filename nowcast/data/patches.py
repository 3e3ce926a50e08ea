"""Space-to-depth patches and padding to a multiple of the patch size.

Shi et al. (2015) cut each ``64 x 64`` frame into ``4 x 4`` patches and feed the
network ``16 x 16 x 16`` tensors: fewer, deeper pixels make the recurrent
convolutions cheaper and widen their receptive field. Tensors use the layout
``BTCHW``; a patch's ``p*p`` pixels become channels in the order
``(c, row in patch, column in patch)``, so :func:`unpatchify` is the exact
inverse of :func:`patchify`.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def _check_divisible(x: Tensor, p: int) -> None:
    if p < 1:
        raise ValueError(f"patch size must be >= 1, got {p}")
    h, w = x.shape[-2:]
    if h % p or w % p:
        raise ValueError(
            f"frame size {h}x{w} is not a multiple of the patch size {p}; "
            "pad it first (nowcast.data.patches.pad_to_multiple)"
        )


def patchify(x: Tensor, p: int) -> Tensor:
    """Space-to-depth: ``(B, T, C, H, W) -> (B, T, C*p*p, H/p, W/p)``.

    Raises:
        ValueError: when H or W is not a multiple of ``p``.
    """
    _check_divisible(x, p)
    return F.pixel_unshuffle(x, p) if p > 1 else x


def unpatchify(x: Tensor, p: int) -> Tensor:
    """Depth-to-space, the exact inverse of :func:`patchify`.

    ``(B, T, C*p*p, H/p, W/p) -> (B, T, C, H, W)``.
    """
    if p < 1 or x.shape[-3] % (p * p):
        raise ValueError(f"{x.shape[-3]} channels cannot be unpatched with patch size {p}")
    return F.pixel_shuffle(x, p) if p > 1 else x


def pad_to_multiple(x: Tensor, p: int) -> tuple[Tensor, tuple[int, int]]:
    """Pad the last two axes at the bottom and right up to multiples of ``p``.

    Edge values are repeated (replicate padding), which works for any frame
    size, unlike reflection, and invents no sharp edges for the network.

    Args:
        x: ``(..., H, W)`` tensor, e.g. ``BTCHW`` frames.
        p: Patch size.

    Returns:
        The padded ``(..., H + pad_h, W + pad_w)`` tensor and ``(pad_h, pad_w)``
        for :func:`crop_padding`.
    """
    if p < 1:
        raise ValueError(f"patch size must be >= 1, got {p}")
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % p, -w % p
    if pad_h == 0 and pad_w == 0:
        return x, (0, 0)
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, h, w)  # (N, 1, H, W): replicate padding wants 3-D or 4-D input
    padded = F.pad(flat, (0, pad_w, 0, pad_h), mode="replicate")
    return padded.reshape(*lead, h + pad_h, w + pad_w), (pad_h, pad_w)


def crop_padding(x: Tensor, pads: tuple[int, int]) -> Tensor:
    """Undo :func:`pad_to_multiple`: drop ``pad_h`` rows and ``pad_w`` columns."""
    pad_h, pad_w = pads
    h, w = x.shape[-2:]
    return x[..., : h - pad_h, : w - pad_w]
