"""nowcast: precipitation nowcasting with a ConvLSTM encoder-forecaster.

Data flow (one sub-package per stage)::

    raw files -> io (readers) -> canonical NetCDF -> data (windows, patches)
              -> models -> training (checkpoints) -> forecasting -> io.writer
              -> verification (scores, plots)

``cli`` is the only package that imports typer or rich. The Python API
(:mod:`nowcast.api`: ``ingest``, ``load_model``, ``forecast``, ``evaluate``,
``sample_path``) is reachable from here and imported on first use, so that
``import nowcast`` (and ``import nowcast.io``) stays free of torch.
"""

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("nowcast")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

#: The names of :mod:`nowcast.api` this package exposes.
_API = ("evaluate", "forecast", "ingest", "load_model", "sample_path")

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    """The Python API's functions, imported on first use (PEP 562)."""
    if name in _API:
        return getattr(importlib.import_module("nowcast.api"), name)
    raise AttributeError(f"module 'nowcast' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names with the API's, which are not imported yet (tab completion)."""
    return sorted([*globals(), *_API])
