"""The seeded Moving MNIST generator: digit images -> bouncing-digit sequences.

Conventions (``docs/synthetic-data.md``): a ``size`` x ``size``
canvas, ``digits_per_sequence`` digits that each start at a random position
and move in a random direction at :data:`STEP_FRACTION` of their free range
per frame (3.6 px for 28 px digits on 64 px), bouncing off the borders; the
digits are combined with a pixel-wise maximum. Sequence ``n`` depends only on
``(seed, n)``, never on how many sequences are requested.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nowcast.io.splits import block_sizes

#: Distance a digit moves per frame, as a fraction of its free range
#: ``size - digit_size`` (the classic generator's step length).
STEP_FRACTION = 0.1


def block_digit_pools(n_digits: int, seed: int) -> list[np.ndarray]:
    """Disjoint digit pools for the train, val and test blocks of sequences."""
    order = np.random.default_rng(np.random.SeedSequence([seed, n_digits])).permutation(n_digits)
    bounds = np.cumsum(block_sizes(n_digits))[:2]
    return [np.sort(pool) for pool in np.split(order, bounds)]


def split_digit_pool(
    n_digits: int, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split digit indices ``0..n_digits-1`` into disjoint train and test pools.

    Pass each pool as ``pool=`` to :func:`generate_moving_mnist`, so that no
    digit image of a test sequence was ever seen in a training sequence.

    Args:
        n_digits: Number of digit images available.
        test_fraction: Share of the digits reserved for testing, in ``(0, 1)``.
        seed: Seed of the permutation.

    Returns:
        ``(train, test)``: sorted ``int64`` index arrays, disjoint, covering all digits.

    Raises:
        ValueError: when a pool would be empty.
    """
    n_test = int(round(n_digits * test_fraction))
    if not 0 < n_test < n_digits:
        raise ValueError(f"test_fraction {test_fraction} of {n_digits} digits leaves an empty pool")
    order = np.random.default_rng(np.random.SeedSequence([seed, n_digits])).permutation(n_digits)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _trajectory(
    rng: np.random.Generator, n_frames: int, free: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Integer top-left corners ``(rows, cols)`` of one bouncing digit, shape ``(n_frames,)``.

    The digit starts uniformly inside the free range ``[0, free]`` and moves in
    a uniformly random direction at ``STEP_FRACTION * free`` pixels per frame.
    Reflection at the borders is computed in closed form: the unfolded
    straight-line path is folded back into ``[0, free]`` (a triangle wave),
    which is exactly a mirror bounce of position and velocity.
    """
    start = rng.uniform(0.0, 1.0, size=2) * np.asarray(free, dtype=np.float64)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    velocity = STEP_FRACTION * np.asarray(free, dtype=np.float64)
    velocity *= np.array([np.sin(angle), np.cos(angle)])
    steps = np.arange(n_frames, dtype=np.float64)[:, None]
    unfolded = start + steps * velocity  # (T, 2) rows, cols
    corners = np.empty((n_frames, 2), dtype=np.int64)
    for axis, span in enumerate(free):
        if span == 0:
            corners[:, axis] = 0
            continue
        folded = np.mod(unfolded[:, axis], 2.0 * span)
        folded = np.where(folded > span, 2.0 * span - folded, folded)
        corners[:, axis] = np.clip(np.rint(folded), 0, span).astype(np.int64)
    return corners[:, 0], corners[:, 1]


def _one_sequence(
    digits: np.ndarray,
    pool: np.ndarray,
    index: int,
    n_frames: int,
    seed: int,
    size: int,
    digits_per_sequence: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Sequence ``index`` of ``seed``: ``uint8 (T, size, size)`` and its digit indices."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    chosen = pool[rng.integers(0, pool.size, size=digits_per_sequence)]
    height, width = digits.shape[1:]
    canvas = np.zeros((n_frames, size, size), dtype=np.uint8)
    for digit in chosen:
        rows, cols = _trajectory(rng, n_frames, (size - height, size - width))
        image = digits[digit]
        for t in range(n_frames):
            window = canvas[t, rows[t] : rows[t] + height, cols[t] : cols[t] + width]
            np.maximum(window, image, out=window)
    return canvas, chosen.astype(np.int64)


def _check_generator_args(
    digits: np.ndarray, n_frames: int, size: int, digits_per_sequence: int
) -> None:
    """Raise ValueError for inputs that cannot produce a sequence."""
    if digits.ndim != 3 or digits.dtype != np.uint8 or digits.shape[0] == 0:
        raise ValueError(
            f"digits must be uint8 (n, h, w) with n > 0, got {digits.dtype} {digits.shape}"
        )
    if max(digits.shape[1:]) > size:
        raise ValueError(f"digits of {digits.shape[1:]} do not fit a {size} x {size} canvas")
    if n_frames <= 0 or digits_per_sequence <= 0:
        raise ValueError("n_frames and digits_per_sequence must be positive")


def iter_moving_mnist(
    digits: np.ndarray,
    n_sequences: int,
    n_frames: int,
    seed: int,
    size: int = 64,
    digits_per_sequence: int = 2,
    pool: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield Moving MNIST sequences one at a time (see :func:`generate_moving_mnist`).

    Yields:
        ``(sequence, digit_indices)``: ``uint8 (n_frames, size, size)`` and
        ``int64 (digits_per_sequence,)`` indices into ``digits``.
    """
    _check_generator_args(digits, n_frames, size, digits_per_sequence)
    indices = np.arange(digits.shape[0]) if pool is None else np.asarray(pool, dtype=np.int64)
    if indices.size == 0 or indices.min() < 0 or indices.max() >= digits.shape[0]:
        raise ValueError(f"pool must hold indices in [0, {digits.shape[0]})")
    for n in range(n_sequences):
        yield _one_sequence(digits, indices, n, n_frames, seed, size, digits_per_sequence)


def generate_moving_mnist(
    digits: np.ndarray,
    n_sequences: int,
    n_frames: int,
    seed: int,
    size: int = 64,
    digits_per_sequence: int = 2,
    pool: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate Moving MNIST sequences from digit images, reproducibly.

    Each sequence places ``digits_per_sequence`` digits, drawn with
    replacement from ``pool``, on a black ``size`` x ``size`` canvas; each
    digit bounces off the borders at constant speed (module docstring) and
    overlapping digits combine by pixel-wise maximum. Sequence ``n`` is seeded
    by ``(seed, n)`` alone, so it is bit-for-bit identical whatever
    ``n_sequences`` is, and between :func:`generate_moving_mnist` and
    :func:`iter_moving_mnist`.

    Args:
        digits: ``uint8 (n, h, w)`` digit images, e.g. from
            :func:`~nowcast.io.readers.moving_mnist.reader.read_idx_images`.
        n_sequences: Number of sequences ``N``.
        n_frames: Frames per sequence ``T``.
        seed: Seed of the generator (non-negative).
        size: Canvas side in pixels.
        digits_per_sequence: Digits moving in each sequence.
        pool: Indices of ``digits`` allowed in these sequences (all when None);
            use :func:`split_digit_pool` for a train/test split.

    Returns:
        ``(sequences, digit_indices)``: ``uint8 (N, T, size, size)`` and
        ``int64 (N, digits_per_sequence)``.
    """
    sequences = np.zeros((n_sequences, n_frames, size, size), dtype=np.uint8)
    chosen = np.zeros((n_sequences, digits_per_sequence), dtype=np.int64)
    generator = iter_moving_mnist(
        digits, n_sequences, n_frames, seed, size, digits_per_sequence, pool
    )
    for n, (sequence, indices) in enumerate(generator):
        sequences[n] = sequence
        chosen[n] = indices
    return sequences, chosen
