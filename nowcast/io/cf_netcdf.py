"""CF NetCDF reader: rain rate, precipitation amount or reflectivity on a projected grid.

The field is found by ``standard_name`` (never by variable name, except for
the fallback names in :data:`nowcast.io.cf.FALLBACK_RATE_NAMES`):

* rates (``rainfall_rate``, ``lwe_precipitation_rate``): any speed unit or
  mass flux (``mm h-1``, ``m s-1``, ``kg m-2 s-1`` ...) -> mm h-1;
* amounts (``precipitation_amount``, ``thickness_of_rainfall_amount``,
  ``lwe_thickness_of_precipitation_amount`` ...): ``mm``, ``m`` or ``kg m-2``
  divided by the accumulation period, from time bounds, a ``start_time``
  variable or a ``cell_methods`` interval;
* ``equivalent_reflectivity_factor`` (dBZ): Z-R (:mod:`nowcast.io.zr`).

``scale_factor``/``add_offset``/``_FillValue``/``missing_value`` are honoured
(netCDF4 auto mask-and-scale); masked values become NaN. ``x``/``y`` must be
projection coordinates (m or km; the values are cell centres, as CF says) with
a ``grid_mapping``. One frame per time step (time dimension) or one frame for a
scalar time. See ``docs/data-formats.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

from nowcast.errors import InputError
from nowcast.io import cf
from nowcast.io.cache import SeriesCache
from nowcast.io.grid import Frame, Grid
from nowcast.io.odim import first_line, looks_like_hdf5
from nowcast.io.projection import grid_mapping_from_cf
from nowcast.io.readers import ReaderOptions
from nowcast.io.zr import dbz_to_rate

RATE, AMOUNT, DBZ = "rate", "amount", "dbz"
_KINDS = {
    **dict.fromkeys(cf.RATE_STANDARD_NAMES, RATE),
    **dict.fromkeys(cf.AMOUNT_STANDARD_NAMES, AMOUNT),
    **dict.fromkeys(cf.REFLECTIVITY_STANDARD_NAMES, DBZ),
}
_PREFERENCE = (RATE, AMOUNT, DBZ)
_NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
_LATLON_NAMES = ("latitude", "longitude", "grid_latitude", "grid_longitude")
_LATLON_UNITS = ("degrees_north", "degrees_east", "degree_north", "degree_east")

# --- units --------------------------------------------------------------------

#: unit symbol -> (factor to SI, exponents of (length, mass, time))
_UNITS: dict[str, tuple[float, tuple[int, int, int]]] = {
    **dict.fromkeys(("m", "meter", "meters", "metre", "metres"), (1.0, (1, 0, 0))),
    **dict.fromkeys(
        ("mm", "millimeter", "millimeters", "millimetre", "millimetres"), (1e-3, (1, 0, 0))
    ),
    **dict.fromkeys(
        ("cm", "centimeter", "centimeters", "centimetre", "centimetres"), (1e-2, (1, 0, 0))
    ),
    **dict.fromkeys(("km", "kilometer", "kilometers", "kilometre", "kilometres"), (1e3, (1, 0, 0))),
    **dict.fromkeys(("kg", "kilogram", "kilograms"), (1.0, (0, 1, 0))),
    **dict.fromkeys(("g", "gram", "grams"), (1e-3, (0, 1, 0))),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), (1.0, (0, 0, 1))),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), (60.0, (0, 0, 1))),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), (3600.0, (0, 0, 1))),
    **dict.fromkeys(("d", "day", "days"), (86400.0, (0, 0, 1))),
}
_UNIT_TOKEN = re.compile(r"([a-z]+)(-?\d+)?")
_WATER_DENSITY = 1000.0  # kg m-3: 1 kg m-2 of water is 1 mm deep


def parse_units(units: str) -> tuple[float, tuple[int, int, int]]:
    """Parse a UDUNITS-style product of powers, e.g. ``kg m-2 s-1``, ``mm/h``, ``m.s^-1``.

    Returns:
        ``(factor, (length, mass, time))``: multiply a value by ``factor`` to
        get SI (m, kg, s) with those exponents.

    Raises:
        ValueError: for unknown symbols or syntax.
    """
    text = units.strip().lower().replace("**", "").replace("^", "")
    if not text:
        raise ValueError("empty units")
    factor, dims = 1.0, [0, 0, 0]
    for index, part in enumerate(text.split("/")):
        sign = 1 if index == 0 else -1
        for token in re.split(r"[\s.*·]+", part.strip()):
            match = _UNIT_TOKEN.fullmatch(token)
            if match is None or match.group(1) not in _UNITS:
                raise ValueError(f"unknown units {units!r}")
            scale, unit_dims = _UNITS[match.group(1)]
            power = sign * int(match.group(2) or 1)
            factor *= scale**power
            dims = [d + power * u for d, u in zip(dims, unit_dims, strict=True)]
    return factor, (dims[0], dims[1], dims[2])


def rate_factor(units: str) -> float:
    """Factor turning a rate in ``units`` (speed or water mass flux) into mm h-1."""
    factor, dims = parse_units(units)
    if dims == (1, 0, -1):
        return factor * 1000.0 * 3600.0
    if dims == (-2, 1, -1):
        return factor / _WATER_DENSITY * 1000.0 * 3600.0
    raise ValueError(f"units {units!r} are not a precipitation rate (e.g. mm h-1, m s-1)")


def depth_factor(units: str) -> float:
    """Factor turning a precipitation amount in ``units`` (depth or water mass per area) into mm."""
    factor, dims = parse_units(units)
    if dims == (1, 0, 0):
        return factor * 1000.0
    if dims == (-2, 1, 0):
        return factor / _WATER_DENSITY * 1000.0
    raise ValueError(f"units {units!r} are not a precipitation amount (e.g. mm, kg m-2)")


def length_factor(units: str) -> float:
    """Factor turning a coordinate in ``units`` (m, km ...) into metres."""
    factor, dims = parse_units(units)
    if dims != (1, 0, 0):
        raise ValueError(f"units {units!r} are not a length")
    return factor


# --- finding the field ------------------------------------------------------------


def _attr(var: Any, name: str, default: str = "") -> str:
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


def find_field(ds: netCDF4.Dataset) -> tuple[netCDF4.Variable, str] | None:
    """The precipitation variable and its kind (``rate``, ``amount``, ``dbz``), or None.

    Standard names win over fallback names; rates over amounts over reflectivity.
    """
    candidates: dict[str, netCDF4.Variable] = {}
    for var in ds.variables.values():
        kind = _KINDS.get(_attr(var, "standard_name"))
        if kind is not None and var.ndim >= 2 and kind not in candidates:
            candidates[kind] = var
    for kind in _PREFERENCE:
        if kind in candidates:
            return candidates[kind], kind
    for name in cf.FALLBACK_RATE_NAMES:
        var = ds.variables.get(name)
        if var is not None and var.ndim >= 2:
            kind = _kind_from_units(_attr(var, "units"))
            if kind is not None:
                return var, kind
    return None


# --- layout: which dimension is what -------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Roles of the data variable's dimensions."""

    x: str
    y: str
    time: str | None
    others: tuple[str, ...]


