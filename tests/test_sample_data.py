"""sample_data/ is what sample_data/make_samples.py writes, byte for byte."""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def test_make_samples_regenerates_the_committed_files_bit_for_bit(tmp_path: Path) -> None:
    script = tmp_path / "make_samples.py"
    shutil.copy(SAMPLE / "make_samples.py", script)  # it writes next to itself

    runpy.run_path(str(script), run_name="__main__")

    assert (tmp_path / "synthetic.nc").read_bytes() == (SAMPLE / "synthetic.nc").read_bytes()
    ours = sorted(p.name for p in (tmp_path / "odim").glob("*.h5"))
    assert ours == sorted(p.name for p in (SAMPLE / "odim").glob("*.h5")) and len(ours) == 72
    for name in ours:
        assert (tmp_path / "odim" / name).read_bytes() == (SAMPLE / "odim" / name).read_bytes()
