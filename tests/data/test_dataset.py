"""CanonicalWindows and windows_for over tiny canonical files."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from nowcast.config import DataConfig
from nowcast.data.dataset import MIN_CROP_COVERAGE, CanonicalWindows, windows_for
from nowcast.errors import ConfigError
from tests.data.conftest import ENCODED_MAX_RATE, encoded_values
from tests.helpers import write_canonical

# linear with max_rate 1: the model scale equals the stored value, which encodes
# frame t, row y, column x as t * 10000 + y * 100 + x (see conftest.py).
CFG = DataConfig(
    in_len=3, out_len=2, crop=16, flips=False, transform="linear", max_rate=1.0,
    val_fraction=0.2, test_fraction=0.2,
)  # fmt: skip
Factory = Callable[..., Path]


def _frame_of(sample_frames: torch.Tensor) -> list[int]:
    return [int(v) // 10000 for v in sample_frames[:, 0, 0, 0]]


def test_file_opens_lazily_and_pickles(canonical: Factory) -> None:
    ds = CanonicalWindows(canonical(), np.array([0, 5]), CFG, 4, train=True)
    assert ds._nc is None
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._nc is None
    ds[0]
    assert ds._nc is not None
    again = pickle.loads(pickle.dumps(ds))
    assert again._nc is None
    torch.testing.assert_close(again[1]["x"], ds[1]["x"])
    ds.close()
    assert ds._nc is None


def test_sample_reads_the_window_frames_and_a_consistent_crop(canonical: Factory) -> None:
    ds = CanonicalWindows(canonical(), np.array([[4, 1], [2, 3]]), CFG, 4, train=True)
    s = ds[0]
    assert s["x"].shape == (3, 1, 16, 16) and s["x"].dtype == torch.float32
    assert s["y"].shape == (2, 1, 16, 16) and s["mask_y"].dtype == torch.bool
    assert _frame_of(s["x"]) == [4, 5, 6] and _frame_of(s["y"]) == [7, 8]
    corner = int(s["x"][0, 0, 0, 0]) % 10000
    y0, x0 = divmod(corner, 100)
    rows, cols = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    expected = 4 * 10000 + (y0 + rows) * 100 + x0 + cols
    assert torch.equal(s["x"][0, 0], expected.float())
    assert s["mask_y"].all()
    strided = ds[1]
    assert _frame_of(strided["x"]) == [2, 5, 8] and _frame_of(strided["y"]) == [11, 14]
    assert (strided["start"], strided["time_stride"]) == (2, 3)


def test_no_coverage_is_zero_and_masked(canonical: Factory) -> None:
    path = canonical(nan_frames=(1, 4))  # top half NaN in frames 1 and 4
    ds = CanonicalWindows(path, np.array([0]), dataclasses.replace(CFG, crop=0), 4, train=False)
    s = ds[0]  # x = frames 0-2, y = frames 3-4
    assert torch.isfinite(s["x"]).all() and torch.isfinite(s["y"]).all()
    assert (s["x"][1, 0, :16] == 0).all() and (s["x"][1, 0, 16:] > 0).all()
    assert s["mask_y"][0].all()
    assert not s["mask_y"][1, 0, :16].any() and s["mask_y"][1, 0, 16:].all()
    assert (s["y"][1, 0, :16] == 0).all()


def test_whole_frame_is_padded_to_the_patch_and_padding_is_masked(canonical: Factory) -> None:
    path = canonical(ny=30, nx=26)
    ds = CanonicalWindows(path, np.array([0]), dataclasses.replace(CFG, crop=0), 4, train=False)
    s = ds[0]
    assert s["x"].shape == (3, 1, 32, 28)
    assert s["mask_y"][:, :, :30, :26].all()
    assert not s["mask_y"][:, :, 30:].any() and not s["mask_y"][:, :, :, 26:].any()
    assert torch.equal(s["x"][:, :, 30], s["x"][:, :, 29])  # edge repeated


@pytest.mark.parametrize("crop", [6, 40])
def test_bad_crops_are_config_errors(canonical: Factory, crop: int) -> None:
    with pytest.raises(ConfigError, match="crop"):
        CanonicalWindows(canonical(), np.array([0]), dataclasses.replace(CFG, crop=crop), 4, True)


def test_randomness_is_fixed_by_seed_epoch_and_index(canonical: Factory) -> None:
    path = canonical()
    starts = np.arange(8)
    cfg = dataclasses.replace(CFG, flips=True)
    a = CanonicalWindows(path, starts, cfg, 4, train=True, seed=1)
    b = CanonicalWindows(path, starts, cfg, 4, train=True, seed=1)
    for i in (0, 5, 5):
        assert torch.equal(a[i]["x"], b[i]["x"])
    first = [a[i]["x"] for i in range(8)]
    a.set_epoch(1)
    assert any(not torch.equal(first[i], a[i]["x"]) for i in range(8))
    a.set_epoch(0)
    assert all(torch.equal(first[i], a[i]["x"]) for i in range(8))
    other_seed = CanonicalWindows(path, starts, cfg, 4, train=True, seed=2)
    assert any(not torch.equal(first[i], other_seed[i]["x"]) for i in range(8))
    val = CanonicalWindows(path, starts, cfg, 4, train=False, seed=1)
    before = [val[i]["x"] for i in range(8)]
    val.set_epoch(3)
    assert all(torch.equal(before[i], val[i]["x"]) for i in range(8))


def test_flips_are_a_symmetry_of_the_unflipped_crop(canonical: Factory) -> None:
    path = canonical()
    plain = CanonicalWindows(path, np.arange(6), CFG, 4, train=True, seed=3)
    flipped = CanonicalWindows(
        path, np.arange(6), dataclasses.replace(CFG, flips=True), 4, train=True, seed=3
    )
    changed = 0
    for i in range(6):
        x, fx = plain[i]["x"], flipped[i]["x"]
        variants = [torch.rot90(v, k, (-2, -1)) for v in (x, x.flip(-1)) for k in range(4)]
        assert any(torch.equal(fx, v) for v in variants)
        changed += not torch.equal(fx, x)
    assert changed > 0


def test_dataloader_workers_give_the_same_batches(canonical: Factory) -> None:
    ds = CanonicalWindows(canonical(), np.arange(6), CFG, 4, train=True, seed=0)
    serial = [b["x"] for b in DataLoader(ds, batch_size=3)]
    parallel = [b["x"] for b in DataLoader(ds, batch_size=3, num_workers=2)]
    assert all(torch.equal(s, p) for s, p in zip(serial, parallel, strict=True))


def _used_frames(pairs: np.ndarray, window: int) -> set[int]:
    return {int(i + k * s) for i, s in pairs for k in range(window)}


def test_windows_for_splits_by_time_without_gaps_or_shared_frames(canonical: Factory) -> None:
    path = canonical(n=40, gaps=(10,))  # one missing frame between index 9 and 10
    cfg = dataclasses.replace(CFG, time_strides=(1, 2))
    splits = {name: windows_for(path, cfg, name) for name in ("train", "val", "test")}
    assert set(splits["train"][:, 1].tolist()) == {1, 2}
    assert set(splits["val"][:, 1].tolist()) == {1} and set(splits["test"][:, 1].tolist()) == {1}
    for pairs in splits.values():
        for i, s in pairs:
            assert not (i < 10 <= i + 4 * s)  # never spans the gap
    used = {name: _used_frames(p, 5) for name, p in splits.items()}
    assert not used["train"] & used["val"] and not used["val"] & used["test"]
    assert max(used["train"]) < min(used["val"]) < max(used["val"]) < min(used["test"])


def test_windows_for_splits_sequences_whole(canonical: Factory) -> None:
    sequence = np.repeat(np.arange(10), 6).astype(np.int32)
    path = canonical(n=60, sequence=sequence, variable="intensity")
    cfg = dataclasses.replace(CFG, variable="intensity", transform="identity")
    owners = {}
    for name in ("train", "val", "test"):
        pairs = windows_for(path, cfg, name)
        assert pairs.shape[1] == 2
        owners[name] = {int(sequence[i]) for i, _ in pairs}
        for i, s in pairs:
            assert sequence[i] == sequence[i + 4 * s]
    assert [len(owners[n]) for n in ("train", "val", "test")] == [6, 2, 2]
    assert not owners["train"] & owners["val"] and not owners["train"] & owners["test"]


def test_wrong_variable_is_a_config_error(canonical: Factory) -> None:
    path = canonical(variable="intensity")
    with pytest.raises(ConfigError, match="data.variable"):
        windows_for(path, CFG, "train")
    with pytest.raises(ConfigError, match="rainfall_rate"):
        CanonicalWindows(path, np.array([0]), CFG, 4, train=True)


def test_crops_land_where_the_first_frame_has_data(tmp_path: Path) -> None:
    # Only a 32 x 32 corner of a 64 x 64 grid is covered (two radars stacked in one
    # file leave such gaps): 67 % of plain random 16 x 16 crops are less than a quarter covered.
    values = encoded_values(8, 64, 64)
    values[:, 32:, :] = np.nan
    values[:, :, 32:] = np.nan
    path = write_canonical(tmp_path / "corner.nc", values, max_rate=ENCODED_MAX_RATE)
    ds = CanonicalWindows(path, np.zeros((40, 2), dtype=np.int64) + [0, 1], CFG, 4, train=True)
    covered = [ds[i]["mask_y"][0].float().mean().item() for i in range(len(ds))]
    assert min(covered) >= MIN_CROP_COVERAGE


def test_a_window_without_enough_coverage_anywhere_still_gives_a_crop(tmp_path: Path) -> None:
    values = encoded_values(8, 32, 32)
    values[:, 1:, :] = np.nan  # one covered row: no 16 x 16 crop is a quarter covered
    path = write_canonical(tmp_path / "row.nc", values, max_rate=ENCODED_MAX_RATE)
    s = CanonicalWindows(path, np.array([[0, 1]]), CFG, 4, train=True)[0]
    assert s["x"].shape == (3, 1, 16, 16) and s["mask_y"].float().mean() <= 1 / 16