def _coord(ds: netCDF4.Dataset, dim: str) -> netCDF4.Variable | None:
    var = ds.variables.get(dim)
    return var if var is not None and var.dimensions == (dim,) else None


def _role(var: netCDF4.Variable | None) -> str:
    """x, y, time, latlon or other, from a coordinate variable's attributes."""
    if var is None:
        return "other"
    name, axis, units = _attr(var, "standard_name"), _attr(var, "axis").upper(), _attr(var, "units")
    if name == "projection_x_coordinate":
        return "x"
    if name == "projection_y_coordinate":
        return "y"
    if name in _LATLON_NAMES or units.lower() in _LATLON_UNITS:
        return "latlon"
    if name == "time" or axis == "T" or " since " in units.lower():
        return "time"
    if axis in ("X", "Y") and _is_length(units):
        return axis.lower()
    return "other"


def _is_length(units: str) -> bool:
    try:
        length_factor(units)
    except ValueError:
        return False
    return True


def _layout(ds: netCDF4.Dataset, var: netCDF4.Variable) -> _Layout:
    """Find the x, y and time dimensions of ``var``; reject lat/lon grids clearly."""
    roles: dict[str, list[str]] = {}
    for dim in var.dimensions:
        roles.setdefault(_role(_coord(ds, dim)), []).append(dim)
    if "x" not in roles or "y" not in roles:
        if "latlon" in roles or _names_latlon(ds, var):
            raise ValueError(
                f"variable {var.name!r} is on a latitude/longitude grid; lat/lon grids are "
                "not supported (regrid to projected x/y coordinates in metres first)"
            )
        raise ValueError(
            f"variable {var.name!r} has no projection x/y coordinate variables "
            "(standard_name projection_x_coordinate / projection_y_coordinate)"
        )
    others = tuple(roles.get("other", []) + roles.get("latlon", []) + roles.get("time", [])[1:])
    for dim in others:
        if len(ds.dimensions[dim]) != 1:
            raise ValueError(
                f"variable {var.name!r} has an extra dimension {dim!r} of size "
                f"{len(ds.dimensions[dim])} (only time, y and x may have size > 1)"
            )
    time = roles["time"][0] if "time" in roles else None
    return _Layout(x=roles["x"][0], y=roles["y"][0], time=time, others=others)


