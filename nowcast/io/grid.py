"""The in-memory contract between readers and the canonical writer.

Every reader yields :class:`Frame` objects: one 2-D field in canonical units
(mm h-1 for rain, ``[0, 1]`` for Moving MNIST), with NaN where there is no
coverage, on a :class:`Grid` of cell centres in metres (or pixel indices).

Row 0 of every frame is the first row of the source raster; for north-up
radar images ``y`` therefore *decreases* (never flip the data: docs/data-formats.md,
"Layout rules").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nowcast.errors import InputError


@dataclass(frozen=True, eq=False)
class Grid:
    """A regular 2-D grid.

    Attributes:
        x: Cell-centre x coordinates, shape ``(nx,)``; metres for projected
            grids, pixel indices for pixel grids.
        y: Cell-centre y coordinates, shape ``(ny,)``; same units as ``x``.
        crs: CF grid-mapping attributes (``grid_mapping_name`` and Appendix F
            parameters, optionally ``crs_wkt``), or ``None`` for pixel grids.
        proj4: The PROJ string of the projection when known (x/y in metres),
            used to compute lat/lon; ``None`` for pixel grids.
    """

    x: np.ndarray
    y: np.ndarray
    crs: dict[str, Any] | None = None
    proj4: str | None = None

    def __post_init__(self) -> None:
        """Refuse coordinates no raster has: a corrupt header must not reach a canonical file.

        Raises:
            InputError: when x or y is empty, not 1-D, not finite or not strictly monotonic.
        """
        for name, values in (("x", self.x), ("y", self.y)):
            axis = np.asarray(values, dtype=np.float64)
            usable = axis.ndim == 1 and axis.size > 0 and bool(np.all(np.isfinite(axis)))
            steps = np.diff(axis) if usable else axis
            if not (usable and (np.all(steps > 0) or np.all(steps < 0))):
                raise InputError(
                    f"grid {name} coordinates must be finite and strictly monotonic "
                    f"(a corrupt or unsupported grid description; {axis.size} values)"
                )

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``."""
        return (int(self.y.size), int(self.x.size))

    @property
    def is_projected(self) -> bool:
        """True when x/y are projection coordinates in metres."""
        return self.crs is not None

    @property
    def spacing(self) -> tuple[float, float]:
        """Absolute cell size ``(dy, dx)`` in the grid's units (metres or pixels)."""
        dx = float(abs(self.x[1] - self.x[0])) if self.x.size > 1 else 1.0
        dy = float(abs(self.y[1] - self.y[0])) if self.y.size > 1 else 1.0
        return (dy, dx)

    def same_as(self, other: Grid, rtol: float = 1e-6) -> bool:
        """True when both grids have the same shape, coordinates and projection."""
        if other is self:  # readers share one Grid per series
            return True
        if self.shape != other.shape or self.is_projected != other.is_projected:
            return False
        scale = max(self.spacing) if self.is_projected else 1.0
        atol = rtol * max(scale, 1.0) * 1e3
        if not (
            np.allclose(self.x, other.x, atol=atol) and np.allclose(self.y, other.y, atol=atol)
        ):
            return False
        return _same_crs(self.crs, other.crs)

    def describe(self) -> str:
        """A short human description, e.g. ``765 x 700, 1000 m, polar_stereographic``."""
        ny, nx = self.shape
        if not self.is_projected:
            return f"{ny} x {nx} pixels"
        dy, dx = self.spacing
        size = f"{dx:g} m" if dx == dy else f"{dx:g} x {dy:g} m"
        name = (self.crs or {}).get("grid_mapping_name", "unknown projection")
        return f"{ny} x {nx}, {size}, {name}"


def _same_crs(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is b
    keys = (set(a) | set(b)) - {"crs_wkt", "long_name"}
    for key in keys:
        va, vb = a.get(key), b.get(key)
        if isinstance(va, (int, float, np.number, list, tuple, np.ndarray)) and vb is not None:
            try:
                if not np.allclose(np.asarray(va, float), np.asarray(vb, float), rtol=1e-9):
                    return False
                continue
            except (TypeError, ValueError):
                pass
        if va != vb:
            return False
    return True


@dataclass
class Frame:
    """One observed field, in canonical units.

    Attributes:
        time: Nominal (valid) time, ``numpy.datetime64`` in seconds, UTC.
        values: ``float32`` array ``(ny, nx)``: mm h-1 for ``rainfall_rate``,
            ``[0, 1]`` for ``intensity``; NaN = no coverage. Negative values
            may still be present here: the writer clips them and counts them.
        grid: The grid ``values`` lie on.
        variable: ``"rainfall_rate"`` or ``"intensity"`` (see :mod:`nowcast.io.cf`).
        source: Where the frame came from (file path), for messages and ``history``.
        bounds: Accumulation or scan window ``(start, end)`` when the source
            states one, else ``None``.
        sequence: Sequence index for data made of independent sequences
            (Moving MNIST), else ``None``. Windows never cross sequences.
        implausible: Pixels already turned into NaN as physically implausible
            (:mod:`nowcast.io.plausible`), counted for the canonical file.
    """

    time: np.datetime64
    values: np.ndarray
    grid: Grid
    variable: str
    source: str
    bounds: tuple[np.datetime64, np.datetime64] | None = None
    sequence: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    implausible: int = 0


def to_datetime64(value: Any) -> np.datetime64:
    """Convert a datetime/str/datetime64 to ``datetime64[s]`` (naive = UTC)."""
    if hasattr(value, "tzinfo") and value.tzinfo is not None:
        value = value.replace(tzinfo=None) - value.utcoffset()
    return np.datetime64(value, "s")


def parse_utc(text: str, what: str = "time") -> np.datetime64:
    """An ISO 8601 UTC time such as ``2021-07-04T18:00`` (trailing ``Z`` allowed).

    Raises:
        InputError: naming ``what`` when the text is not such a time.
    """
    try:
        return np.datetime64(text.strip().rstrip("Z"), "s")
    except ValueError:
        raise InputError(f"{what} {text!r} is not an ISO time such as 2021-07-04T18:00") from None
