"""Synthetic rain: the project's own test and training data, made from seeds.

:mod:`.generate` (frames and grids), :mod:`.model` (advected, growing and decaying cells),
:mod:`.params` (the scene parameters), :mod:`.texture` (the small-scale texture) and
:mod:`.odim_write` (frames written as ODIM_H5 files). Used by the sample data, the benchmarks,
the recipes and the tests; no command depends on it.
"""