def _names_latlon(ds: netCDF4.Dataset, var: netCDF4.Variable) -> bool:
    """True when ``coordinates`` names latitude/longitude variables."""
    for name in _attr(var, "coordinates").split():
        aux = ds.variables.get(name)
        if aux is not None and _role(aux) == "latlon":
            return True
    return False


# --- grid ---------------------------------------------------------------------------


def _axis_values(var: netCDF4.Variable) -> np.ndarray:
    """Coordinate values in metres (no masking: coordinates have no missing data)."""
    var.set_auto_mask(False)
    values = np.asarray(var[:], dtype=np.float64) * length_factor(_attr(var, "units", "m") or "m")
    if values.size > 1 and not (np.all(np.diff(values) > 0) or np.all(np.diff(values) < 0)):
        raise ValueError(f"coordinate {var.name!r} is not strictly monotonic")
    return values


def _grid(ds: netCDF4.Dataset, var: netCDF4.Variable, layout: _Layout) -> Grid:
    """Grid from the x/y coordinate variables and the ``grid_mapping`` variable."""
    mapping = _attr(var, "grid_mapping").split()
    name = mapping[0].rstrip(":") if mapping else ""
    if not name or name not in ds.variables:
        raise ValueError(
            f"variable {var.name!r} has no grid_mapping (cannot place x/y on the Earth)"
        )
    gm = ds.variables[name]
    crs, proj4 = grid_mapping_from_cf({k: gm.getncattr(k) for k in gm.ncattrs()})
    x = _axis_values(ds.variables[layout.x])
    y = _axis_values(ds.variables[layout.y])
    return Grid(x=x, y=y, crs=crs, proj4=proj4)


# --- time ---------------------------------------------------------------------------


def _decode_time(var: netCDF4.Variable, values: Any, units: str | None = None) -> np.ndarray:
    """Numeric times -> ``datetime64[s]`` (UTC), using ``var``'s units and calendar."""
    units = units or _attr(var, "units")
    if " since " not in units.lower():
        raise ValueError(f"time variable {var.name!r} has no 'units since epoch' ({units!r})")
    data = np.ma.asarray(values)
    if np.ma.getmaskarray(data).any():
        raise ValueError(f"time variable {var.name!r} has missing values")
    dates = netCDF4.num2date(
        np.asarray(data, dtype=np.float64),
        units,
        _attr(var, "calendar", "standard") or "standard",
        only_use_cftime_datetimes=False,
        only_use_python_datetimes=True,
    )
    flat = [np.datetime64(d.replace(tzinfo=None), "s") for d in np.ravel(dates)]
    return np.array(flat, dtype="datetime64[s]").reshape(np.shape(data))


