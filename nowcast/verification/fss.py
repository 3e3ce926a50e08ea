"""Fractions Skill Score (Roberts & Lean 2008), pooled over many fields.

For a threshold ``t`` and an odd window side ``n`` (pixels), each field is
made binary (event = value >= t) and turned into neighbourhood fractions
``P`` = share of event pixels in the ``n x n`` window centred on each pixel.
Outside the grid counts as "no event" and the window share is always taken
over ``n * n`` pixels, which is ``scipy.ndimage.uniform_filter(binary, n,
mode="constant", cval=0)``, the boundary treatment of pySTEPS' ``fss``. Then

    FSS = 1 - sum((Pf - Po)**2) / (sum(Pf**2) + sum(Po**2))
        = 2 sum(Pf Po) / (sum(Pf**2) + sum(Po**2))

The three sums are accumulated over all fields of a lead time and the score
is computed once at the end; a zero denominator (no event in any forecast or
observed field) gives NaN.

NaN (and infinite) pixels count as "no event" when the fractions are formed,
and pixels that are NaN in the forecast or the observation are left out of the
three sums. pySTEPS also sets them to "no event" but keeps them in the sums;
both agree on fields without NaN.

The window counts are computed exactly in integers from a summed-area table,
so the result does not depend on the summation order of a moving filter.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from nowcast.errors import ConfigError, InputError
from nowcast.verification.accumulator import Accumulator, check_lead, check_pair
from nowcast.verification.categorical import check_thresholds


def scales_to_pixels(scales_km: Sequence[float], pixel_m: float) -> list[int]:
    """Convert neighbourhood sizes in km to odd window sides in pixels.

    Each side is the odd integer nearest to ``scale_km * 1000 / pixel_m``
    (halfway cases go up, e.g. 10 km on a 1 km grid gives 11 px), and at least 1.

    Args:
        scales_km: Window sides in kilometres, each > 0.
        pixel_m: Grid spacing in metres, > 0.

    Returns:
        Odd window sides in pixels, in the order of ``scales_km``.

    Raises:
        ConfigError: If a scale or the spacing is not a positive finite number.
    """
    if not (math.isfinite(pixel_m) and pixel_m > 0):
        raise ConfigError(f"grid spacing must be a positive number of metres, got {pixel_m}")
    sides = []
    for scale in scales_km:
        if not (math.isfinite(scale) and scale > 0):
            raise ConfigError(f"FSS scales must be positive numbers of km, got {scale}")
        width = scale * 1000.0 / pixel_m
        sides.append(2 * max(0, math.floor((width - 1.0) / 2.0 + 0.5)) + 1)
    return sides


def check_scales(scales_px: Sequence[int]) -> tuple[int, ...]:
    """Validate FSS window sides (odd integers >= 1) and return them as a tuple.

    Raises:
        ConfigError: If the list is empty or a side is not an odd positive integer.
    """
    sides = tuple(int(s) for s in scales_px)
    if not sides:
        raise ConfigError("at least one FSS scale is needed")
    for side, given in zip(sides, scales_px, strict=True):
        if side != given or side < 1 or side % 2 == 0:
            raise ConfigError(f"FSS window sides must be odd integers >= 1, got {given}")
    return sides


def fss_from_sums(sum_ff: np.ndarray, sum_oo: np.ndarray, sum_fo: np.ndarray) -> np.ndarray:
    """FSS from pooled fraction sums ``sum(Pf**2)``, ``sum(Po**2)``, ``sum(Pf Po)``.

    Returns:
        ``2 sum_fo / (sum_ff + sum_oo)`` as float64, NaN where the denominator is 0.
    """
    num = 2.0 * np.asarray(sum_fo, dtype=np.float64)
    den = np.asarray(sum_ff, dtype=np.float64) + np.asarray(sum_oo, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def window_counts(events: np.ndarray, sides: Sequence[int]) -> Iterator[np.ndarray]:
    """Count event pixels in centred square windows, with zeros outside the grid.

    Each side's counts are made only when asked for, so a caller that uses
    them one side at a time holds one field of counts, not one per side (on a
    2200 x 1900 grid each is 33 MB).

    Args:
        events: Boolean field ``(ny, nx)``.
        sides: Odd window sides in pixels.

    Yields:
        One float64 array ``(ny, nx)`` per side holding the (integer, exact)
        number of events in the ``n x n`` window around each pixel.
    """
    ny, nx = events.shape
    pad = max(sides) // 2
    dtype = np.int32 if (ny + 2 * pad) * (nx + 2 * pad) < 2**31 else np.int64
    # summed-area table of the zero-padded field: table[i, j] = events in padded[:i, :j]
    table = np.zeros((ny + 2 * pad + 1, nx + 2 * pad + 1), dtype=dtype)
    table[1 + pad : 1 + pad + ny, 1 + pad : 1 + pad + nx] = events
    np.cumsum(table, axis=0, out=table)
    np.cumsum(table, axis=1, out=table)
    for side in sides:
        if side == 1:
            yield events.astype(np.float64)
        else:
            yield _window_sum(table, pad - side // 2, side, events.shape)


def _window_sum(table: np.ndarray, lo: int, side: int, shape: tuple[int, ...]) -> np.ndarray:
    """Events in the ``side x side`` windows starting ``lo`` cells into a summed-area table.

    A function of its own so that its integer temporaries are freed before
    the caller (a generator) hands the counts on.
    """
    ny, nx = shape
    hi = lo + side
    band = table[hi : hi + ny] - table[lo : lo + ny]  # (ny, nx + 2 pad + 1)
    return (band[:, hi : hi + nx] - band[:, lo : lo + nx]).astype(np.float64)


def event_box(events: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    """The bounding box of the events grown by ``margin`` pixels, clipped to the grid.

    Outside it every window of half-side <= ``margin`` holds no event, so the
    fractions there are 0 in both fields and add nothing to the FSS sums:
    cropping to the box is exact and saves time for sparse (high) thresholds.

    Returns:
        Row and column slices, or None when there is no event.
    """
    rows = np.flatnonzero(events.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(events.any(axis=0))
    ny, nx = events.shape
    return (
        slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, ny)),
        slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, nx)),
    )


def fraction_sums(
    fc_events: np.ndarray, ob_events: np.ndarray, valid: np.ndarray, sides: Sequence[int]
) -> np.ndarray:
    """``sum(Pf**2)``, ``sum(Po**2)``, ``sum(Pf Po)`` over the valid pixels, per window side.

    Args:
        fc_events: Boolean forecast events ``(ny, nx)``.
        ob_events: Boolean observed events, same shape.
        valid: Pixels to include in the sums, same shape.
        sides: Odd window sides in pixels.

    Returns:
        float64 array ``(3, len(sides))``.
    """
    invalid = None if valid.all() else ~valid
    sums = np.zeros((3, len(sides)))
    counts = zip(window_counts(fc_events, sides), window_counts(ob_events, sides), strict=True)
    for s, (side, (cf, co)) in enumerate(zip(sides, counts, strict=True)):
        # fraction = count / side**2; the integer counts keep the sums exact
        if invalid is not None:
            cf[invalid] = 0.0
            co[invalid] = 0.0
        cf = cf.ravel()
        co = co.ravel()
        sums[:, s] = (np.dot(cf, cf), np.dot(co, co), np.dot(cf, co))
        sums[:, s] /= float(side) ** 4
        del cf, co  # freed before the next side's counts are made
    return sums


class FractionsSkillScore(Accumulator):
    """Pooled FSS sums per lead time, threshold and window side.

    Attributes:
        thresholds: Event thresholds (event = value >= threshold).
        scales_px: Odd window sides in pixels.
        n_leads: Number of lead times.
        sum_ff, sum_oo, sum_fo: ``sum(Pf**2)``, ``sum(Po**2)``, ``sum(Pf Po)`` over
            valid pixels, float64 ``(n_leads, n_thresholds, n_scales)``.
        n_valid: Pixels where both fields are finite, int64 ``(n_leads,)``.
        n_observed_events: Valid observed event pixels, int64 ``(n_leads, n_thresholds)``.
    """

    SUMS = ("sum_ff", "sum_oo", "sum_fo", "n_valid", "n_observed_events")
    MERGE_KEYS = ("thresholds", "scales_px", "n_leads")
    MERGE_ERROR = "cannot merge FSS accumulators with different thresholds/scales/leads"

    def __init__(self, thresholds: Sequence[float], scales_px: Sequence[int], n_leads: int) -> None:
        self.thresholds = check_thresholds(thresholds)
        self.scales_px = check_scales(scales_px)
        super().__init__(n_leads)
        shape = (self.n_leads, len(self.thresholds), len(self.scales_px))
        self.sum_ff = np.zeros(shape)
        self.sum_oo = np.zeros(shape)
        self.sum_fo = np.zeros(shape)
        self.n_valid = np.zeros(self.n_leads, dtype=np.int64)
        self.n_observed_events = np.zeros(shape[:2], dtype=np.int64)

    def update(self, lead: int, forecast: np.ndarray, observed: np.ndarray) -> None:
        """Add one field ``(ny, nx)`` or a stack ``(..., ny, nx)`` of fields to lead ``lead``.

        Each field is filtered on its own; the sums of all fields are pooled.
        """
        index = check_lead(lead, self.n_leads)
        fc, ob = check_pair(forecast, observed)
        if fc.ndim < 2:
            raise InputError(f"FSS needs 2-D fields (ny, nx), got shape {fc.shape}")
        ny, nx = fc.shape[-2:]
        for fc_field, ob_field in zip(fc.reshape(-1, ny, nx), ob.reshape(-1, ny, nx), strict=True):
            self._update_field(index, fc_field, ob_field)

    def _update_field(self, index: int, forecast: np.ndarray, observed: np.ndarray) -> None:
        """Accumulate the sums of one 2-D forecast/observation pair."""
        fc_ok = np.isfinite(forecast)
        ob_ok = np.isfinite(observed)
        valid = fc_ok & ob_ok
        self.n_valid[index] += np.count_nonzero(valid)
        for k, threshold in enumerate(self.thresholds):
            fc_events = fc_ok & (forecast >= threshold)
            ob_events = ob_ok & (observed >= threshold)
            self.n_observed_events[index, k] += np.count_nonzero(ob_events & valid)
            box = event_box(fc_events | ob_events, max(self.scales_px) // 2)
            if box is None:
                continue  # no event in either field: every fraction is 0
            sums = fraction_sums(fc_events[box], ob_events[box], valid[box], self.scales_px)
            self.sum_ff[index, k] += sums[0]
            self.sum_oo[index, k] += sums[1]
            self.sum_fo[index, k] += sums[2]

    def scores(self) -> np.ndarray:
        """FSS per lead, threshold and scale, float64 ``(n_leads, n_thresholds, n_scales)``."""
        return fss_from_sums(self.sum_ff, self.sum_oo, self.sum_fo)

    def overall(self) -> np.ndarray:
        """FSS pooled over all lead times, float64 ``(n_thresholds, n_scales)``."""
        return fss_from_sums(self.sum_ff.sum(0), self.sum_oo.sum(0), self.sum_fo.sum(0))

    def useful_fss(self) -> np.ndarray:
        """The "useful skill" target ``0.5 + fo / 2`` of Roberts & Lean (2008).

        ``fo`` is the observed event frequency over the valid pixels of a lead.

        Returns:
            float64 ``(n_leads, n_thresholds)``; NaN for a lead without valid pixels.
        """
        base_rate = np.full(self.n_observed_events.shape, np.nan)
        np.divide(
            self.n_observed_events,
            self.n_valid[:, None],
            out=base_rate,
            where=self.n_valid[:, None] > 0,
        )
        return 0.5 + base_rate / 2.0
