"""CF NetCDF reader: synthetic files for each rule, then every real BOM file."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pytest

from nowcast.errors import InputError
from nowcast.io.grid import Frame
from nowcast.io.projection import latlon, north_up_grid, unproject
from nowcast.io.readers.cf.reader import CfNetcdfReader, depth_factor, length_factor, rate_factor
from nowcast.io.readers.odim import OdimReader
from nowcast.io.readers.registry import ReaderOptions, detect_reader
from nowcast.synthetic.odim_write import write_odim
from tests.helpers import frame_stats

T0 = np.datetime64("2024-06-01T12:00:00", "s")
EPOCH = np.datetime64("1970-01-01T00:00:00", "s")
LAEA = {
    "grid_mapping_name": "lambert_azimuthal_equal_area",
    "latitude_of_projection_origin": 55.0,
    "longitude_of_projection_origin": 10.0,
    "false_easting": 1950000.0,
    "false_northing": -2100000.0,
    "semi_major_axis": 6378137.0,
    "inverse_flattening": 298.257223563,
    "long_name": "coordinate reference system",
}
X_M = 2_000_500.0 + 1000.0 * np.arange(5)
Y_M = -1_000_500.0 - 1000.0 * np.arange(4)
RATES = np.array([[0.0, 0.5, 1.0, 12.25, np.nan], [2.0, 0.0, np.nan, 5.0, 80.0]] * 2)


def seconds(times: Any) -> np.ndarray:
    return ((np.asarray(times, "datetime64[s]") - EPOCH) / np.timedelta64(1, "s")).astype("i8")


def write_cf(
    path: Path,
    data: np.ndarray,
    *,
    attrs: dict[str, Any] | None = None,
    times: Any = (T0,),
    time_dim: bool = True,
    xy_scale: float = 1.0,
    xy_units: str = "m",
    dims: tuple[str, str] = ("y", "x"),
    dtype: str = "f4",
    fill: Any = None,
    edit: Callable[[netCDF4.Dataset], None] | None = None,
    fmt: str = "NETCDF4",
    name: str = "field",
    packed: bool = False,
) -> None:
    """Write ``data`` ((time,) y, x) as a CF file with an LAEA grid mapping.

    ``attrs`` values of None remove the default attribute; ``packed`` writes
    ``data`` as stored values (no automatic scaling or masking).
    """
    var_attrs = {"standard_name": "rainfall_rate", "units": "mm h-1", "grid_mapping": "crs"}
    var_attrs.update(attrs or {})
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        ds.Conventions = "CF-1.11"
        ds.createDimension("x", X_M.size)
        ds.createDimension("y", Y_M.size)
        for axis, values, std in (("x", X_M, "projection_x"), ("y", Y_M, "projection_y")):
            var = ds.createVariable(axis, "f8", (axis,))
            var[:] = values / xy_scale
            var.standard_name = f"{std}_coordinate"
            var.units = xy_units
        crs = ds.createVariable("crs", "i4")
        crs.setncatts(LAEA)
        tvals = seconds(times)
        if time_dim:
            ds.createDimension("time", tvals.size)
            tvar = ds.createVariable("time", "i8", ("time",))
        else:
            tvar = ds.createVariable("time", "i8")
        tvar[:] = tvals if time_dim else tvals[0]
        tvar.standard_name = "time"
        tvar.units = "seconds since 1970-01-01 00:00:00"
        var_dims = (("time",) if time_dim else ()) + dims
        var = ds.createVariable(name, dtype, var_dims, fill_value=fill)
        for key, value in var_attrs.items():
            if value is not None:
                var.setncattr(key, value)
        values = data if time_dim else data[0]
        if dims == ("x", "y"):
            values = np.swapaxes(values, -1, -2)
        if packed:
            var.set_auto_maskandscale(False)
            var[:] = values
        else:
            var[:] = np.ma.masked_invalid(values)
        if edit is not None:
            edit(ds)


def read(path: Path, options: ReaderOptions | None = None) -> list[Frame]:
    return list(CfNetcdfReader(options).frames(path))


def read_one(path: Path, options: ReaderOptions | None = None) -> Frame:
    frames = read(path, options)
    assert len(frames) == 1
    return frames[0]


def assert_one_line(exc: pytest.ExceptionInfo[InputError], path: Path) -> None:
    assert str(exc.value).startswith(f"{path}: ") and "\n" not in str(exc.value)


# --- units ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "factor"),
    [
        ("mm h-1", 1.0),
        ("mm/h", 1.0),
        ("mm hr-1", 1.0),
        ("mm.h-1", 1.0),
        ("m s-1", 3.6e6),
        ("m/s", 3.6e6),
        ("mm s-1", 3600.0),
        ("kg m-2 s-1", 3600.0),
        ("kg/m2/s", 3600.0),
        ("kg m**-2 s**-1", 3600.0),
        ("mm/min", 60.0),
        ("mm day-1", 1 / 24),
    ],
)
def test_rate_units(units: str, factor: float) -> None:
    assert rate_factor(units) == pytest.approx(factor, rel=1e-12)


@pytest.mark.parametrize(
    ("units", "factor"),
    [("mm", 1.0), ("m", 1000.0), ("kg m-2", 1.0), ("kg/m^2", 1.0), ("cm", 10.0)],
)
def test_depth_units(units: str, factor: float) -> None:
    assert depth_factor(units) == pytest.approx(factor, rel=1e-12)


def test_bad_units() -> None:
    with pytest.raises(ValueError, match="not a precipitation rate"):
        rate_factor("mm")
    with pytest.raises(ValueError, match="not a precipitation amount"):
        depth_factor("mm/h")
    with pytest.raises(ValueError, match="unknown units"):
        rate_factor("furlongs per fortnight")
    assert length_factor("km") == 1000.0 and length_factor("metres") == 1.0


# --- values and grid --------------------------------------------------------------------


def test_rate_frames_values_times_and_grid(tmp_path: Path) -> None:
    path = tmp_path / "rate.nc"
    times = T0 + np.arange(3) * np.timedelta64(300, "s")
    write_cf(path, np.stack([RATES, RATES * 2, RATES * 3]), times=times)
    frames = read(path)
    assert [f.time for f in frames] == list(times)
    assert frames[0].time.dtype == np.dtype("datetime64[s]")
    for k, frame in enumerate(frames, start=1):
        np.testing.assert_allclose(frame.values, RATES * k, rtol=1e-6)
        assert frame.values.dtype == np.float32 and frame.variable == "rainfall_rate"
        assert frame.bounds is None
    grid = frames[0].grid
    np.testing.assert_array_equal(grid.x, X_M)
    np.testing.assert_array_equal(grid.y, Y_M)
    assert grid.crs is not None and "long_name" not in grid.crs
    assert grid.crs["grid_mapping_name"] == "lambert_azimuthal_equal_area"
    assert grid.crs["crs_wkt"].startswith("PROJCRS")
    expected = north_up_grid(
        "+proj=laea +lat_0=55 +lon_0=10 +x_0=1950000 +y_0=-2100000 +ellps=WGS84 +units=m",
        2_000_000.0,
        -1_000_000.0,
        1000.0,
        1000.0,
        5,
        4,
    )
    for ours, theirs in zip(latlon(grid), latlon(expected), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_km_coordinates_become_metres(tmp_path: Path) -> None:
    path = tmp_path / "km.nc"
    write_cf(path, RATES[None], xy_scale=1000.0, xy_units="km")
    grid = read_one(path).grid
    np.testing.assert_allclose(grid.x, X_M)
    np.testing.assert_allclose(grid.y, Y_M)


def test_packed_integers_with_fill_and_missing_value(tmp_path: Path) -> None:
    path = tmp_path / "packed.nc"
    packed = np.where(np.isnan(RATES), -32768, np.round(RATES / 0.05)).astype("i2")
    packed[0, 0] = -1  # declared missing_value
    write_cf(
        path,
        packed[None],
        dtype="i2",
        fill=np.int16(-32768),
        packed=True,
        attrs={"scale_factor": 0.05, "add_offset": 0.0, "missing_value": np.int16(-1)},
    )
    values = read_one(path).values
    expected = np.where(np.isnan(RATES), np.nan, packed * 0.05)
    expected[0, 0] = np.nan
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    np.testing.assert_array_equal(np.isnan(values), np.isnan(expected))


def test_si_rate_units_are_converted(tmp_path: Path) -> None:
    path = tmp_path / "si.nc"
    write_cf(path, RATES[None] / 3.6e6, attrs={"units": "m s-1"}, dtype="f8")
    np.testing.assert_allclose(read_one(path).values, RATES, rtol=1e-6)
    flux = tmp_path / "flux.nc"
    write_cf(
        flux,
        RATES[None] / 3600.0,
        attrs={"standard_name": "lwe_precipitation_rate", "units": "kg m-2 s-1"},
        dtype="f8",
    )
    np.testing.assert_allclose(read_one(flux).values, RATES, rtol=1e-6)


def test_negative_values_are_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "negative.nc"
    data = RATES.copy()
    data[1, 1] = -0.5
    write_cf(path, data[None])
    assert read_one(path).values[1, 1] == -0.5


def test_transposed_dimensions(tmp_path: Path) -> None:
    path = tmp_path / "xy.nc"
    write_cf(path, RATES[None], dims=("x", "y"))
    frame = read_one(path)
    assert frame.values.shape == (4, 5)
    np.testing.assert_allclose(frame.values, RATES, rtol=1e-6)


def test_scalar_time_and_fallback_name(tmp_path: Path) -> None:
    path = tmp_path / "scalar.nc"
    write_cf(
        path,
        RATES[None],
        time_dim=False,
        name="precip_intensity",
        attrs={"units": "mm/h", "standard_name": None},
    )
    frame = read_one(path)
    assert frame.time == T0 and frame.extra["cf_variable"] == "precip_intensity"
    np.testing.assert_allclose(frame.values, RATES, rtol=1e-6)


def test_reflectivity_via_zr(tmp_path: Path) -> None:
    path = tmp_path / "dbz.nc"
    dbz = np.array([[10.0, 23.0103, 40.0, np.nan, 55.0]] * 4)
    write_cf(
        path, dbz[None], attrs={"standard_name": "equivalent_reflectivity_factor", "units": "dBZ"}
    )
    values = read_one(path).values
    np.testing.assert_allclose(
        values[0, :3], [(10 / 200) ** (1 / 1.6), 1.0, (1e4 / 200) ** (1 / 1.6)], rtol=1e-4
    )
    assert np.isnan(values[0, 3])
    other = read_one(path, ReaderOptions(zr_a=300.0, zr_b=1.5)).values
    assert other[0, 2] == pytest.approx((1e4 / 300) ** (1 / 1.5), rel=1e-5)


def test_rate_is_preferred_over_reflectivity(tmp_path: Path) -> None:
    path = tmp_path / "both.nc"

    def add_dbz(ds: netCDF4.Dataset) -> None:
        dbz = ds.createVariable("dbz", "f4", ("time", "y", "x"))
        dbz.standard_name = "equivalent_reflectivity_factor"
        dbz.units = "dBZ"
        dbz.grid_mapping = "crs"

    write_cf(path, RATES[None], edit=add_dbz, name="zz_rate")
    assert read_one(path).extra == {"quantity": "rainfall_rate", "cf_variable": "zz_rate"}


# --- accumulations ------------------------------------------------------------------------


def test_amount_with_start_time_variable(tmp_path: Path) -> None:
    path = tmp_path / "bom_like.nc"

    def add_start(ds: netCDF4.Dataset) -> None:
        start = ds.createVariable("start_time", "i8")
        start[...] = seconds([T0 - np.timedelta64(360, "s")])[0]
        start.units = "seconds since 1970-01-01 00:00:00 UTC"

    depth = RATES * 360 / 3600  # 6-minute depth in kg m-2
    write_cf(
        path,
        depth[None],
        time_dim=False,
        edit=add_start,
        attrs={"standard_name": "precipitation_amount", "units": "kg m-2"},
    )
    frame = read_one(path)
    np.testing.assert_allclose(frame.values, RATES, rtol=1e-6)
    assert frame.bounds == (T0 - np.timedelta64(360, "s"), T0)


def test_amount_with_time_bounds(tmp_path: Path) -> None:
    path = tmp_path / "bounds.nc"
    times = T0 + np.arange(2) * np.timedelta64(600, "s")

    def add_bounds(ds: netCDF4.Dataset) -> None:
        ds.createDimension("nv", 2)
        bnds = ds.createVariable("time_bnds", "i8", ("time", "nv"))
        bnds[:] = np.stack([seconds(times - np.timedelta64(600, "s")), seconds(times)], axis=1)
        ds["time"].bounds = "time_bnds"

    depth = np.stack([RATES, RATES * 2]) / 6000.0  # metres in 10 minutes
    write_cf(
        path,
        depth,
        times=times,
        dtype="f8",
        edit=add_bounds,
        attrs={"standard_name": "lwe_thickness_of_precipitation_amount", "units": "m"},
    )
    frames = read(path)
    np.testing.assert_allclose(frames[1].values, RATES * 2, rtol=1e-6)
    assert frames[1].bounds == (times[1] - np.timedelta64(600, "s"), times[1])


def test_rate_time_bounds_are_kept_as_stored(tmp_path: Path) -> None:
    # ODIM scan windows end before the nominal time: both edges must survive a round trip.
    path = tmp_path / "rate_bounds.nc"
    start, end = T0 - np.timedelta64(52, "s"), T0 - np.timedelta64(33, "s")

    def add_bounds(ds: netCDF4.Dataset) -> None:
        ds.createDimension("nv", 2)
        ds.createVariable("time_bnds", "i8", ("time", "nv"))[:] = seconds([[start, end]])
        ds["time"].bounds = "time_bnds"

    write_cf(path, RATES[None], edit=add_bounds)
    frame = read_one(path)
    assert frame.time == T0 and frame.bounds == (start, end)


def test_amount_with_cell_methods_interval(tmp_path: Path) -> None:
    path = tmp_path / "cell_methods.nc"
    write_cf(
        path,
        RATES[None] / 12.0,
        attrs={
            "standard_name": "thickness_of_rainfall_amount",
            "units": "mm",
            "cell_methods": "time: sum (interval: 5 minutes)",
        },
    )
    frame = read_one(path)
    np.testing.assert_allclose(frame.values, RATES, rtol=1e-6)
    assert frame.bounds == (T0 - np.timedelta64(300, "s"), T0)


def test_amount_without_period_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "no_period.nc"
    write_cf(path, RATES[None], attrs={"standard_name": "precipitation_amount", "units": "mm"})
    with pytest.raises(InputError, match="has no accumulation period") as exc:
        read(path)
    assert_one_line(exc, path)


# --- errors and sniffing ---------------------------------------------------------------


def test_latlon_grid_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "latlon.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("lat", 3)
        ds.createDimension("lon", 4)
        for name, units in (("lat", "degrees_north"), ("lon", "degrees_east")):
            var = ds.createVariable(name, "f4", (name,))
            var[:] = np.arange(len(ds.dimensions[name]))
            var.units = units
        time = ds.createVariable("time", "i8")
        time.units = "seconds since 1970-01-01"
        time.standard_name = "time"
        rain = ds.createVariable("rain", "f4", ("lat", "lon"))
        rain.standard_name = "rainfall_rate"
        rain.units = "mm h-1"
        rain[:] = np.zeros((3, 4))
    assert CfNetcdfReader().can_open(path)
    with pytest.raises(InputError, match="lat/lon grids are not supported") as exc:
        read(path)
    assert_one_line(exc, path)


def test_no_precipitation_variable_names_what_was_found(tmp_path: Path) -> None:
    path = tmp_path / "temperature.nc"
    write_cf(path, RATES[None], attrs={"standard_name": "air_temperature", "units": "K"})
    assert not CfNetcdfReader().can_open(path)
    with pytest.raises(
        InputError, match=r"no precipitation variable .*found: x, y, crs, time, field"
    ) as exc:
        read(path)
    assert_one_line(exc, path)


def test_missing_grid_mapping_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "no_crs.nc"
    write_cf(path, RATES[None], attrs={"grid_mapping": None})
    with pytest.raises(InputError, match="has no grid_mapping"):
        read(path)


def test_extended_grid_mapping_syntax(tmp_path: Path) -> None:
    path = tmp_path / "extended.nc"
    write_cf(path, RATES[None], attrs={"grid_mapping": "crs: x y"})
    assert read_one(path).grid.crs["grid_mapping_name"] == "lambert_azimuthal_equal_area"


def test_truncated_and_text_files(tmp_path: Path) -> None:
    path = tmp_path / "cut.nc"
    write_cf(path, RATES[None])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert not CfNetcdfReader().can_open(path)
    with pytest.raises(InputError) as exc:
        read(path)
    assert_one_line(exc, path)
    text = tmp_path / "radar.nc"
    text.write_text("CDF? no, just text\n")
    assert not CfNetcdfReader().can_open(text)
    with pytest.raises(InputError, match="not a NetCDF file") as exc:
        read(text)
    assert_one_line(exc, text)


def test_can_open(tmp_path: Path) -> None:
    path = tmp_path / "ok.nc"
    write_cf(path, RATES[None])
    assert CfNetcdfReader().can_open(path)
    assert not OdimReader().can_open(path)
    assert detect_reader(path).name == "cf"
    classic = tmp_path / "classic.nc"
    write_cf(classic, RATES[None], fmt="NETCDF3_64BIT_DATA")
    assert classic.read_bytes()[:4] == b"CDF\x05"
    assert CfNetcdfReader().can_open(classic)
    odim = tmp_path / "odim.h5"
    write_odim(
        odim,
        RATES,
        T0,
        north_up_grid(
            "+proj=laea +lat_0=55 +lon_0=10 +ellps=WGS84 +units=m", 0.0, 0.0, 1000.0, 1000.0, 5, 4
        ),
    )
    assert not CfNetcdfReader().can_open(odim)
    assert not CfNetcdfReader().can_open(tmp_path / "absent.nc")
    assert not CfNetcdfReader().can_open(tmp_path)


# --- real data: BOM Rainfields prcp-cscn -----------------------------------------------

BOM_NAME = re.compile(r"2_(\d{8})_(\d{6})\.prcp-cscn\.nc")


@pytest.fixture(scope="module")
def bom(bom_dir: Path) -> dict[str, Any]:
    """Read every BOM file once: per-file statistics and the first frame."""
    files = sorted(bom_dir.glob("*.nc"))
    reader = CfNetcdfReader()
    stats = []
    first = None
    for path in files:
        (frame,) = reader.frames(path)
        first = first or frame
        stats.append(frame_stats(frame, path.name))
    return {"files": files, "stats": stats, "first": first}


@pytest.mark.realdata
def test_bom_every_file_shape_time_window_and_nan(bom: dict[str, Any]) -> None:
    stats = bom["stats"]
    assert len(stats) == 61
    for s in stats:
        assert s["shape"] == (512, 512)
        date, clock = BOM_NAME.fullmatch(s["name"]).groups()  # type: ignore[union-attr]
        assert str(s["time"]).replace("-", "").replace(":", "") == f"{date}T{clock}"
        assert s["bounds"] == (s["time"] - np.timedelta64(360, "s"), s["time"])
        assert s["nan"] == 0.0 and s["min"] == 0.0
        assert 0.102 <= round(s["wet"], 3) <= 0.502
        assert s["grid"].same_as(stats[0]["grid"])
    times = np.array([s["time"] for s in stats])
    assert times[0] == np.datetime64("2018-06-16T10:00:00")
    assert times[-1] == np.datetime64("2018-06-16T16:00:00")
    assert np.all(np.diff(times) == np.timedelta64(360, "s"))


@pytest.mark.realdata
def test_bom_maximum_over_all_files(bom: dict[str, Any]) -> None:
    best = max(bom["stats"], key=lambda s: s["max"])
    assert best["max"] == pytest.approx(53.0, abs=1e-4)
    assert best["name"].startswith("2_20180616_100600")


@pytest.mark.realdata
def test_bom_first_file(bom: dict[str, Any]) -> None:
    first = bom["stats"][0]
    assert first["max"] == pytest.approx(32.0, abs=1e-4)
    assert first["wet"] == pytest.approx(0.1039, abs=5e-5)
    # 0.05 mm per 6 minutes: every rate is a multiple of 0.5 mm/h.
    values = bom["first"].values
    np.testing.assert_allclose(values * 2, np.round(values * 2), atol=1e-4)


@pytest.mark.realdata
def test_bom_grid_and_projection(bom: dict[str, Any]) -> None:
    grid = bom["first"].grid
    # The file's coordinate values are taken as cell centres (CF): -128 .. 127.5 km in x,
    # 128 .. -127.5 km in y (north up), 0.5 km apart.
    assert grid.spacing == (500.0, 500.0)
    assert (grid.x[0], grid.x[-1]) == (-128_000.0, 127_500.0)
    assert (grid.y[0], grid.y[-1]) == (128_000.0, -127_500.0)
    assert grid.crs["grid_mapping_name"] == "albers_conical_equal_area"
    assert grid.crs["standard_parallel"] == [-18.0, -36.0]
    lon, lat = unproject(
        grid.proj4, np.array([0.0, -128_000.0, 128_000.0]), np.array([0.0, 128_000.0, -128_000.0])
    )
    np.testing.assert_allclose(lon, [144.752, 143.323, 146.214], atol=1e-3)
    np.testing.assert_allclose(lat, [-37.852, -36.687, -39.008], atol=1e-3)
    lat2d, lon2d = latlon(grid)
    assert lat2d[256, 256] == pytest.approx(-37.852, abs=1e-4)  # x = y = 0
    assert lon2d[256, 256] == pytest.approx(144.752, abs=1e-4)
    assert lon2d[0, 0] == pytest.approx(143.323, abs=1e-3)
    assert lat2d[0, 0] == pytest.approx(-36.687, abs=1e-3)


@pytest.mark.realdata
def test_bom_sniffing(bom: dict[str, Any]) -> None:
    path = bom["files"][0]
    assert CfNetcdfReader().can_open(path)
    assert not OdimReader().can_open(path)
    assert detect_reader(path).name == "cf"


@pytest.mark.parametrize(
    ("dtype", "fill", "attrs"),
    [
        ("i2", np.int16(-32768), {"scale_factor": np.float32(0.05), "missing_value": np.int16(-1)}),
        ("i2", np.int16(0), {"valid_range": np.array([1, 900], "i2"), "add_offset": 0.5}),
        ("u1", np.uint8(255), {"scale_factor": 0.5, "add_offset": -32.0, "valid_min": np.uint8(2)}),
        ("i1", np.int8(-128), {}),
    ],
)
def test_integer_lookup_table_gives_netcdf4s_own_decoding(
    tmp_path: Path, dtype: str, fill: Any, attrs: dict
) -> None:
    """Stored integers decoded by table are what netCDF4's masked read gives, NaN included."""
    path = tmp_path / "packed.nc"
    info = np.iinfo(dtype)
    rng = np.random.default_rng(5)
    stored = rng.integers(info.min, info.max, size=(1, *RATES.shape), endpoint=True).astype(dtype)
    stored[0, 0, :4] = [fill, info.min, info.max, 1]
    write_cf(path, stored, dtype=dtype, fill=fill, packed=True, attrs={**attrs, "units": "mm/h"})
    with netCDF4.Dataset(path) as ds:
        read_back = ds["field"][0]
    expected = np.array(np.ma.getdata(read_back), dtype=np.float64)
    expected[np.ma.getmaskarray(read_back)] = np.nan
    values = read_one(path).values
    np.testing.assert_array_equal(values, expected.astype(np.float32))
    assert np.isnan(values[0, 0])
