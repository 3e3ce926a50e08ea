"""Synthetic rain: the project's own test and training data, made from seeds.

:mod:`.generate` (frames and grids), :mod:`.model` (advected, growing and decaying cells),
:mod:`.params` (the scene parameters), :mod:`.texture` (the small-scale texture),
:mod:`.odim_write` (frames written as ODIM_H5 files), :mod:`.training_set` (a training file of
independent sequences: what ``nowcast train`` writes when given no data) and :mod:`.sample`
(where the bundled sample is). Used by the sample data, the benchmarks, the recipes, the
tests and ``nowcast train``.
"""
