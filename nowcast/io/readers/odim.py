"""ODIM_H5 2.x composite/image reader (OPERA Data Information Model, HDF5).

Reads Cartesian products (``/what/object`` = ``COMP`` or ``IMAGE``) and turns
the best rain quantity of each ``datasetN`` into a rain-rate frame:

* quantity preference ``RATE`` > ``ACRR`` > ``DBZH`` > ``TH`` > ``DBZ``; quality
  fields (``QIND`` ..., ``qualityN`` groups) are never read;
* ``what`` attributes (``quantity``, ``gain``, ``offset``, ``nodata``,
  ``undetect``) are looked up in ``datasetN/dataM/what``, then
  ``datasetN/what``, then ``/what``; defaults gain 1, offset 0, no codes;
* physical value = raw * gain + offset; raw == ``nodata`` -> NaN;
  raw == ``undetect`` -> 0 mm h-1; a gain of 0 or a non-finite gain or
  offset refuses the file;
* ``RATE`` is mm h-1; ``ACRR`` (mm) is divided by its accumulation window;
  reflectivities (dBZ) go through Z-R (:mod:`nowcast.io.readers.zr`);
* the grid comes from ``/where`` overridden by ``datasetN/where``.

See ``docs/data-formats.md`` for the full rules.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nowcast.errors import InputError
from nowcast.io import cf
from nowcast.io.cache import SeriesCache
from nowcast.io.grid import Frame, Grid
from nowcast.io.proj4 import metres_proj4
from nowcast.io.projection import north_up_grid, project
from nowcast.io.readers.hdf5 import (
    attr_float,
    attr_text,
    decode_elementwise,
    hdf5_errors,
    looks_like_hdf5,
)
from nowcast.io.readers.registry import ReaderOptions
from nowcast.io.readers.zr import dbz_to_rate

#: Rain quantities this reader understands, best first.
QUANTITY_PREFERENCE = ("RATE", "ACRR", "DBZH", "TH", "DBZ")
REFLECTIVITY_QUANTITIES = ("DBZH", "TH", "DBZ")
OBJECTS = ("COMP", "IMAGE")

_DATASET = re.compile(r"dataset(\d+)")
_DATA = re.compile(r"data(\d+)")

Attrs = Mapping[str, Any]


# --- ODIM metadata ------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """Where one frame's data lives in the file and how to decode it."""

    dataset: str
    data: str
    quantity: str
    gain: float
    offset: float
    nodata: float | None
    undetect: float | None
    start: np.datetime64 | None
    end: np.datetime64 | None


def _lookup(chain: list[Attrs], key: str) -> Any:
    """The first value of ``key`` along ``chain`` (most specific group first), else None."""
    for attrs in chain:
        if key in attrs:
            return attrs[key]
    return None


def _group_attrs(h5: h5py.Group, name: str) -> Attrs:
    obj = h5.get(name)
    return obj.attrs if isinstance(obj, h5py.Group) else {}


def _numbered(group: h5py.Group, pattern: re.Pattern[str]) -> list[str]:
    """Member names like ``dataset3`` in numeric order."""
    found = [(int(m.group(1)), k) for k in group if (m := pattern.fullmatch(k))]
    return [k for _, k in sorted(found)]


def odim_datetime(date: Any, time: Any) -> np.datetime64:
    """ODIM ``date`` (``YYYYMMDD``) + ``time`` (``HHMMSS``) -> ``datetime64[s]`` UTC."""
    text = attr_text(date) + attr_text(time)
    try:
        return np.datetime64(dt.datetime.strptime(text[:14], "%Y%m%d%H%M%S"), "s")
    except ValueError:
        raise ValueError(f"bad ODIM date/time {text!r} (expected YYYYMMDD + HHMMSS)") from None


def _window(what: Attrs, prefix: str) -> np.datetime64 | None:
    date, time = what.get(f"{prefix}date"), what.get(f"{prefix}time")
    if date is None or time is None:
        return None
    return odim_datetime(date, time)


def _code(value: Any) -> float | None:
    return None if value is None else attr_float(value)


