"""A small keyed cache for what every file of a series repeats (grids, mappings, code tables).

A series of radar files is nearly always one grid and one encoding, so a dict
that is simply emptied when it fills up keeps the one entry that matters
without ever growing with the number of files.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class SeriesCache(Generic[V]):
    """``get(key, make)``: ``make()`` once per key, at most ``limit`` keys kept."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: dict[Hashable, V] = {}

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value cached for ``key``, made (and kept) on first use."""
        if key not in self._items:
            if len(self._items) >= self.limit:
                self._items.clear()
            self._items[key] = make()
        return self._items[key]
