"""Moving MNIST: IDX digits, the sequence generator and the two readers."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from nowcast.errors import ConfigError, InputError
from nowcast.io.readers.moving_mnist import reader as mnist_reader
from nowcast.io.readers.moving_mnist.generate import (
    block_digit_pools,
    generate_moving_mnist,
    iter_moving_mnist,
    split_digit_pool,
)
from nowcast.io.readers.moving_mnist.reader import (
    EPOCH,
    MnistIdxReader,
    MovingMnistNpyReader,
    read_idx_images,
    sequence_times,
)
from nowcast.io.readers.registry import ReaderOptions, get_reader
from nowcast.io.splits import block_sizes

STEP = np.timedelta64(300, "s")


@pytest.fixture(scope="module")
def idx_path(mnist_dir: Path) -> Path:
    return mnist_dir / "t10k-images-idx3-ubyte.gz"


@pytest.fixture(scope="module")
def digits(idx_path: Path) -> np.ndarray:
    return read_idx_images(idx_path)


@pytest.fixture
def block_digits() -> np.ndarray:
    """Three 'digits' that are solid 28x28 squares of distinct grey levels."""
    return np.stack([np.full((28, 28), v, dtype=np.uint8) for v in (50, 120, 255)])


@pytest.fixture
def npy_path(tmp_path: Path) -> Path:
    """A tiny official-layout file: (T=20, N=3, 64, 64) uint8, pixel = 10 n + t at (n, t)."""
    t = np.arange(20, dtype=np.uint8)[:, None, None, None]
    n = np.arange(3, dtype=np.uint8)[None, :, None, None]
    array = np.broadcast_to(10 * n + t, (20, 3, 64, 64)).copy()
    array[:, :, 0, 0] = 255
    path = tmp_path / "mnist_test_seq.npy"
    np.save(path, array)
    return path


def _write_idx(path: Path, header: tuple[int, ...], payload: bytes, compress: bool) -> Path:
    data = np.array(header, dtype=">i4").tobytes() + payload
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


# --------------------------------------------------------------------------- IDX


def test_read_idx_images_real_file(digits: np.ndarray) -> None:
    assert digits.shape == (10000, 28, 28) and digits.dtype == np.uint8
    assert digits.mean() == pytest.approx(33.79, abs=0.01)
    assert (digits > 0).mean() == pytest.approx(0.1928, abs=0.0005)
    assert digits.min() == 0 and digits.max() == 255
    rows = np.arange(28)[:, None]
    mass = digits.astype(np.float64).sum(axis=(1, 2))
    centre_row = (digits * rows).sum(axis=(1, 2)) / mass
    assert centre_row.mean() == pytest.approx(13.99, abs=0.01)
    assert digits.flags.writeable


def test_read_idx_images_raw_equals_gzip(
    tmp_path: Path, idx_path: Path, digits: np.ndarray
) -> None:
    raw = tmp_path / "t10k-images-idx3-ubyte"
    raw.write_bytes(gzip.decompress(idx_path.read_bytes()))
    np.testing.assert_array_equal(read_idx_images(raw), digits)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_images_small_file(tmp_path: Path, compress: bool) -> None:
    pixels = np.arange(2 * 3 * 4, dtype=np.uint8)
    path = _write_idx(tmp_path / "tiny.idx", (2051, 2, 3, 4), pixels.tobytes(), compress)
    np.testing.assert_array_equal(read_idx_images(path), pixels.reshape(2, 3, 4))


@pytest.mark.parametrize(
    ("header", "payload", "message"),
    [
        ((2049, 2, 3, 4), bytes(24), "magic 2049"),
        ((2051, 2, 3, 4), bytes(23), "size mismatch"),
        ((2051, 0, 3, 4), b"", "empty dimensions"),
        ((2051,), b"", "too short"),
    ],
)
def test_read_idx_images_rejects_bad_files(
    tmp_path: Path, header: tuple[int, ...], payload: bytes, message: str
) -> None:
    path = _write_idx(tmp_path / "bad.idx", header, payload, compress=True)
    with pytest.raises(InputError, match=message):
        read_idx_images(path)


def test_read_idx_images_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(np.array((2051, 2, 3, 4), ">i4").tobytes() + bytes(24))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[:-12])
    with pytest.raises(InputError, match="cannot read IDX"):
        read_idx_images(path)


def test_idx_can_open(tmp_path: Path, idx_path: Path, npy_path: Path) -> None:
    reader = MnistIdxReader(ReaderOptions())
    labels = idx_path.with_name("t10k-labels-idx1-ubyte.gz")
    assert reader.can_open(idx_path)
    assert not reader.can_open(labels)  # magic 2049
    assert not reader.can_open(npy_path)
    assert not reader.can_open(tmp_path / "missing.gz")
    assert not reader.can_open(tmp_path)
    (tmp_path / "empty").write_bytes(b"")
    assert not reader.can_open(tmp_path / "empty")
    (tmp_path / "fake.gz").write_bytes(b"\x1f\x8bnot really gzip")
    assert not reader.can_open(tmp_path / "fake.gz")


# --------------------------------------------------------------------------- generator


def test_generate_real_digits_shape_range_and_reproducibility(digits: np.ndarray) -> None:
    sequences, chosen = generate_moving_mnist(digits, 8, 20, seed=5)
    assert sequences.shape == (8, 20, 64, 64) and sequences.dtype == np.uint8
    assert chosen.shape == (8, 2) and chosen.dtype == np.int64
    assert chosen.min() >= 0 and chosen.max() < 10000
    assert sequences.max() == 255
    assert 5.0 < sequences.mean() < 25.0  # two 28x28 digits (mean 33.8) on 64x64
    again, chosen_again = generate_moving_mnist(digits, 8, 20, seed=5)
    assert again.tobytes() == sequences.tobytes()
    np.testing.assert_array_equal(chosen_again, chosen)
    other, _ = generate_moving_mnist(digits, 8, 20, seed=6)
    assert not np.array_equal(other, sequences)


def test_sequence_depends_only_on_seed_and_index(digits: np.ndarray) -> None:
    few, chosen_few = generate_moving_mnist(digits, 2, 10, seed=1)
    many, chosen_many = generate_moving_mnist(digits, 4, 10, seed=1)
    np.testing.assert_array_equal(few, many[:2])
    np.testing.assert_array_equal(chosen_few, chosen_many[:2])
    streamed = list(iter_moving_mnist(digits, 4, 10, seed=1))
    assert len(streamed) == 4
    for n, (sequence, chosen) in enumerate(streamed):
        np.testing.assert_array_equal(sequence, many[n])
        np.testing.assert_array_equal(chosen, chosen_many[n])


def test_frames_are_the_max_of_the_placed_digits(digits: np.ndarray) -> None:
    sequences, chosen = generate_moving_mnist(digits, 3, 20, seed=2)
    for sequence, (a, b) in zip(sequences, chosen, strict=True):
        ink_a, ink_b = (int(digits[i].sum()) for i in (a, b))
        ink = sequence.reshape(20, -1).sum(axis=1, dtype=np.int64)
        assert (ink >= max(ink_a, ink_b)).all() and (ink <= ink_a + ink_b).all()
        assert sequence.max() == max(digits[a].max(), digits[b].max())


def test_digits_bounce_at_constant_speed(block_digits: np.ndarray) -> None:
    sequences, _ = generate_moving_mnist(block_digits, 20, 60, seed=3, digits_per_sequence=1)
    bounced = 0
    for sequence in sequences:
        rows = np.array([np.flatnonzero(frame.any(axis=1))[0] for frame in sequence])
        cols = np.array([np.flatnonzero(frame.any(axis=0))[0] for frame in sequence])
        assert all((frame > 0).sum() == 28 * 28 for frame in sequence)  # never clipped
        assert rows.min() >= 0 and rows.max() <= 36 and cols.min() >= 0 and cols.max() <= 36
        step = np.hypot(np.diff(rows), np.diff(cols))
        assert np.median(step) == pytest.approx(3.6, abs=0.8)  # 0.1 * (64 - 28) px per frame
        assert step.max() <= 3.6 + 1.5
        bounced += int((np.diff(np.sign(np.diff(rows))) != 0).any())
    assert bounced >= 10


def test_split_digit_pool_is_disjoint_and_complete() -> None:
    train, test = split_digit_pool(10000, 0.2, seed=0)
    assert train.size == 8000 and test.size == 2000
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.union1d(train, test), np.arange(10000))
    again = split_digit_pool(10000, 0.2, seed=0)
    np.testing.assert_array_equal(again[1], test)
    assert not np.array_equal(split_digit_pool(10000, 0.2, seed=1)[1], test)
    with pytest.raises(ValueError, match="empty pool"):
        split_digit_pool(10, 0.01, seed=0)


def test_pools_keep_test_digits_out_of_training(digits: np.ndarray) -> None:
    train, test = split_digit_pool(digits.shape[0], 0.1, seed=0)
    _, used_train = generate_moving_mnist(digits, 200, 2, seed=0, pool=train)
    _, used_test = generate_moving_mnist(digits, 200, 2, seed=1, pool=test)
    assert np.isin(used_train, train).all() and np.isin(used_test, test).all()
    assert np.intersect1d(used_train, used_test).size == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 20}, "do not fit"),
        ({"n_frames": 0}, "positive"),
        ({"pool": np.array([0, 3])}, "pool"),
    ],
)
def test_generator_rejects_bad_arguments(
    block_digits: np.ndarray, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"n_sequences": 1, "n_frames": 2, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate_moving_mnist(block_digits, **args)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- time axis


def test_sequence_times_skip_one_step_between_sequences() -> None:
    first, second = sequence_times(0, 3, 300), sequence_times(1, 3, 300)
    assert first[0] == np.datetime64("2000-01-01T00:00:00")
    assert list(np.diff(first)) == [STEP, STEP]
    assert second[0] - first[-1] == 2 * STEP
    assert sequence_times(1000, 20, 300)[0] == EPOCH + 21000 * STEP


# --------------------------------------------------------------------------- readers


def test_registry_builds_both_readers() -> None:
    assert isinstance(get_reader("mnist-npy"), MovingMnistNpyReader)
    assert isinstance(get_reader("MNIST-IDX"), MnistIdxReader)
    assert MovingMnistNpyReader.name == "mnist-npy" and MnistIdxReader.name == "mnist-idx"


def test_npy_can_open(tmp_path: Path, npy_path: Path, idx_path: Path) -> None:
    reader = MovingMnistNpyReader(ReaderOptions())
    assert reader.can_open(npy_path)
    cases = {
        "float.npy": np.zeros((2, 1, 4, 4), np.float32),
        "three_d.npy": np.zeros((2, 4, 4), np.uint8),
        "not_square.npy": np.zeros((2, 1, 4, 5), np.uint8),
        "empty.npy": np.zeros((2, 0, 4, 4), np.uint8),
    }
    for name, array in cases.items():
        np.save(tmp_path / name, array)
        assert not reader.can_open(tmp_path / name), name
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    assert not reader.can_open(tmp_path / "junk.npy")
    assert not reader.can_open(idx_path)
    assert not reader.can_open(tmp_path / "missing.npy")
    assert not reader.can_open(tmp_path)


def test_npy_reader_memory_maps(npy_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modes: list[object] = []
    real_load = np.load

    def spy(*args: object, **kwargs: object) -> object:
        modes.append(kwargs.get("mmap_mode"))
        return real_load(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(mnist_reader.np, "load", spy)
    frames = MovingMnistNpyReader(ReaderOptions()).frames(npy_path)
    first = next(frames)
    assert modes and set(modes) == {"r"}
    assert first.values[1, 1] == 0.0


def test_npy_reader_layout_values_and_times(npy_path: Path) -> None:
    reader = MovingMnistNpyReader(ReaderOptions(timestep_s=300))
    frames = list(reader.frames(npy_path))
    assert len(frames) == 60
    assert [f.sequence for f in frames] == [n for n in range(3) for _ in range(20)]
    for i, frame in enumerate(frames):
        n, t = divmod(i, 20)
        assert frame.values.dtype == np.float32 and frame.values.shape == (64, 64)
        assert frame.values[5, 7] == pytest.approx((10 * n + t) / 255.0)
        assert frame.values[0, 0] == 1.0
        assert frame.time == EPOCH + (n * 21 + t) * STEP
        assert frame.variable == "intensity" and frame.source == str(npy_path)
    times = np.array([f.time for f in frames])
    gaps = np.diff(times)
    assert (gaps[[19, 39]] == 2 * STEP).all()
    assert (np.delete(gaps, [19, 39]) == STEP).all()
    grid = frames[0].grid
    np.testing.assert_array_equal(grid.x, np.arange(64))
    np.testing.assert_array_equal(grid.y, np.arange(64))
    assert grid.crs is None and grid.proj4 is None and not grid.is_projected


def test_npy_reader_rejects_other_arrays(tmp_path: Path) -> None:
    path = tmp_path / "wrong.npy"
    np.save(path, np.zeros((2, 1, 4, 4), np.float32))
    with pytest.raises(InputError, match="expected uint8"):
        next(MovingMnistNpyReader(ReaderOptions()).frames(path))
    text = tmp_path / "text.npy"
    text.write_text("hello")
    with pytest.raises(InputError, match="not a readable .npy"):
        next(MovingMnistNpyReader(ReaderOptions()).frames(text))


def test_idx_reader_streams_generated_sequences(idx_path: Path, digits: np.ndarray) -> None:
    options = ReaderOptions(sequences=20, frames=4, seed=9, timestep_s=600)
    frames = list(MnistIdxReader(options).frames(idx_path))
    pools = block_digit_pools(digits.shape[0], 9)
    train, val, test = (
        generate_moving_mnist(digits, size, 4, seed=9 + first, pool=pool)
        for size, first, pool in zip((14, 3, 3), (0, 14, 17), pools, strict=True)
    )
    sequences = np.concatenate([train[0], val[0], test[0]])
    assert block_sizes(20) == [14, 3, 3] and len(frames) == 80
    for i, frame in enumerate(frames):
        n, t = divmod(i, 4)
        assert frame.sequence == n
        np.testing.assert_array_equal(frame.values, sequences[n, t] / np.float32(255.0))
        assert frame.time == EPOCH + (n * 5 + t) * np.timedelta64(600, "s")
        assert frame.grid.shape == (64, 64) and frame.variable == "intensity"
    # the digits of validation and test sequences never appear in training sequences
    used = [set(np.unique(block[1]).tolist()) for block in (train, val, test)]
    assert not used[0] & used[1] and not used[0] & used[2] and not used[1] & used[2]
    assert all(set(u) <= set(p.tolist()) for u, p in zip(used, pools, strict=True))


def test_idx_reader_rejects_bad_options(idx_path: Path) -> None:
    with pytest.raises(ConfigError, match="sequences > 0"):
        next(MnistIdxReader(ReaderOptions(sequences=0)).frames(idx_path))