def _sources(h5: h5py.File, path: Path) -> list[_Source]:
    """One :class:`_Source` per dataset holding the preferred quantity."""
    root_what = _group_attrs(h5, "what")
    found: dict[str, list[tuple[str, str, list[Attrs]]]] = {}
    for ds in _numbered(h5, _DATASET):
        ds_what = _group_attrs(h5, f"{ds}/what")
        seen: set[str] = set()
        for data in _numbered(h5[ds], _DATA):
            chain = [_group_attrs(h5, f"{ds}/{data}/what"), ds_what, root_what]
            quantity = attr_text(_lookup(chain, "quantity") or "").upper()
            if quantity and quantity not in seen and f"{ds}/{data}/data" in h5:
                seen.add(quantity)
                found.setdefault(quantity, []).append((ds, data, chain))
    chosen = next((q for q in QUANTITY_PREFERENCE if q in found), None)
    if chosen is None:
        names = ", ".join(sorted(found)) or "none"
        raise InputError(
            f"{path}: no rain quantity in the ODIM file (found: {names}; "
            f"readable: {', '.join(QUANTITY_PREFERENCE)})"
        )
    return [_make_source(h5, ds, data, chosen, chain) for ds, data, chain in found[chosen]]


def _make_source(h5: h5py.File, ds: str, data: str, quantity: str, chain: list[Attrs]) -> _Source:
    ds_what = _group_attrs(h5, f"{ds}/what")
    gain = _lookup(chain, "gain")
    offset = _lookup(chain, "offset")
    gain, offset = _linear_code(
        f"{ds}/{data}",
        1.0 if gain is None else attr_float(gain),
        0.0 if offset is None else attr_float(offset),
    )
    return _Source(
        dataset=ds,
        data=f"{ds}/{data}/data",
        quantity=quantity,
        gain=gain,
        offset=offset,
        nodata=_code(_lookup(chain, "nodata")),
        undetect=_code(_lookup(chain, "undetect")),
        start=_window(ds_what, "start"),
        end=_window(ds_what, "end"),
    )


def _linear_code(where: str, gain: float, offset: float) -> tuple[float, float]:
    """``(gain, offset)`` when they can decode data: finite, ``gain`` not 0.

    A gain of 0 turns every stored value into the offset (one constant field),
    so such a file is refused rather than read as uniform rain or no rain.

    Raises:
        ValueError: naming the data group and the bad attribute.
    """
    if not (math.isfinite(gain) and math.isfinite(offset)):
        raise ValueError(f"{where}: gain {gain} and offset {offset} must be finite")
    if gain == 0:
        raise ValueError(f"{where}: gain 0 makes every value the offset {offset:g}")
    return gain, offset


def _frame_times(sources: list[_Source], nominal: np.datetime64) -> list[np.datetime64]:
    """Per-dataset end times when datasets differ in time, else the nominal ``/what`` time."""
    ends = [s.end for s in sources]
    if len(sources) > 1 and all(e is not None for e in ends) and len(set(ends)) > 1:
        return [e for e in ends if e is not None]
    return [nominal] * len(sources)


# --- grid ---------------------------------------------------------------------


def _grid(h5: h5py.File, ds: str, shape: tuple[int, int]) -> Grid:
    """The grid of ``ds`` from ``/where`` overridden by ``datasetN/where``.

    Files with the same ``where`` attributes share one :class:`Grid` object,
    so a series is compared with its first grid by identity, and the PROJ
    string and grid mapping are built once.
    """
    where: dict[str, Any] = dict(_group_attrs(h5, "where"))
    where.update(_group_attrs(h5, f"{ds}/where"))
    key = (shape, tuple(sorted((k, repr(np.asarray(v).tolist())) for k, v in where.items())))
    return _GRIDS.get(key, lambda: _grid_from_where(where, shape))


_GRIDS: SeriesCache[Grid] = SeriesCache(limit=16)


