"""Stage 2: canonical frames become tensors.

- :mod:`~nowcast.data.windows`: which time windows are valid (no gaps) and the
  train/val/test split.
- :mod:`~nowcast.data.transforms`: invertible intensity transforms (mm/h <-> model scale).
- :mod:`~nowcast.data.patches`: space-to-depth patches and padding.
- :mod:`~nowcast.data.dataset`: the lazy ``torch`` dataset over a canonical file.
- :mod:`~nowcast.data.observations`: observed frames read on demand and the start times
  that forecasting, calibration and verification share.

Submodules are imported explicitly so that the models can use
:mod:`~nowcast.data.patches` without loading NetCDF.
"""
