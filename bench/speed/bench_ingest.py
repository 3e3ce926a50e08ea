"""Benchmark ``nowcast ingest`` against pySTEPS' importers on the shared radar sets.

For each radar set (KNMI HDF5, BOM Rainfields NetCDF, RMI ODIM_H5) three ways
of reading the same files are timed side by side in one run:

- ``nowcast ingest``: the whole pipeline, read every file and write the
  canonical CF NetCDF file (:func:`nowcast.io.ingest.pipeline.ingest`);
- ``nowcast read``: the nowcast readers alone, frames streamed and dropped
  (:func:`nowcast.io.ingest.pipeline.read_frames`), the part comparable with pySTEPS;
- ``pySTEPS importer``: ``import_knmi_hdf5``, ``import_bom_rf3`` or
  ``import_odim_hdf5`` per file, the frames stacked into one array as
  ``pysteps.io.read_timeseries`` does (without its second read of the first file).

Every measurement runs in a fresh subprocess, so its peak resident set size
(``VmHWM``) is its own; the time excludes interpreter start-up and imports.
A second table ingests the first 10 files and all files of the KNMI set to show
whether peak memory grows with the number of files. Prints markdown tables.

Run: ``python bench/speed/bench_ingest.py [--repeats 3] [--quick]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import environment, peak_rss_mib

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("NOWCAST_DATA_DIR", REPO.parent / "shared" / "data"))

#: radar set -> (folder under the data directory, pySTEPS importer name)
SETS = {
    "knmi": ("radar/knmi", "import_knmi_hdf5"),
    "bom-cscn": ("radar/bom-cscn", "import_bom_rf3"),
    "rmi-qpe": ("radar/rmi-qpe", "import_odim_hdf5"),
}
METHODS = ("nowcast-ingest", "nowcast-read", "pysteps")
VERSIONS = ("numpy", "h5py", "netCDF4", "xarray", "pysteps", "isal")


def set_files(name: str, limit: int = 0) -> list[Path]:
    """The sorted data files of radar set ``name``, the first ``limit`` of them (0 = all)."""
    folder = DATA_DIR / SETS[name][0]
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return files[:limit] if limit else files


class _Clock:
    """Seconds from construction to the first :meth:`tick` (one-off set-up included)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None

    def tick(self, *_: object) -> None:
        """Record the time of the first call; later calls do nothing."""
        if self.first is None:
            self.first = time.perf_counter() - self.start


def _nowcast_ingest(files: list[Path], clock: _Clock) -> int:
    from nowcast.io.ingest.pipeline import ingest

    with tempfile.TemporaryDirectory() as tmp:
        summary = ingest([str(p) for p in files], Path(tmp) / "canonical.nc", on_file=clock.tick)
    return summary.stats.frames


def _nowcast_read(files: list[Path], clock: _Clock) -> int:
    from nowcast.io.ingest.pipeline import read_frames

    return sum(1 for _ in read_frames(files, on_file=clock.tick))


def _pysteps_read(files: list[Path], importer_name: str, clock: _Clock) -> int:
    import numpy as np

    with contextlib.redirect_stdout(io.StringIO()):  # pysteps prints its config path
        from pysteps.io import importers
    importer = getattr(importers, importer_name)
    frames = []
    for path in files:
        frames.append(importer(str(path))[0])
        clock.tick()
    return int(np.stack(frames).shape[0])  # (T, ny, nx) float64


def _prepare_imports(method: str) -> None:
    """Import the method's libraries before the clock and the memory baseline start."""
    with contextlib.redirect_stdout(io.StringIO()):
        if method == "pysteps":
            import pysteps.io.importers  # noqa: F401
        else:  # the reader modules too: pySTEPS' importers module imports h5py, netCDF4, pyproj
            import nowcast.io.ingest.pipeline
            import nowcast.io.readers.cf.reader
            import nowcast.io.readers.knmi
            import nowcast.io.readers.odim
            import nowcast.io.writers  # noqa: F401


