"""Radar files in and out, no torch: the canonical dataset's contract and its wings.

At the top: the grid and its projection (:mod:`~nowcast.io.grid`,
:mod:`~nowcast.io.projection`, PROJ strings in :mod:`~nowcast.io.proj4`), the CF vocabulary
(:mod:`~nowcast.io.cf`), rain-rate units (:mod:`~nowcast.io.units`), the canonical file's
contract (:mod:`~nowcast.io.canonical`), the per-series cache (:mod:`~nowcast.io.cache`) and
the train/val/test blocks (:mod:`~nowcast.io.splits`). The wings: :mod:`nowcast.io.readers`
(one module per input format behind a name registry), :mod:`nowcast.io.writers` (the
canonical and forecast files, and the one atomic-write helper) and :mod:`nowcast.io.ingest`
(raw files -> one canonical file).
"""