def _time_variable(ds: netCDF4.Dataset, var: netCDF4.Variable, layout: _Layout) -> Any:
    """The time coordinate: the time dimension's variable, else a scalar time variable."""
    if layout.time is not None:
        return ds.variables[layout.time]
    named = [ds.variables[n] for n in _attr(var, "coordinates").split() if n in ds.variables]
    scalars = [v for v in (*named, *ds.variables.values()) if v.size == 1]
    for test in (
        lambda v: _attr(v, "standard_name") == "time",
        lambda v: v.name in ("time", "valid_time") and " since " in _attr(v, "units"),
    ):
        found = next((v for v in scalars if test(v)), None)
        if found is not None:
            return found
    raise ValueError(f"no time coordinate for {var.name!r} (time dimension or scalar time)")


_INTERVAL = re.compile(r"time\s*:\s*\w+[^()]*\(\s*interval\s*:\s*([\d.eE+-]+)\s*([A-Za-z]+)")


def _windows(
    ds: netCDF4.Dataset, var: netCDF4.Variable, tvar: Any, times: np.ndarray
) -> np.ndarray | None:
    """Each frame's window ``(start, end)`` as ``datetime64[s]`` of shape ``(n, 2)``, or None.

    Looked for in order: the time variable's ``bounds`` (both edges as
    stored); a ``start_time`` variable (end = the frame time); a
    ``cell_methods`` ``time: ... (interval: N unit)`` (end = the frame time).
    """
    bounds_name = _attr(tvar, "bounds")
    if bounds_name in ds.variables:
        bvar = ds.variables[bounds_name]
        return _decode_time(tvar, bvar[:], _attr(bvar, "units") or None).reshape(-1, 2)
    start_var = ds.variables.get("start_time")
    if start_var is not None and start_var.size == times.size:
        starts = _decode_time(start_var, start_var[:]).reshape(-1)
        return np.stack([starts, times], axis=1)
    match = _INTERVAL.search(_attr(var, "cell_methods"))
    if match is not None:
        seconds = float(match.group(1)) * parse_units(match.group(2))[0]
        return np.stack([times - np.timedelta64(round(seconds), "s"), times], axis=1)
    return None


# --- reader -----------------------------------------------------------------------


