"""The bundled samples are what sample_data/make_samples.py writes, byte for byte."""

from __future__ import annotations

import fnmatch
import runpy
import sys
from pathlib import Path

from nowcast.synthetic.sample import SAMPLE_FILE, sample_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
ODIM = REPO / "sample_data" / "odim"


def test_make_samples_regenerates_the_committed_files_bit_for_bit(tmp_path: Path) -> None:
    script = runpy.run_path(str(REPO / "sample_data" / "make_samples.py"))

    script["main"](tmp_path)  # the same layout under another root

    canonical = tmp_path / "nowcast" / "sample" / "synthetic.nc"
    assert canonical.read_bytes() == SAMPLE_FILE.read_bytes()
    ours = sorted(p.name for p in (tmp_path / "sample_data" / "odim").glob("*.h5"))
    assert ours == sorted(p.name for p in ODIM.glob("*.h5")) and len(ours) == 72
    for name in ours:
        assert (tmp_path / "sample_data" / "odim" / name).read_bytes() == (ODIM / name).read_bytes()


def test_the_canonical_sample_is_package_data() -> None:
    # Shipped in wheels and installs, not only in source checkouts.
    assert sample_path() == REPO / "nowcast" / "sample" / "synthetic.nc"
    with open(REPO / "pyproject.toml", "rb") as handle:
        patterns = tomllib.load(handle)["tool"]["setuptools"]["package-data"]["nowcast"]
    assert any(fnmatch.fnmatch("sample/synthetic.nc", pattern) for pattern in patterns)
