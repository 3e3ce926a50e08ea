"""nowcast: precipitation nowcasting with a ConvLSTM encoder-forecaster.

Data flow (one sub-package per stage)::

    raw files -> io (readers) -> canonical NetCDF -> data (windows, patches)
              -> models -> training (checkpoints) -> forecasting -> io.writer
              -> verification (scores, plots)

``cli`` is the only package that imports typer or rich.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nowcast")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
