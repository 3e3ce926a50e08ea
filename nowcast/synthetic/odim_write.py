"""Write ODIM_H5 v2.2 Cartesian composites (``COMP``), for tests and sample data.

The files follow the OPERA Data Information Model as other producers write it:
fixed-length NUL-terminated C string attributes, ``/what`` + ``/where`` at the
root, one ``datasetN`` per time with ``what`` (start/end date+time) and
``dataM/what`` (quantity, gain, offset, nodata, undetect), gzip-compressed data.
:class:`nowcast.io.readers.odim.OdimReader` reads them back; the tests use the options
here (where the ``what`` attributes live, absent ``UL_x``/``UL_y``, float data
without codes, ...) to exercise each rule of the reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nowcast.io.grid import Grid
from nowcast.io.projection import unproject
from nowcast.io.readers.zr import DEFAULT_A, DEFAULT_B, rate_to_dbz

QUANTITIES = ("RATE", "ACRR", "DBZH", "TH", "DBZ")
WHAT_LOCATIONS = ("data", "dataset", "root")


def _set_str(obj: h5py.HLObject, key: str, value: str) -> None:
    """Store ``value`` as a fixed-length, NUL-terminated C string (ODIM convention)."""
    encoded = value.encode("ascii")
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(len(encoded) + 1)
    obj.attrs.create(key, np.array(encoded, dtype=f"S{len(encoded) + 1}"), dtype=h5py.Datatype(tid))


def _set_attrs(obj: h5py.HLObject, attrs: dict[str, Any]) -> None:
    """Strings as C strings, integers as int64 (ODIM "long"), other numbers as float64."""
    for key, value in attrs.items():
        if isinstance(value, str):
            _set_str(obj, key, value)
        elif isinstance(value, (int, np.integer)):
            obj.attrs.create(key, np.int64(value))
        else:
            obj.attrs.create(key, np.float64(value))


def _date_time(time: np.datetime64) -> tuple[str, str]:
    """``datetime64`` -> ODIM ``(YYYYMMDD, HHMMSS)``."""
    text = str(np.datetime64(time).astype("datetime64[s]")).replace("-", "").replace(":", "")
    date, clock = text.split("T")
    return date, clock


def _physical(rate: np.ndarray, quantity: str, interval_s: int, zr: tuple[float, float]) -> Any:
    """Rain rate (mm h-1) -> the quantity's physical value (mm h-1, mm or dBZ)."""
    if quantity == "RATE":
        return rate.astype(np.float64)
    if quantity == "ACRR":
        return rate.astype(np.float64) * interval_s / 3600.0
    return rate_to_dbz(rate, *zr)


def _encode(
    rate: np.ndarray,
    quantity: str,
    codes: dict[str, float | None],
    dtype: np.dtype[Any],
    interval_s: int,
    zr: tuple[float, float],
) -> np.ndarray:
    """Encode one rate field as stored values: NaN -> nodata, 0 -> undetect.

    Raises:
        ValueError: when a value does not fit ``dtype`` or a needed code is missing.
    """
    gain = 1.0 if codes["gain"] is None else float(codes["gain"])
    offset = 0.0 if codes["offset"] is None else float(codes["offset"])
    nodata, undetect = codes["nodata"], codes["undetect"]
    nan, dry = np.isnan(rate), rate == 0
    stored = (_physical(rate, quantity, interval_s, zr) - offset) / gain
    if np.issubdtype(dtype, np.integer):
        stored = np.rint(np.where(nan | dry, 0.0, stored))
        valid = ~(nan | dry)
        info = np.iinfo(dtype)
        if valid.any() and (stored[valid].min() < info.min or stored[valid].max() > info.max):
            raise ValueError(f"values do not fit {dtype} with gain {gain} and offset {offset}")
        if nodata is not None and np.any(stored[valid] == nodata):
            raise ValueError(f"a valid value encodes to the nodata code {nodata}")
    if nan.any():
        if nodata is None and np.issubdtype(dtype, np.integer):
            raise ValueError("NaN in the data needs a nodata code for integer storage")
        stored[nan] = np.nan if nodata is None else nodata
    if dry.any():
        if undetect is not None:
            stored[dry] = undetect
        elif quantity not in ("RATE", "ACRR"):
            raise ValueError(f"{quantity} has no value for dry pixels: give an undetect code")
    return stored.astype(dtype)


def _where_attrs(grid: Grid, write_ul: bool) -> dict[str, Any]:
    """``/where``: projdef, sizes, scales, corner lon/lat and optionally UL_x/UL_y."""
    if not grid.proj4:
        raise ValueError("write_odim needs a projected grid with proj4")
    if grid.x.size > 1 and grid.x[1] < grid.x[0] or grid.y.size > 1 and grid.y[1] > grid.y[0]:
        raise ValueError("ODIM images are north-up: x must increase and y decrease")
    dy, dx = grid.spacing
    left, right = grid.x[0] - dx / 2, grid.x[-1] + dx / 2
    top, bottom = grid.y[0] + dy / 2, grid.y[-1] - dy / 2
    corners = {"LL": (left, bottom), "UL": (left, top), "UR": (right, top), "LR": (right, bottom)}
    lon, lat = unproject(
        grid.proj4,
        np.array([c[0] for c in corners.values()]),
        np.array([c[1] for c in corners.values()]),
    )
    attrs: dict[str, Any] = {
        "projdef": grid.proj4,
        "xsize": int(grid.x.size),
        "ysize": int(grid.y.size),
        "xscale": float(dx),
        "yscale": float(dy),
    }
    for index, name in enumerate(corners):
        attrs[f"{name}_lon"] = float(lon[index])
        attrs[f"{name}_lat"] = float(lat[index])
    if write_ul:
        attrs["UL_x"], attrs["UL_y"] = float(left), float(top)
    return attrs


