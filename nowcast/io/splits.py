"""Train/validation/test blocks: how many items of a series go to each split.

Shared by the Moving MNIST generator (:mod:`nowcast.io.readers.moving_mnist.generate`), which
writes sequences and draws digits in these blocks, and by the windowing of
:mod:`nowcast.data.windows`, which splits sequences the same way: both must agree, or test
digits would leak into training. Kept in ``io`` so that ``data`` imports no reader.
"""

from __future__ import annotations

#: Shares of the sequences (and of the digit images) for train, validation and test.
#: ``nowcast train`` splits Moving MNIST sequences in these contiguous blocks
#: by default (DataConfig val/test fractions), so the digits of validation
#: and test sequences generated from IDX files never appear in training.
SPLIT_FRACTIONS = (0.7, 0.15, 0.15)


def block_sizes(n: int, fractions: tuple[float, float, float] = SPLIT_FRACTIONS) -> list[int]:
    """Sizes of the contiguous train/val/test blocks of ``n`` items (test takes the rest)."""
    n_train = int(round(fractions[0] * n))
    n_val = min(int(round(fractions[1] * n)), n - n_train)
    return [n_train, n_val, n - n_train - n_val]