class CfNetcdfReader:
    """CF-1.x NetCDF with a rain-rate, precipitation-amount or reflectivity variable."""

    name = "cf"
    description = "CF NetCDF (rain rate, precipitation amount or reflectivity on projected x/y)"

    def __init__(self, options: ReaderOptions | None = None) -> None:
        """Keep the options (Z-R coefficients for reflectivity variables)."""
        self.options = options or ReaderOptions()

    def can_open(self, path: Path) -> bool:
        """True for a NetCDF (3 or 4) file holding a recognisable precipitation variable."""
        try:
            if not _looks_like_netcdf(Path(path)):
                return False
            with netCDF4.Dataset(path, "r") as ds:
                return find_field(ds) is not None
        except Exception:  # noqa: BLE001 - sniffing must never raise
            return False

    def frames(self, path: Path) -> Iterator[Frame]:
        """Yield one rain-rate frame per time step.

        Raises:
            InputError: for unreadable files, files without a precipitation
                variable, lat/lon grids and missing grid/time information.
        """
        path = Path(path)
        if not _looks_like_netcdf(path):
            raise InputError(f"{path}: not a NetCDF file")
        try:
            with netCDF4.Dataset(path, "r") as ds:
                yield from self._frames(ds, path)
        except (OSError, RuntimeError) as exc:
            raise InputError(f"{path}: unreadable NetCDF file ({first_line(exc)})") from None

    def _frames(self, ds: netCDF4.Dataset, path: Path) -> Iterator[Frame]:
        found = find_field(ds)
        if found is None:
            names = ", ".join(ds.variables) or "none"
            raise InputError(
                f"{path}: no precipitation variable (standard_name rainfall_rate, "
                f"lwe_precipitation_rate, precipitation_amount ... or "
                f"equivalent_reflectivity_factor); variables found: {names}"
            )
        var, kind = found
        quantity = _attr(var, "standard_name") or var.name
        try:
            layout = _layout(ds, var)
            grid = _grid(ds, var, layout)
            tvar = _time_variable(ds, var, layout)
            times = _decode_time(tvar, tvar[:]).reshape(-1)
            windows = _windows(ds, var, tvar, times)
            scale = self._scale(var, kind, times, windows)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        for index, time in enumerate(times):
            values = self._values(var, layout, index, kind, scale)
            bounds = None if windows is None else (windows[index, 0], windows[index, 1])
            yield Frame(
                time=time,
                values=values,
                grid=grid,
                variable=cf.RAIN,
                source=str(path),
                bounds=bounds,
                extra={"quantity": quantity, "cf_variable": var.name},
            )

    def _scale(
        self, var: netCDF4.Variable, kind: str, times: np.ndarray, windows: np.ndarray | None
    ) -> np.ndarray:
        """Per-frame factor to mm h-1 (1 for reflectivity, converted after Z-R)."""
        units = _attr(var, "units")
        if kind == DBZ:
            if units and units.lower() != "dbz":
                raise ValueError(f"reflectivity {var.name!r} in {units!r}; only dBZ is supported")
            return np.ones(times.size)
        if not units:
            raise ValueError(f"variable {var.name!r} has no units")
        if kind == RATE:
            return np.full(times.size, rate_factor(units))
        if windows is None:
            raise ValueError(
                f"precipitation amount {var.name!r} has no accumulation period "
                "(need time bounds, a start_time variable or a cell_methods interval)"
            )
        seconds = (windows[:, 1] - windows[:, 0]) / np.timedelta64(1, "s")
        if np.any(seconds <= 0):
            raise ValueError(f"accumulation period of {var.name!r} is not positive")
        return depth_factor(units) * 3600.0 / seconds

    def _values(
        self, var: netCDF4.Variable, layout: _Layout, index: int, kind: str, scale: np.ndarray
    ) -> np.ndarray:
        """Read frame ``index`` as float32 mm h-1 (NaN for masked values), rows as stored.

        8/16-bit integer variables go through a lookup table of every stored
        code as netCDF4 itself decodes it (:func:`_decoded_codes`): the same
        values as decoding the frame, without masked-array arithmetic.
        """
        key = tuple(
            index if dim == layout.time else 0 if dim in layout.others else slice(None)
            for dim in var.dimensions
        )
        codes = _decoded_codes(var)
        if codes is None:
            data = _masked_as_nan(var[key])
        else:  # stored integers, turned into rates through the table below
            var.set_auto_maskandscale(False)
            try:
                data = np.asarray(var[key])
            finally:
                var.set_auto_maskandscale(True)
        if var.dimensions.index(layout.x) < var.dimensions.index(layout.y):
            data = data.T

        def to_rate(decoded: np.ndarray) -> np.ndarray:
            if kind == DBZ:
                decoded = dbz_to_rate(decoded, self.options.zr_a, self.options.zr_b)
                decoded = decoded.astype(np.float64)
            return (decoded * scale[index]).astype(np.float32)

        if codes is None:
            return to_rate(data)
        table = to_rate(codes)
        return table[data.astype(np.intp) - np.iinfo(data.dtype).min]


def _masked_as_nan(read: np.ndarray) -> np.ndarray:
    """A netCDF4 read (masked and scaled) as float64 with NaN where masked."""
    data = np.array(np.ma.getdata(read), dtype=np.float64)
    mask = np.ma.getmask(read)
    if mask is not np.ma.nomask:
        data[mask] = np.nan
    return data


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


def _decoded_codes(var: netCDF4.Variable) -> np.ndarray | None:
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
        return _masked_as_nan(var[:])


def _looks_like_netcdf(path: Path) -> bool:
    """NetCDF-3 magic or an HDF5 signature (NetCDF-4); never raises."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    return head in _NETCDF3_MAGIC or looks_like_hdf5(path)
