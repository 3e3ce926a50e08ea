"""The life cycle every score accumulator shares, and the input checks under it.

A score (:class:`~nowcast.verification.categorical.ContingencyTable`,
:class:`~nowcast.verification.continuous.ContinuousScores`, ...) keeps sums or
counts per lead time. Each defines :meth:`Accumulator.update` for one lead;
adding a whole sequence, merging accumulators filled in parallel and checking
the inputs are the same for all of them and live here once.
"""

from __future__ import annotations

import abc
from typing import ClassVar, TypeVar

import numpy as np

from nowcast.errors import ConfigError, InputError

_Acc = TypeVar("_Acc", bound="Accumulator")


def check_n_leads(n_leads: int) -> int:
    """Return ``n_leads`` as an int, raising ConfigError when it is below 1."""
    if int(n_leads) < 1:
        raise ConfigError(f"n_leads must be at least 1, got {n_leads}")
    return int(n_leads)


def check_pair(forecast: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return forecast and observation as arrays after checking that they match.

    Args:
        forecast: Forecast field(s), any shape.
        observed: Observed field(s), same shape as ``forecast``.

    Returns:
        Both inputs as numpy arrays (no copy when already arrays).

    Raises:
        InputError: If the shapes differ.
    """
    fc = np.asarray(forecast)
    ob = np.asarray(observed)
    if fc.shape != ob.shape:
        raise InputError(f"forecast shape {fc.shape} differs from observed shape {ob.shape}")
    return fc, ob


def check_lead(lead: int, n_leads: int) -> int:
    """Return ``lead`` as an int after checking it indexes one of ``n_leads`` lead times.

    Raises:
        IndexError: If ``lead`` is outside ``0 .. n_leads - 1``.
    """
    index = int(lead)
    if not 0 <= index < n_leads:
        raise IndexError(f"lead index {lead} outside 0..{n_leads - 1}")
    return index


def valid_values(forecast: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a forecast/observation pair to the pixels finite in both.

    Args:
        forecast: Forecast field(s).
        observed: Observed field(s), same shape.

    Returns:
        Two 1-D arrays of equal length holding the pixels where neither value is
        NaN or infinite (views when every pixel is valid).
    """
    fc, ob = check_pair(forecast, observed)
    valid = np.isfinite(fc) & np.isfinite(ob)
    if valid.all():
        return fc.ravel(), ob.ravel()
    return fc[valid], ob[valid]


class Accumulator(abc.ABC):
    """Sums or counts per lead time, filled by :meth:`update` and pooled by :meth:`merge`.

    Subclasses name, as class attributes, the arrays a merge adds
    (``SUMS``), the settings two accumulators must share to be merged
    (``MERGE_KEYS``) and the message for a mismatch (``MERGE_ERROR``, a
    :meth:`str.format` template given ``self`` and ``other``).

    Attributes:
        n_leads: Number of lead times.
    """

    SUMS: ClassVar[tuple[str, ...]]
    MERGE_KEYS: ClassVar[tuple[str, ...]]
    MERGE_ERROR: ClassVar[str]

    def __init__(self, n_leads: int) -> None:
        self.n_leads = check_n_leads(n_leads)

    @abc.abstractmethod
    def update(self, lead: int, forecast: np.ndarray, observed: np.ndarray) -> None:
        """Add one forecast/observation pair (same shape and units) to lead index ``lead``."""

    def update_all(self, forecast: np.ndarray, observed: np.ndarray) -> None:
        """Add a whole forecast sequence, lead axis first.

        Args:
            forecast: Array ``(n_leads, ...)``: frame ``i`` is lead index ``i``.
            observed: The verifying observations, same shape.

        Raises:
            InputError: If the shapes differ or the lead axis is not ``n_leads`` long.
        """
        fc, ob = check_pair(forecast, observed)
        if fc.shape[0] != self.n_leads:
            raise InputError(f"expected {self.n_leads} lead times, got {fc.shape[0]}")
        for lead in range(self.n_leads):
            self.update(lead, fc[lead], ob[lead])

    def merge(self: _Acc, other: _Acc) -> _Acc:
        """Add the sums of ``other`` (same ``MERGE_KEYS``) into this accumulator.

        Returns:
            ``self``, so that merges can be chained.

        Raises:
            ValueError: If the two differ in a ``MERGE_KEYS`` setting.
        """
        if any(getattr(other, key) != getattr(self, key) for key in self.MERGE_KEYS):
            raise ValueError(self.MERGE_ERROR.format(self=self, other=other))
        for name in self.SUMS:
            getattr(self, name)[...] += getattr(other, name)
        return self