def _grid_from_where(where: Mapping[str, Any], shape: tuple[int, int]) -> Grid:
    """The grid described by merged ``where`` attributes for data of ``shape``."""
    if "projdef" not in where:
        raise ValueError("no where/projdef (projection) attribute")
    proj4 = metres_proj4(attr_text(where["projdef"]))
    ny, nx = shape
    xsize = int(attr_float(where.get("xsize", nx)))
    ysize = int(attr_float(where.get("ysize", ny)))
    if (ysize, xsize) != shape:
        raise ValueError(f"where xsize/ysize {xsize}x{ysize} do not match the data {nx}x{ny}")
    if "xscale" not in where or "yscale" not in where:
        raise ValueError("no where/xscale or where/yscale (cell size)")
    xscale, yscale = attr_float(where["xscale"]), attr_float(where["yscale"])
    ul_x, ul_y = _upper_left(where, proj4, ysize * yscale)
    return north_up_grid(proj4, ul_x, ul_y, xscale, yscale, nx, ny)


def _upper_left(where: Mapping[str, Any], proj4: str, height: float) -> tuple[float, float]:
    """Upper-left corner (metres): ``UL_x``/``UL_y``, else the projected corner lon/lat.

    ``height`` is ``ysize * yscale``, used when only the lower-left corner is known.
    """
    if "UL_x" in where and "UL_y" in where:
        return attr_float(where["UL_x"]), attr_float(where["UL_y"])
    for corner, dy in (("UL", 0.0), ("LL", height)):
        if f"{corner}_lon" in where and f"{corner}_lat" in where:
            lon, lat = attr_float(where[f"{corner}_lon"]), attr_float(where[f"{corner}_lat"])
            x, y = project(proj4, np.array([lon]), np.array([lat]))
            return float(x[0]), float(y[0]) + dy
    raise ValueError("no UL_x/UL_y and no UL/LL corner lon/lat in where")


# --- values -------------------------------------------------------------------


def _accumulation_seconds(h5: h5py.File, src: _Source) -> float:
    """Length of an ACRR accumulation, seconds.

    Rule: ``datasetN/what`` end - start when both are given and differ; else
    ``how/endepochs - how/startepochs`` (``datasetN/how`` before ``/how``).
    """
    if src.start is not None and src.end is not None and src.end > src.start:
        return float((src.end - src.start) / np.timedelta64(1, "s"))
    chain = [_group_attrs(h5, f"{src.dataset}/how"), _group_attrs(h5, "how")]
    start, end = _lookup(chain, "startepochs"), _lookup(chain, "endepochs")
    if start is not None and end is not None and attr_float(end) > attr_float(start):
        return attr_float(end) - attr_float(start)
    raise ValueError(
        f"ACRR in {src.dataset} has no accumulation window "
        "(need datasetN/what start/end date+time or how/startepochs+endepochs)"
    )


def _to_rate(h5: h5py.File, src: _Source, raw: np.ndarray, options: ReaderOptions) -> np.ndarray:
    """Decode raw values into mm h-1 (float32, NaN = nodata, 0 = undetect)."""
    if raw.dtype == np.float32 and (src.quantity, src.gain, src.offset) == ("RATE", 1.0, 0.0):
        return _float_rate(src, raw)
    return decode_elementwise(raw, lambda codes: _decode(h5, src, codes, options))


def _float_rate(src: _Source, raw: np.ndarray) -> np.ndarray:
    """:func:`_decode` of a float32 RATE with gain 1 and offset 0, without the float64 round trip.

    ``raw * 1.0 + 0.0`` in float64 and back is ``raw + 0.0`` in float32
    (exact; -0 becomes +0 either way).
    """
    value = raw + np.float32(0.0)
    nodata = raw == src.nodata if src.nodata is not None else np.zeros(raw.shape, bool)
    value[nodata] = np.nan
    if src.undetect is not None:
        value[(raw == src.undetect) & ~nodata] = 0.0
    return value


