"""Regenerate the bundled sample data, bit for bit, with the project's own code.

    python sample_data/make_samples.py

Writes ``sample_data/odim/*.h5`` (a synthetic rain sequence as raw ODIM_H5
composites, one file per 5-minute frame) and ``nowcast/sample/synthetic.nc``
(the same frames as a canonical NetCDF file, made by the ingest pipeline; the
package ships it as data, see ``nowcast.synthetic.sample``).
Nothing here is derived from real radar data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nowcast.io.ingest.pipeline import ingest
from nowcast.io.writers.chunks import exact_zlib
from nowcast.synthetic.generate import synthetic_frames
from nowcast.synthetic.odim_write import write_odim

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 72
SHAPE = (96, 96)
SEED = 7
TIMESTEP_S = 300
NAN_BORDER = 3  # a no-coverage rim, so the NaN path is exercised


def main(root: Path = ROOT) -> None:
    """Write the ODIM files, then ingest them into the canonical sample file, under ``root``."""
    odim_dir = root / "sample_data" / "odim"
    odim_dir.mkdir(parents=True, exist_ok=True)
    canonical = root / "nowcast" / "sample" / "synthetic.nc"
    canonical.parent.mkdir(parents=True, exist_ok=True)
    for old in odim_dir.glob("*.h5"):
        old.unlink()
    frames = synthetic_frames(
        FRAMES, SHAPE, seed=SEED, timestep_s=TIMESTEP_S, pixel_km=1.0, nan_border=NAN_BORDER
    )
    for frame in frames:
        stamp = str(frame.time).replace("-", "").replace(":", "").replace("T", "")
        rate = np.round(frame.values, 2)  # the ODIM gain of 0.01 mm/h
        path = odim_dir / f"SYN_{stamp}.h5"
        write_odim(path, rate, frame.time, frame.grid, interval_s=TIMESTEP_S)
    with exact_zlib():  # the same bytes with or without the optional isal deflate
        ingest(
            [str(odim_dir)],
            canonical,
            overwrite=True,
            history="sample_data/make_samples.py (nowcast synthetic generator, seed 7)",
        )


if __name__ == "__main__":
    main()