def write_odim(
    path: Path,
    rate_mm_h: np.ndarray,
    time: np.datetime64 | Sequence[np.datetime64],
    grid: Grid,
    *,
    quantity: str = "RATE",
    gain: float | None = 0.01,
    offset: float | None = 0.0,
    nodata: float | None = 65535,
    undetect: float | None = 0,
    dtype: Any = np.uint16,
    what_location: str = "data",
    interval_s: int = 300,
    write_ul: bool = True,
    source: str = "ORG:nowcast,NOD:synthetic",
    zr_a: float = DEFAULT_A,
    zr_b: float = DEFAULT_B,
) -> None:
    """Write rain rates as an ODIM_H5 v2.2 ``COMP`` file.

    Args:
        path: Output ``.h5`` file (overwritten).
        rate_mm_h: Rain rate in mm h-1, ``(ny, nx)`` for one dataset or
            ``(n, ny, nx)`` for ``dataset1..n``; NaN = no coverage (stored as
            ``nodata``), 0 = no echo (stored as ``undetect`` when given).
        time: Nominal (end) time, or one per dataset for 3-D input; ``/what``
            gets the last one.
        grid: North-up projected grid with ``proj4`` (x increasing, y decreasing).
        quantity: ``RATE`` (mm h-1), ``ACRR`` (mm over ``interval_s``) or
            ``DBZH``/``TH``/``DBZ`` (dBZ via Z-R with ``zr_a``, ``zr_b``).
        gain: ODIM ``gain``; ``None`` leaves the attribute out (reader default 1).
        offset: ODIM ``offset``; ``None`` leaves it out (reader default 0).
        nodata: Code for NaN; ``None`` leaves it out (float data keeps NaN).
        undetect: Code for 0 mm h-1; ``None`` leaves it out.
        dtype: Stored type (``uint16``, ``uint8``, ``float32`` ...).
        what_location: Where quantity/gain/offset/nodata/undetect go:
            ``"data"`` (``dataset1/data1/what``), ``"dataset"`` (``datasetN/what``)
            or ``"root"`` (``/what``).
        interval_s: Window length: ``datasetN/what`` start = time - interval_s,
            end = time; also the ACRR accumulation period.
        write_ul: Write ``/where`` ``UL_x``/``UL_y`` (else only corner lon/lat).
        source: ``/what/source``.
        zr_a: ``a`` of ``Z = a R^b`` for reflectivity quantities.
        zr_b: ``b`` of ``Z = a R^b``.

    Raises:
        ValueError: for an unknown quantity/location, a grid that is not north-up,
            or values that the chosen encoding cannot store.
    """
    quantity = quantity.upper()
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r} (known: {', '.join(QUANTITIES)})")
    if what_location not in WHAT_LOCATIONS:
        raise ValueError(f"what_location must be one of {WHAT_LOCATIONS}, got {what_location!r}")
    rates = np.asarray(rate_mm_h, dtype=np.float64)
    rates = rates[np.newaxis] if rates.ndim == 2 else rates
    times = np.atleast_1d(np.asarray(time, dtype="datetime64[s]"))
    if rates.ndim != 3 or rates.shape[1:] != grid.shape or times.size != rates.shape[0]:
        raise ValueError(
            f"rates {rates.shape} do not match grid {grid.shape} and {times.size} times"
        )
    codes = {"gain": gain, "offset": offset, "nodata": nodata, "undetect": undetect}
    what = {"quantity": quantity, **{k: v for k, v in codes.items() if v is not None}}
    date, clock = _date_time(times[-1])
    with h5py.File(path, "w") as h5:
        _set_str(h5, "Conventions", "ODIM_H5/V2_2")
        root_what = {"object": "COMP", "version": "H5rad 2.2", "date": date, "time": clock}
        _set_attrs(h5.create_group("what"), {**root_what, "source": source})
        _set_attrs(h5.create_group("where"), _where_attrs(grid, write_ul))
        _set_attrs(h5.create_group("how"), {"software": "nowcast"})
        if what_location == "root":
            _set_attrs(h5["what"], what)
        for index, (rate, end) in enumerate(zip(rates, times, strict=True), start=1):
            data = _encode(rate, quantity, codes, np.dtype(dtype), interval_s, (zr_a, zr_b))
            _write_dataset(h5, index, data, end, quantity, interval_s, what, what_location)


def _write_dataset(
    h5: h5py.File,
    index: int,
    data: np.ndarray,
    end: np.datetime64,
    quantity: str,
    interval_s: int,
    what: dict[str, Any],
    what_location: str,
) -> None:
    """``datasetN/what`` (window), ``datasetN/data1/what`` and the compressed image."""
    start_date, start_time = _date_time(end - np.timedelta64(interval_s, "s"))
    end_date, end_time = _date_time(end)
    ds_what = {
        "product": "RR" if quantity == "ACRR" else "SURF",
        "startdate": start_date,
        "starttime": start_time,
        "enddate": end_date,
        "endtime": end_time,
    }
    group = h5.create_group(f"dataset{index}")
    _set_attrs(group.create_group("what"), ds_what)
    data_group = group.create_group("data1")
    if what_location == "dataset":
        _set_attrs(group["what"], what)
    elif what_location == "data":
        _set_attrs(data_group.create_group("what"), what)
    image = data_group.create_dataset("data", data=data, compression="gzip", compression_opts=6)
    _set_str(image, "CLASS", "IMAGE")
    _set_str(image, "IMAGE_VERSION", "1.2")
