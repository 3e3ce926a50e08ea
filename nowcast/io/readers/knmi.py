"""KNMI HDF5 radar reader (the KNMI "hdftag" layout, e.g. ``RAD_NL25_RAP_5min``).

One image per file (``image1/image_data``), decoded as follows:

* physical value = the linear ``image1/calibration/calibration_formulas``
  (``GEO=<gain>*PV+<offset>``, spaces and other gains/offsets allowed);
* ``calibration_missing_data`` and ``calibration_out_of_image`` codes -> NaN;
* ``image1/image_geo_parameter`` names the quantity: an accumulation
  (``..._[MM]``) becomes mm h-1 = mm * 3600 / window seconds, with the window
  from ``overview/product_datetime_start``/``_end``; a rate (``[MM/H]``) is
  kept; a reflectivity (``[DBZ]``) goes through Z-R;
* time = ``product_datetime_end`` (treated as UTC), bounds = the window;
* grid: ``geographic`` ``geo_number_rows/columns``, ``geo_pixel_size_x/y``,
  ``geo_column_offset``/``geo_row_offset``; the cell of row ``i``, column
  ``j`` spans ``x = (j + col_offset) * size_x`` .. ``+ size_x`` and
  ``y = (i + row_offset) * size_y`` .. ``+ size_y`` (km for ``geo_dim_pixel``
  ``KM,KM``); projection from ``geographic/map_projection``
  ``projection_proj4_params`` rewritten to metres.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nowcast.errors import InputError
from nowcast.io import cf
from nowcast.io.grid import Frame, Grid
from nowcast.io.proj4 import metres_proj4
from nowcast.io.projection import north_up_grid
from nowcast.io.readers.hdf5 import (
    attr_float,
    attr_text,
    decode_elementwise,
    hdf5_errors,
    looks_like_hdf5,
)
from nowcast.io.readers.registry import ReaderOptions
from nowcast.io.readers.zr import dbz_to_rate

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}
_DATETIME = re.compile(
    r"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4});(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*"
)
_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_TERM = re.compile(rf"([+-]*)(?:({_NUMBER})\*PV|PV\*({_NUMBER})|(PV)|({_NUMBER}))")
_UNIT = re.compile(r"\[([^\]]*)\]")


def knmi_datetime(value: Any) -> np.datetime64:
    """``25-AUG-2010;23:55:00.000`` -> ``datetime64[s]`` (no time zone in the file: UTC).

    Months are matched in English whatever the locale (``strptime``'s ``%b``
    would follow the user's locale).
    """
    text = attr_text(value)
    match = _DATETIME.fullmatch(text)
    if match is None or match.group(2).upper() not in _MONTHS:
        raise ValueError(f"bad KNMI date/time {text!r} (expected DD-MON-YYYY;HH:MM:SS.fff)")
    day, mon, year, hour, minute, sec = match.groups()[:6]
    stamp = dt.datetime(int(year), _MONTHS[mon.upper()], int(day), int(hour), int(minute), int(sec))
    return np.datetime64(stamp, "s")


def parse_calibration(formula: str) -> tuple[float, float]:
    """Gain and offset of a linear KNMI calibration formula.

    Accepts ``GEO=0.01*PV+0.0``, ``GEO = 0.5 * PV - 32``, ``GEO=PV*0.5+-32.0``,
    ``GEO=PV`` and the like: a sum of terms ``c*PV``, ``PV*c``, ``PV`` and
    constants (signs may repeat, as in ``+-``).

    Returns:
        ``(gain, offset)`` with ``value = gain * PV + offset``.

    Raises:
        ValueError: when the formula is not linear in ``PV`` or has no ``PV`` term.
    """
    text = formula.replace(" ", "").upper()
    lhs, sep, rhs = text.partition("=")
    if not sep or not lhs or not rhs:
        raise ValueError(f"cannot parse calibration formula {formula!r}")
    gain, offset, pos = 0.0, 0.0, 0
    for match in _TERM.finditer(rhs):
        if match.start() != pos or match.end() == pos:
            break
        sign = -1.0 if match.group(1).count("-") % 2 else 1.0
        coef_a, coef_b, bare_pv, const = match.groups()[1:]
        if const is not None:
            offset += sign * float(const)
        elif bare_pv is not None:
            gain += sign
        else:
            gain += sign * float(coef_a or coef_b)
        pos = match.end()
    if pos != len(rhs) or gain == 0.0:
        raise ValueError(f"cannot parse calibration formula {formula!r} (expected GEO=a*PV+b)")
    return gain, offset


def _quantity(parameter: str) -> str:
    """``depth``, ``rate`` or ``dbz`` from ``image_geo_parameter`` (e.g. ``..._[MM]``)."""
    upper = parameter.upper()
    unit_match = _UNIT.search(upper)
    unit = unit_match.group(1).replace(" ", "") if unit_match else ""
    if unit == "DBZ" or "REFLECTIVITY" in upper:
        return "dbz"
    if unit in ("MM/H", "MM/HR", "MMH-1", "MM/HOUR") or "RATE" in upper or "INTENSITY" in upper:
        return "rate"
    if unit == "MM" or "ACCUMULATED" in upper:
        return "depth"
    raise ValueError(f"unsupported image_geo_parameter {parameter!r} (need mm, mm/h or dBZ)")


def _group(h5: h5py.File, name: str) -> Mapping[str, Any]:
    obj = h5.get(name)
    if not isinstance(obj, h5py.Group):
        raise ValueError(f"no {name} group")
    return obj.attrs


def _required(attrs: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in attrs:
        raise ValueError(f"no {where}/{key} attribute")
    return attrs[key]


def knmi_grid(geo: Mapping[str, Any], proj4_params: str) -> Grid:
    """The grid described by the ``geographic`` group attributes.

    Args:
        geo: Attributes of ``geographic``.
        proj4_params: ``geographic/map_projection/projection_proj4_params``.

    Returns:
        Cell-centre grid in metres (row 0 = north for a negative
        ``geo_pixel_size_y``), with ``proj4`` in metres.
    """
    rows = int(attr_float(_required(geo, "geo_number_rows", "geographic")))
    cols = int(attr_float(_required(geo, "geo_number_columns", "geographic")))
    size_x = attr_float(_required(geo, "geo_pixel_size_x", "geographic"))
    size_y = attr_float(_required(geo, "geo_pixel_size_y", "geographic"))
    col_offset = attr_float(geo.get("geo_column_offset", 0.0))
    row_offset = attr_float(geo.get("geo_row_offset", 0.0))
    unit = attr_text(geo.get("geo_dim_pixel", b"KM,KM")).upper().split(",")[0].strip()
    to_m = {"KM": 1000.0, "M": 1.0}.get(unit)
    if to_m is None:
        raise ValueError(f"unsupported geo_dim_pixel unit {unit!r} (KM or M)")
    ul_x = col_offset * size_x * to_m
    ul_y = row_offset * size_y * to_m
    return north_up_grid(
        metres_proj4(proj4_params), ul_x, ul_y, size_x * to_m, -size_y * to_m, cols, rows
    )


class KnmiReader:
    """KNMI HDF5 radar images (``image1/image_data`` + ``overview`` + ``geographic``)."""

    name = "knmi"
    description = "KNMI HDF5 radar image (accumulation, rate or reflectivity)"

    def __init__(self, options: ReaderOptions | None = None) -> None:
        """Keep the options (Z-R coefficients for reflectivity images)."""
        self.options = options or ReaderOptions()
        self._grids: dict[tuple[Any, ...], Grid] = {}

    def can_open(self, path: Path) -> bool:
        """True for HDF5 with ``image1/image_data``, ``overview`` times and ``geographic``."""
        if not looks_like_hdf5(path):
            return False
        try:
            with h5py.File(path, "r") as h5:
                overview = h5.get("overview")
                return (
                    isinstance(h5.get("image1/image_data"), h5py.Dataset)
                    and isinstance(h5.get("geographic"), h5py.Group)
                    and isinstance(overview, h5py.Group)
                    and "product_datetime_end" in overview.attrs
                )
        except Exception:
            return False

    def frames(self, path: Path) -> Iterator[Frame]:
        """Yield the file's single frame (mm h-1).

        Raises:
            InputError: for files that are not readable KNMI HDF5 images.
        """
        path = Path(path)
        if not looks_like_hdf5(path):
            raise InputError(f"{path}: not an HDF5 file (KNMI HDF5 expected)")
        with hdf5_errors(path), h5py.File(path, "r") as h5:
            try:
                frame = self._read(h5, path)
            except ValueError as exc:
                raise InputError(f"{path}: {exc}") from None
        yield frame

    def _read(self, h5: h5py.File, path: Path) -> Frame:
        """Decode the image, its time window and its grid."""
        if not isinstance(h5.get("image1/image_data"), h5py.Dataset):
            raise ValueError("no image1/image_data dataset (not a KNMI HDF5 image)")
        overview = _group(h5, "overview")
        start = knmi_datetime(_required(overview, "product_datetime_start", "overview"))
        end = knmi_datetime(_required(overview, "product_datetime_end", "overview"))
        image = _group(h5, "image1")
        cal = _group(h5, "image1/calibration")
        gain, offset = parse_calibration(
            attr_text(_required(cal, "calibration_formulas", "image1/calibration"))
        )
        parameter = attr_text(_required(image, "image_geo_parameter", "image1"))
        quantity = _quantity(parameter)
        raw = h5["image1/image_data"][()]
        if raw.ndim != 2:
            raise ValueError(f"image1/image_data is {raw.ndim}-D, expected 2-D")
        codes = [
            attr_float(cal[key])
            for key in ("calibration_missing_data", "calibration_out_of_image")
            if key in cal
        ]
        factor = 1.0
        if quantity == "depth":
            seconds = float((end - start) / np.timedelta64(1, "s"))
            if seconds <= 0:
                raise ValueError(f"accumulation window {start} - {end} is empty")
            factor = 3600.0 / seconds

        def decode(pixels: np.ndarray) -> np.ndarray:
            value = pixels.astype(np.float64) * gain + offset
            for code in codes:
                value[pixels == code] = np.nan
            if quantity == "depth":
                value *= factor
            elif quantity == "dbz":
                value = dbz_to_rate(value, self.options.zr_a, self.options.zr_b)
            return value.astype(np.float32)

        values = decode_elementwise(raw, decode)
        grid = self._grid(h5)
        if grid.shape != raw.shape:
            raise ValueError(f"geographic grid {grid.shape} does not match the image {raw.shape}")
        return Frame(
            time=end,
            values=values,
            grid=grid,
            variable=cf.RAIN,
            source=str(path),
            bounds=(start, end),
            extra={
                "quantity": parameter,
                "knmi_product": attr_text(overview.get("product_group_name", b"")),
            },
        )

    def _grid(self, h5: h5py.File) -> Grid:
        """The file's grid; identical grids are shared between files (one Grid object)."""
        geo = _group(h5, "geographic")
        proj = _group(h5, "geographic/map_projection")
        params = attr_text(_required(proj, "projection_proj4_params", "geographic/map_projection"))
        key = (params, *(repr(np.asarray(geo[k]).tolist()) for k in sorted(geo)))
        if key not in self._grids:
            self._grids[key] = knmi_grid(geo, params)
        return self._grids[key]
