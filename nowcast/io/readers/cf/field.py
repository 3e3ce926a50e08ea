"""Which variable of a CF NetCDF file is the precipitation field, and how its stored codes decode.

Kept apart from the reader class, which then holds only the reading loop: this
module knows the kinds of field (rate, amount, reflectivity) and how one is
found (by ``standard_name``, then the fallback names by their units), reads
the string attributes the other CF modules look at, and decodes 8/16-bit
integer fields through a cached table of every stored code.
"""

from __future__ import annotations

from typing import Any

import netCDF4
import numpy as np

from nowcast.io import cf
from nowcast.io.cache import SeriesCache
from nowcast.io.units import depth_factor, rate_factor

RATE, AMOUNT, DBZ = "rate", "amount", "dbz"
_KINDS = {
    **dict.fromkeys(cf.RATE_STANDARD_NAMES, RATE),
    **dict.fromkeys(cf.AMOUNT_STANDARD_NAMES, AMOUNT),
    **dict.fromkeys(cf.REFLECTIVITY_STANDARD_NAMES, DBZ),
}
_PREFERENCE = (RATE, AMOUNT, DBZ)

# --- finding the field ------------------------------------------------------------


def attr(var: Any, name: str, default: str = "") -> str:
    """String attribute ``name`` of ``var``, stripped; ``default`` when absent or not a string."""
    value = getattr(var, name, default)
    return value.strip() if isinstance(value, str) else default


def _kind_from_units(units: str) -> str | None:
    """Rate, amount or dBZ as told by units alone (for fallback-named variables)."""
    if units.lower() == "dbz":
        return DBZ
    for kind, check in ((RATE, rate_factor), (AMOUNT, depth_factor)):
        try:
            check(units)
        except ValueError:
            continue
        return kind
    return None


def find_field(ds: netCDF4.Dataset) -> tuple[netCDF4.Variable[Any], str] | None:
    """The precipitation variable and its kind (``rate``, ``amount``, ``dbz``), or None.

    Standard names win over fallback names; rates over amounts over reflectivity.
    """
    candidates: dict[str, netCDF4.Variable[Any]] = {}
    for var in ds.variables.values():
        kind = _KINDS.get(attr(var, "standard_name"))
        if kind is not None and var.ndim >= 2 and kind not in candidates:
            candidates[kind] = var
    for kind in _PREFERENCE:
        if kind in candidates:
            return candidates[kind], kind
    for name in cf.FALLBACK_RATE_NAMES:
        fallback = ds.variables.get(name)
        if fallback is not None and fallback.ndim >= 2:
            kind = _kind_from_units(attr(fallback, "units"))
            if kind is not None:
                return fallback, kind
    return None


# --- stored codes --------------------------------------------------------------


def masked_as_nan(read: np.ndarray) -> np.ndarray:
    """A netCDF4 read (masked and scaled) as float64 with NaN where masked."""
    data = np.array(np.ma.getdata(read), dtype=np.float64)
    mask = np.ma.getmask(read)
    if mask is not np.ma.nomask:
        data[mask] = np.nan
    return data


def check_packing(var: netCDF4.Variable[Any]) -> None:
    """Refuse ``scale_factor``/``add_offset`` that cannot decode data: non-finite, or a scale of 0.

    A ``scale_factor`` of 0 turns every stored value into ``add_offset``
    (one constant field), so such a file is refused rather than read.

    Raises:
        ValueError: naming the variable and the bad attribute.
    """
    names = var.ncattrs()
    scale, offset = (
        float(np.ravel(var.getncattr(key))[0]) if key in names else default
        for key, default in (("scale_factor", 1.0), ("add_offset", 0.0))
    )
    if not (np.isfinite(scale) and np.isfinite(offset)):
        raise ValueError(
            f"scale_factor {scale} and add_offset {offset} of {var.name!r} must be finite"
        )
    if scale == 0:
        raise ValueError(
            f"scale_factor 0 of {var.name!r} makes every value the add_offset {offset:g}"
        )


#: Attributes with which netCDF4 masks and scales stored values.
_DECODING_ATTRS = (
    "_FillValue",
    "missing_value",
    "valid_min",
    "valid_max",
    "valid_range",
    "scale_factor",
    "add_offset",
)


def decoded_codes(var: netCDF4.Variable[Any]) -> np.ndarray | None:
    """Every code of an 8/16-bit integer variable as netCDF4 reads it: float64, NaN = masked.

    Built once per set of decoding attributes by writing all codes into an
    in-memory variable with the same type and attributes and reading them
    back, so masking (``_FillValue``, ``missing_value``, valid range) and
    scaling follow netCDF4's own rules. None (decode frame by frame) for
    other types, for ``_Unsigned`` data and without a ``_FillValue``
    (netCDF4 then also looks at the variable's fill mode).
    """
    dtype = var.dtype
    names = var.ncattrs()
    if not (
        isinstance(dtype, np.dtype)
        and dtype.kind in "ui"
        and dtype.itemsize <= 2
        and "_FillValue" in names
        and "_Unsigned" not in names
    ):
        return None
    attrs = {k: var.getncattr(k) for k in _DECODING_ATTRS if k in names}
    key = (dtype.str, tuple((k, repr(v), str(np.asarray(v).dtype)) for k, v in attrs.items()))
    return _CODES.get(key, lambda: _decode_all_codes(dtype, attrs))


_CODES: SeriesCache[np.ndarray] = SeriesCache(limit=8)


def _decode_all_codes(dtype: np.dtype, attrs: dict[str, Any]) -> np.ndarray:
    info = np.iinfo(dtype)
    codes = np.arange(info.min, info.max + 1, dtype=dtype)
    fill = attrs.pop("_FillValue")
    with netCDF4.Dataset("codes.nc", "w", diskless=True, persist=False) as nc:
        nc.createDimension("code", codes.size)
        var = nc.createVariable("codes", dtype, ("code",), fill_value=fill)
        var.setncatts(attrs)
        var.set_auto_maskandscale(False)
        var[:] = codes
        var.set_auto_maskandscale(True)
        return masked_as_nan(var[:])
