"""Contingency table: hand-computed counts, zero denominators, pySTEPS agreement, pooling."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest

from nowcast.errors import ConfigError, InputError
from nowcast.verification.categorical import ContingencyTable, scores_from_counts

with contextlib.redirect_stdout(io.StringIO()):
    from pysteps.verification import det_cat_fct

NAN = np.nan


def _rain(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Skewed random rain rates (mm h-1) with many dry pixels; no ties with thresholds."""
    return np.where(rng.random(shape) < 0.4, 0.0, rng.gamma(0.6, 4.0, shape))


def test_hand_computed_table_and_scores() -> None:
    fc = np.array([2.0, 2.0, 0.0, 0.0, 2.0, 0.0, NAN, 5.0])
    ob = np.array([3.0, 0.0, 4.0, 0.0, 1.0, 0.0, 2.0, NAN])
    table = ContingencyTable([1.0], n_leads=1)
    table.update(0, fc, ob)
    # valid pairs 0..5; obs 1.0 equals the threshold and counts as an event (>=)
    assert table.hits[0, 0] == 2
    assert table.false_alarms[0, 0] == 1
    assert table.misses[0, 0] == 1
    assert table.correct_negatives[0, 0] == 2
    assert table.n_excluded[0] == 2
    s = {k: v[0, 0] for k, v in table.scores().items()}
    assert s["csi"] == pytest.approx(0.5)
    assert s["pod"] == pytest.approx(2 / 3)
    assert s["far"] == pytest.approx(1 / 3)
    assert s["pofd"] == pytest.approx(1 / 3)
    assert s["bias"] == pytest.approx(1.0)
    # Hr = (H+M)(H+F)/N = 3*3/6 = 1.5; ETS = (2-1.5)/(4-1.5)
    assert s["ets"] == pytest.approx(0.2)
    # HSS = 2(HC - MF) / ((H+M)(M+C) + (H+F)(F+C)) = 2*3 / (9 + 9)
    assert s["hss"] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # nothing forecast, nothing observed: every score but POFD is undefined
        (
            (0, 0, 0, 10),
            {"csi": NAN, "pod": NAN, "far": NAN, "pofd": 0.0, "bias": NAN, "ets": NAN, "hss": NAN},
        ),
        # events observed, none forecast: FAR undefined, POD and CSI zero
        (
            (0, 5, 0, 5),
            {"csi": 0.0, "pod": 0.0, "far": NAN, "pofd": 0.0, "bias": 0.0, "ets": 0.0, "hss": 0.0},
        ),
        # events forecast, none observed: POD and BIAS undefined
        (
            (0, 0, 4, 6),
            {"csi": 0.0, "pod": NAN, "far": 1.0, "pofd": 0.4, "bias": NAN, "ets": 0.0, "hss": 0.0},
        ),
        # event everywhere, forecast everywhere: no negatives, no chance-corrected skill
        (
            (10, 0, 0, 0),
            {"csi": 1.0, "pod": 1.0, "far": 0.0, "pofd": NAN, "bias": 1.0, "ets": NAN, "hss": NAN},
        ),
    ],
)
def test_zero_denominators_give_nan_without_warning(
    counts: tuple[int, int, int, int], expected: dict[str, float]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = scores_from_counts(*counts)
    for name, value in expected.items():
        np.testing.assert_equal(scores[name], value, err_msg=name)


def test_large_counts_do_not_overflow() -> None:
    big = 3 * 10**9
    s = scores_from_counts(np.int64(big), np.int64(big), np.int64(big), np.int64(big))
    assert s["hss"] == pytest.approx(0.0)
    assert s["csi"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("threshold", [0.1, 0.5, 2.0, 5.0, 10.0])
def test_matches_pysteps_det_cat_fct(threshold: float) -> None:
    rng = np.random.default_rng(7)
    fc = _rain(rng, (3, 40, 50))
    ob = _rain(rng, (3, 40, 50))
    table = ContingencyTable([threshold], n_leads=1)
    for k in range(3):
        table.update(0, fc[k], ob[k])
    ours = {k: v[0, 0] for k, v in table.scores().items()}
    ref = det_cat_fct(fc, ob, threshold)
    # pysteps uses "> thr": identical here because no value equals a threshold
    for ours_name, ref_name in [
        ("csi", "CSI"),
        ("pod", "POD"),
        ("far", "FAR"),
        ("pofd", "FA"),
        ("bias", "BIAS"),
        ("ets", "GSS"),
        ("hss", "HSS"),
    ]:
        assert ours[ours_name] == pytest.approx(float(ref[ref_name]), abs=1e-9, rel=1e-9)


def test_nan_pixels_match_pysteps_on_the_valid_subset() -> None:
    rng = np.random.default_rng(3)
    fc = _rain(rng, (30, 30))
    ob = _rain(rng, (30, 30))
    fc[rng.random(fc.shape) < 0.1] = NAN
    ob[:, :5] = NAN
    valid = np.isfinite(fc) & np.isfinite(ob)
    table = ContingencyTable([0.5, 2.0], n_leads=1)
    table.update(0, fc, ob)
    assert table.n_excluded[0] == np.count_nonzero(~valid)
    total = table.hits + table.misses + table.false_alarms + table.correct_negatives
    assert total.tolist() == [[valid.sum(), valid.sum()]]
    for k, thr in enumerate((0.5, 2.0)):
        ref = det_cat_fct(fc[valid], ob[valid], thr)
        assert table.scores()["csi"][0, k] == pytest.approx(float(ref["CSI"]), abs=1e-12)


def test_pooling_equals_scoring_the_concatenation_not_the_mean() -> None:
    rng = np.random.default_rng(11)
    fields = [(_rain(rng, (20, 25)), _rain(rng, (20, 25))) for _ in range(4)]
    pooled = ContingencyTable([1.0, 4.0], n_leads=1)
    for fc, ob in fields:
        pooled.update(0, fc, ob)
    concat = ContingencyTable([1.0, 4.0], n_leads=1)
    concat.update(0, np.concatenate([f for f, _ in fields]), np.concatenate([o for _, o in fields]))
    np.testing.assert_array_equal(pooled.hits, concat.hits)
    np.testing.assert_array_equal(pooled.correct_negatives, concat.correct_negatives)
    singles = []
    for fc, ob in fields:
        one = ContingencyTable([1.0, 4.0], n_leads=1)
        one.update(0, fc, ob)
        singles.append(one.scores()["csi"][0])
    assert not np.allclose(np.mean(singles, axis=0), pooled.scores()["csi"][0], atol=1e-6)


def test_merge_equals_sequential_updates() -> None:
    rng = np.random.default_rng(5)
    data = _rain(rng, (2, 2, 3, 16, 16))  # (fc/ob, start, lead, y, x)
    sequential = ContingencyTable([0.5, 3.0], n_leads=3)
    parts = [ContingencyTable([0.5, 3.0], n_leads=3) for _ in range(2)]
    for start in range(2):
        sequential.update_all(data[0, start], data[1, start])
        parts[start].update_all(data[0, start], data[1, start])
    merged = parts[0].merge(parts[1])
    for name in ("hits", "misses", "false_alarms", "correct_negatives", "n_excluded"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(sequential, name))


def test_persistence_of_a_static_field_is_perfect() -> None:
    rng = np.random.default_rng(2)
    frame = _rain(rng, (32, 32))
    table = ContingencyTable([0.5, 2.0, 5.0], n_leads=4)
    table.update_all(np.repeat(frame[None], 4, 0), np.repeat(frame[None], 4, 0))
    scores = table.scores()
    np.testing.assert_array_equal(scores["csi"], 1.0)
    np.testing.assert_array_equal(scores["pod"], 1.0)
    np.testing.assert_array_equal(scores["far"], 0.0)
    np.testing.assert_array_equal(scores["bias"], 1.0)


def test_threshold_compared_in_the_field_precision() -> None:
    value = np.float32(0.7)  # float32(0.7) is just below 0.7
    table = ContingencyTable([0.7], n_leads=1)
    table.update(0, np.array([value]), np.array([value]))
    assert table.hits[0, 0] == 1


def test_nd_input_and_overall() -> None:
    table = ContingencyTable([1.0], n_leads=2)
    table.update(0, np.ones((2, 3, 4)), np.ones((2, 3, 4)))
    table.update(1, np.zeros((5, 5)), np.ones((5, 5)))
    assert table.hits[:, 0].tolist() == [24, 0]
    assert table.misses[:, 0].tolist() == [0, 25]
    assert table.overall()["pod"][0] == pytest.approx(24 / 49)


def test_invalid_inputs() -> None:
    table = ContingencyTable([1.0], n_leads=2)
    with pytest.raises(InputError, match="differs"):
        table.update(0, np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(IndexError):
        table.update(2, np.zeros(3), np.zeros(3))
    with pytest.raises(InputError, match="lead times"):
        table.update_all(np.zeros((3, 2, 2)), np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match="cannot merge"):
        table.merge(ContingencyTable([2.0], n_leads=2))
    for bad in ([], [1.0, 1.0], [float("nan")]):
        with pytest.raises(ConfigError):
            ContingencyTable(bad, n_leads=1)
    with pytest.raises(ConfigError):
        ContingencyTable([1.0], n_leads=0)
