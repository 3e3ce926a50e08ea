"""Format readers: raw radar or Moving MNIST files -> canonical frames.

A new format is one module here (or a sub-package, such as :mod:`.cf` and :mod:`.moving_mnist`)
with a class following :class:`~nowcast.io.readers.registry.Reader`, listed in
:data:`~nowcast.io.readers.registry.READERS`. Readers never import each other
(``tests/test_layering.py``); what they share lives in :mod:`~nowcast.io.readers.hdf5` (HDF5
attributes and errors), :mod:`~nowcast.io.readers.zr` (reflectivity -> rain rate) and, below
the readers, :mod:`nowcast.io.cache` (per-series caches).
"""