def _decode(h5: h5py.File, src: _Source, raw: np.ndarray, options: ReaderOptions) -> np.ndarray:
    """Raw values -> mm h-1 in float64 arithmetic, returned as float32."""
    value = raw.astype(np.float64) * src.gain + src.offset
    nodata = raw == src.nodata if src.nodata is not None else np.zeros(raw.shape, bool)
    value[nodata] = np.nan  # before Z-R, so codes never become (infinite) rates
    if src.quantity == "ACRR":
        value = value * (3600.0 / _accumulation_seconds(h5, src))
    elif src.quantity in REFLECTIVITY_QUANTITIES:
        value = dbz_to_rate(value, options.zr_a, options.zr_b).astype(np.float64)
    if src.undetect is not None:
        value[(raw == src.undetect) & ~nodata] = 0.0
    return value.astype(np.float32)


# --- reader -------------------------------------------------------------------


class OdimReader:
    """ODIM_H5 2.x Cartesian composites and images (``COMP``/``IMAGE``)."""

    name = "odim"
    description = "ODIM_H5 2.x composite/image (RATE, ACRR or DBZH/TH/DBZ via Z-R)"

    def __init__(self, options: ReaderOptions | None = None) -> None:
        """Keep the options (Z-R coefficients for reflectivity quantities)."""
        self.options = options or ReaderOptions()

    def can_open(self, path: Path) -> bool:
        """True for an HDF5 file with ``/what/object`` COMP or IMAGE and a ``datasetN`` group."""
        if not looks_like_hdf5(path):
            return False
        try:
            with h5py.File(path, "r") as h5:
                obj = attr_text(_group_attrs(h5, "what").get("object", b""))
                return obj.upper() in OBJECTS and bool(_numbered(h5, _DATASET))
        except Exception:
            return False

    def frames(self, path: Path) -> Iterator[Frame]:
        """Yield one rain-rate frame per dataset holding the preferred quantity.

        Raises:
            InputError: for files that are not readable ODIM_H5 images.
        """
        path = Path(path)
        if not looks_like_hdf5(path):
            raise InputError(f"{path}: not an HDF5 file (ODIM_H5 expected)")
        with hdf5_errors(path), h5py.File(path, "r") as h5:
            sources, nominal, origin = self._describe(h5, path)
            grids: dict[str, Grid] = {}
            for src, time in zip(sources, _frame_times(sources, nominal), strict=True):
                yield self._frame(h5, path, src, time, origin, grids)

    def _describe(self, h5: h5py.File, path: Path) -> tuple[list[_Source], np.datetime64, str]:
        """Check the root ``what`` and list the datasets to read."""
        root_what = _group_attrs(h5, "what")
        if "object" not in root_what:
            raise InputError(f"{path}: not ODIM_H5 (no /what/object attribute)")
        obj = attr_text(root_what["object"]).upper()
        if obj not in OBJECTS:
            raise InputError(
                f"{path}: ODIM object {obj!r} is not supported (only {', '.join(OBJECTS)})"
            )
        try:
            nominal = odim_datetime(root_what.get("date", b""), root_what.get("time", b""))
            sources = _sources(h5, path)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        origin = attr_text(root_what.get("source", b""))
        return sources, nominal, origin

    def _frame(
        self,
        h5: h5py.File,
        path: Path,
        src: _Source,
        time: np.datetime64,
        origin: str,
        grids: dict[str, Grid],
    ) -> Frame:
        """Read and decode one dataset into a :class:`Frame`."""
        raw = h5[src.data][()]
        if raw.ndim != 2:
            raise InputError(f"{path}: {src.data} is {raw.ndim}-D, expected a 2-D image")
        try:
            where_key = src.dataset if f"{src.dataset}/where" in h5 else ""
            if where_key not in grids:
                grids[where_key] = _grid(h5, src.dataset, raw.shape)
            rate = _to_rate(h5, src, raw, self.options)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        bounds = (src.start, src.end) if src.start is not None and src.end is not None else None
        return Frame(
            time=time,
            values=rate,
            grid=grids[where_key],
            variable=cf.RAIN,
            source=str(path),
            bounds=bounds,
            extra={"quantity": src.quantity, "odim_source": origin},
        )
