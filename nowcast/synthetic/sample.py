"""The bundled sample: a short synthetic radar sequence shipped inside the package.

``nowcast/sample/synthetic.nc`` is package data (``pyproject.toml``), so an
installed ``nowcast`` always has data to forecast from and score on: 72
canonical frames of 96 x 96 one-kilometre cells, every 5 minutes, made by
``sample_data/make_samples.py`` (seed 7 of :mod:`nowcast.synthetic.generate`).
No model of the project is trained on seed 7, so it is held-out data for them all.
"""

from __future__ import annotations

from pathlib import Path

from nowcast.errors import InputError

#: Where the bundled sample lives inside the installed package.
SAMPLE_FILE = Path(__file__).resolve().parents[1] / "sample" / "synthetic.nc"


def sample_path() -> Path:
    """The bundled sample's canonical NetCDF file (``rainfall_rate``, mm h-1).

    Raises:
        InputError: when the package was installed without its data files.
    """
    if not SAMPLE_FILE.is_file():
        raise InputError(f"the bundled sample is missing ({SAMPLE_FILE}); reinstall nowcast")
    return SAMPLE_FILE