def child(method: str, name: str, limit: int) -> dict[str, float]:
    """One measurement in this (fresh) process: seconds, frames and memory in MiB.

    ``first_s`` is the time until the first file was done (one-off set-up
    included); ``baseline_mib`` is the peak RSS after the imports;
    ``added_mib`` is what the measured work added on top of it.
    """
    files = set_files(name, limit)
    _prepare_imports(method)
    baseline = peak_rss_mib()
    clock = _Clock()
    if method == "nowcast-ingest":
        frames = _nowcast_ingest(files, clock)
    elif method == "nowcast-read":
        frames = _nowcast_read(files, clock)
    else:
        frames = _pysteps_read(files, SETS[name][1], clock)
    seconds = time.perf_counter() - clock.start
    peak = peak_rss_mib()
    return {
        "seconds": seconds,
        "first_s": clock.first or 0.0,
        "frames": frames,
        "peak_mib": peak,
        "baseline_mib": baseline,
        "added_mib": peak - baseline,
    }


def measure(method: str, name: str, limit: int, repeats: int) -> dict[str, float]:
    """Median over ``repeats`` fresh subprocesses of every field :func:`child` reports."""
    runs = []
    for _ in range(repeats):
        cmd = [sys.executable, __file__, "--child", method, name, str(limit)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def speed_table(names: list[str], limit: int, repeats: int) -> tuple[str, str]:
    """Markdown tables per radar set: frames/s of the three methods, and their memory.

    Frames/s is given over all files and after the first file (without the
    one-off set-up: library caches, projection database, output file).
    """
    speed = [
        "| radar set | files | frames/s ingest / read / pySTEPS "
        "| after the first file: ingest / read / pySTEPS | first file (s) ingest / read / pySTEPS "
        "| ingest / pySTEPS | read / pySTEPS | read / pySTEPS after the first |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    memory = [
        "| radar set | files | peak RSS ingest / read / pySTEPS (MiB) "
        "| added by the work ingest / read / pySTEPS (MiB) |",
        "|---|---:|---:|---:|",
    ]
    for name in names:
        res = {m: measure(m, name, limit, repeats) for m in METHODS}
        fps = {m: r["frames"] / r["seconds"] for m, r in res.items()}
        rest = {m: (r["frames"] - 1) / (r["seconds"] - r["first_s"]) for m, r in res.items()}
        first = {m: r["first_s"] for m, r in res.items()}
        speed.append(
            f"| {name} | {int(res['pysteps']['frames'])} | {_joined(fps, '.1f')} "
            f"| {_joined(rest, '.1f')} | {_joined(first, '.2f')} "
            f"| {fps['nowcast-ingest'] / fps['pysteps']:.2f} "
            f"| {fps['nowcast-read'] / fps['pysteps']:.2f} "
            f"| {rest['nowcast-read'] / rest['pysteps']:.2f} |"
        )
        peaks = {m: r["peak_mib"] for m, r in res.items()}
        added = {m: r["added_mib"] for m, r in res.items()}
        memory.append(
            f"| {name} | {int(res['pysteps']['frames'])} | {_joined(peaks, '.0f')} "
            f"| {_joined(added, '.0f')} |"
        )
    return "\n".join(speed), "\n".join(memory)


def _joined(values: dict[str, float], spec: str) -> str:
    """``a / b / c`` of the values in :data:`METHODS` order."""
    return " / ".join(format(values[m], spec) for m in METHODS)


def memory_table(counts: list[int], repeats: int) -> str:
    """Markdown table: KNMI peak RSS for different numbers of files, nowcast vs pySTEPS."""
    lines = [
        "| method | files | seconds | peak RSS (MiB) | added by the work (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for method in ("nowcast-ingest", "pysteps"):
        for count in counts:
            res = measure(method, "knmi", count, repeats)
            lines.append(
                f"| {method} | {int(res['frames'])} | {res['seconds']:.2f} "
                f"| {res['peak_mib']:.0f} | {res['added_mib']:.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    """Parse arguments; run one child measurement or the whole benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="subprocesses per median")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--quick", action="store_true", help="1 repeat, 20 files per set")
    parser.add_argument(
        "--child", nargs=3, metavar=("METHOD", "SET", "LIMIT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        method, name, limit = args.child
        print(json.dumps(child(method, name, int(limit))))
        return
    repeats = 1 if args.quick else args.repeats
    limit = 20 if args.quick else 0
    print(environment(VERSIONS), "\n")
    print(f"Median of {repeats} subprocess run(s) per cell; data from {DATA_DIR}\n")
    speed, memory = speed_table(args.sets, limit, repeats)
    print(speed, "\n")
    print(memory, "\n")
    counts = [10, 20] if args.quick else [10, 40, len(set_files("knmi"))]
    print(memory_table(counts, repeats))


if __name__ == "__main__":
    main()
