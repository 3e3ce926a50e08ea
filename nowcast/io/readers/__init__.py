"""Format readers: raw radar or Moving MNIST files -> canonical frames.

A new format is one module here with a class following
:class:`~nowcast.io.readers.registry.Reader`, listed in
:data:`~nowcast.io.readers.registry.READERS`. Readers never import each other; what they share
lives in :mod:`~nowcast.io.readers.hdf5` (HDF5 attributes and errors),
:mod:`~nowcast.io.readers.zr` (reflectivity -> rain rate) and
:mod:`~nowcast.io.readers.cache` (per-series caches).
"""
