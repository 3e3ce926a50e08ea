"""Ingest: raw files -> one canonical NetCDF file.

:mod:`.pipeline` (the entry point, :func:`~nowcast.io.ingest.pipeline.ingest`),
:mod:`.sources` (expanding files, folders and globs), :mod:`.checks` (one grid, one cadence),
:mod:`.parallel` (compression in threads while frames are read) and :mod:`.summary` (what a
canonical file holds, for ``nowcast ingest`` and ``nowcast info``).
"""
