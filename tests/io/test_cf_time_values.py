"""A CF time that cannot be decoded (NaN, infinite, beyond 64-bit seconds) is one InputError."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.errors import InputError
from tests.io.cf_files import RATES, assert_one_line, read, write_cf


def _float_time(value: float) -> Callable[[netCDF4.Dataset], None]:
    """An ``edit`` for :func:`write_cf`: the time coordinate as float64 holding ``value``."""

    def edit(ds: netCDF4.Dataset) -> None:
        ds.renameVariable("time", "stored_time")
        time = ds.createVariable("time", "f8", ("time",))
        time.setncatts({"standard_name": "time", "units": "seconds since 1970-01-01"})
        time[:] = [value]

    return edit


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.nan, "time variable 'time' has non-finite values (NaN or inf)"),
        (np.inf, "time variable 'time' has non-finite values (NaN or inf)"),
        (1e30, "time variable 'time' has values out of range"),
    ],
)
def test_an_undecodable_time_is_one_input_error(tmp_path: Path, value: float, message: str) -> None:
    path = tmp_path / "rain.nc"
    write_cf(path, RATES[None], edit=_float_time(value))
    with pytest.raises(InputError) as caught:
        read(path)
    assert_one_line(caught, path)
    assert str(caught.value) == f"{path}: {message}"


def test_ingest_of_a_nan_time_is_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "rain.nc"
    write_cf(path, RATES[None], edit=_float_time(np.nan))
    result = CliRunner().invoke(app, ["ingest", str(path), "-o", str(tmp_path / "out.nc")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {path}: time variable 'time' has non-finite values (NaN or inf)"]
