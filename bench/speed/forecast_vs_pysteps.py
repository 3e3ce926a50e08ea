"""Whole-process forecast time and peak memory: ``nowcast forecast`` vs a plain pySTEPS script.

For each canonical input file, three commands run as fresh processes, as a
user runs them, interleaved in ``--rounds`` rounds (the order rotates from
round to round, so no side always runs first):

- ``nowcast``: ``nowcast forecast FILE --steps 12 --model default -o OUT --overwrite``;
- ``pySTEPS``: ``python bench/speed/pysteps_extrapolation.py FILE OUT --steps 12``
  (Lucas-Kanade + semi-Lagrangian extrapolation, xarray in and out);
- ``import torch``: ``python -c "import torch"``, the start-up floor of nowcast.

With ``--members M`` (M > 0) both sides make an ensemble of M members with
exceedance probabilities instead: nowcast's command gains ``--members M
--probabilities 0.1,1,5``, and the pySTEPS side becomes ``python
bench/speed/pysteps_steps.py FILE OUT --steps 12 --members M`` (Lucas-Kanade +
pySTEPS' STEPS with its defaults, one worker, writing the same variables).

Wall time is start to exit (imports, reading and writing included); peak
memory is the process's peak RSS, from ``/usr/bin/time -f %M`` (GNU time
forks the command from its own small process, so the parent's memory does
not leak into the figure), else from ``os.wait4``'s ``ru_maxrss``, which
for a vfork-started child also counts this script's own (small) RSS.

Inputs can be built first: ``--make-knmi DIR`` ingests every file of
``$NOWCAST_DATA_DIR/radar/knmi`` (default ``../shared/data``) to
``DIR/knmi.nc`` (765 x 700); ``--make-large DIR`` writes 6 synthetic
frames of 2200 x 1900 (``nowcast.synthetic.synthetic_frames``, seed 3) to
``DIR/synthetic_2200x1900.nc`` through ``CanonicalWriter``; with ``--rounds 0``
the script only makes them.

Prints one markdown table per input, after the machine line; its heading
says "ensemble of M members" with ``--members``. "Other load" is the CPU
time other processes took during each run, in cores (the range over the
rounds): near 0 on a quiet machine; numbers measured above about 0.1 are
not clean.

Run: ``python bench/speed/forecast_vs_pysteps.py [FILE ...] [--make-knmi DIR]
[--make-large DIR] [--rounds 5] [--steps 12]`` for the extrapolations; add
``--members 20`` for the ensembles.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("NOWCAST_DATA_DIR", REPO.parent / "shared" / "data"))
PYSTEPS_SCRIPT = REPO / "bench" / "speed" / "pysteps_extrapolation.py"
PYSTEPS_STEPS_SCRIPT = REPO / "bench" / "speed" / "pysteps_steps.py"
#: Exceedance thresholds of the ensemble mode, mm h-1 (fixed in pysteps_steps.py too).
THRESHOLDS = "0.1,1,5"
GNU_TIME = Path("/usr/bin/time")
LARGE_SHAPE = (2200, 1900)
LARGE_FRAMES = 6
VERSIONS = ("torch", "pysteps", "numpy", "xarray", "opencv-python-headless")

SYNTHETIC_CODE = """
import sys
from pathlib import Path
from nowcast.io.writers import CanonicalWriter
from nowcast.synthetic.generate import synthetic_frames, synthetic_grid
shape, n, path = (int(sys.argv[1]), int(sys.argv[2])), int(sys.argv[3]), Path(sys.argv[4])
with CanonicalWriter(path, synthetic_grid(shape), "rainfall_rate", overwrite=True,
                     source="nowcast synthetic rain (bench/speed/forecast_vs_pysteps.py)") as w:
    for frame in synthetic_frames(n, shape, seed=3):
        w.append(frame.time, frame.values)
"""


@dataclass
class Side:
    """One measured command and its results."""

    name: str
    command: list[str]
    seconds: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)
    others: list[float] = field(default_factory=list)


def busy_seconds() -> float:
    """CPU seconds spent busy by all cores since boot (``/proc/stat``), 0 where unreadable."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure(command: list[str], memfile: Path) -> tuple[float, float, float]:
    """Run ``command`` to completion: wall seconds, peak RSS (MiB), other processes' cores.

    The last is the CPU time the whole machine was busy during the run, less
    the command's own user + system time, per second of wall time: about 0
    on a quiet machine, 1 when another process kept one core busy.
    """
    busy = busy_seconds()
    start = time.perf_counter()
    if GNU_TIME.is_file():
        full = [str(GNU_TIME), "-f", "%M %U %S", "-o", str(memfile), *command]
        proc = subprocess.run(full, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(
                f"failed ({proc.returncode}): {' '.join(command)}\n{proc.stderr[-2000:]}"
            )
        kib, user, system = memfile.read_text().split()[-3:]
        peak, own = int(kib) / 1024.0, float(user) + float(system)
    else:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            stderr = child.stderr.read().decode() if child.stderr else ""
            raise SystemExit(f"failed ({code}): {' '.join(command)}\n{stderr[-2000:]}")
        peak, own = usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime  # KiB on Linux
    others = max(busy_seconds() - busy - own, 0.0) / seconds
    return seconds, peak, others


def make_knmi(directory: Path) -> Path:
    """Ingest every KNMI file of the shared data to ``directory/knmi.nc``."""
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / "knmi.nc"
    knmi = DATA_DIR / "radar" / "knmi"
    subprocess.run(
        ["nowcast", "ingest", str(knmi), "-o", str(out), "--overwrite"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out


def make_large(directory: Path) -> Path:
    """Write the 2200 x 1900 synthetic canonical file to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"synthetic_{LARGE_SHAPE[0]}x{LARGE_SHAPE[1]}.nc"
    args = [str(v) for v in (*LARGE_SHAPE, LARGE_FRAMES, out)]
    subprocess.run([sys.executable, "-c", SYNTHETIC_CODE, *args], check=True)
    return out


def machine_line() -> str:
    """Date (UTC), CPU model, cores and package versions."""
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for package in VERSIONS:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} not installed")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{stamp}; {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"{', '.join(versions)}; peak memory from "
        f"{'/usr/bin/time %M' if GNU_TIME.is_file() else 'os.wait4 ru_maxrss'}"
    )


def make_sides(path: Path, steps: int, members: int, workdir: Path) -> list[Side]:
    """The nowcast, pySTEPS and floor commands: extrapolations, or ensembles of ``members`` > 0.

    Both sides of the ensemble mode write members and probabilities at the
    same thresholds, so that they make the same product.
    """
    nowcast = ["nowcast", "forecast", str(path), "--steps", str(steps), "--model", "default"]
    script = PYSTEPS_STEPS_SCRIPT if members > 0 else PYSTEPS_SCRIPT
    pysteps = [sys.executable, str(script), str(path), str(workdir / "pysteps.nc")]
    pysteps += ["--steps", str(steps)]
    if members > 0:
        nowcast += ["--members", str(members), "--probabilities", THRESHOLDS]
        pysteps += ["--members", str(members)]
    nowcast += ["-o", str(workdir / "nowcast.nc"), "--overwrite"]
    return [
        Side("nowcast forecast", nowcast),
        Side("pySTEPS script", pysteps),
        Side("python -c 'import torch'", [sys.executable, "-c", "import torch"]),
    ]


def compare(path: Path, rounds: int, steps: int, members: int, workdir: Path) -> str:
    """Measure the three sides on ``path`` (ensembles of ``members`` if > 0); a markdown table."""
    sides = make_sides(path, steps, members, workdir)
    memfile = workdir / "peak.txt"
    for r in range(rounds):
        order = sides[r % len(sides) :] + sides[: r % len(sides)]
        for side in order:
            if side.name == "pySTEPS script":
                (workdir / "pysteps.nc").unlink(missing_ok=True)
            seconds, peak, others = measure(side.command, memfile)
            side.seconds.append(seconds)
            side.peak_mib.append(peak)
            side.others.append(others)
        print(
            f"  round {r + 1}/{rounds}: "
            + ", ".join(f"{s.name} {s.seconds[-1]:.2f} s" for s in sides),
            file=sys.stderr,
        )

    now, ref, floor = sides
    med = {s.name: (statistics.median(s.seconds), statistics.median(s.peak_mib)) for s in sides}
    product = f", ensemble of {members} members" if members > 0 else ""
    lines = [
        f"`{path.name}`, {steps} steps{product}, median of {rounds} interleaved rounds",
        "",
        "| command | median wall (s) | all runs (s) | median peak RSS (MiB) | other load (cores) |",
        "|---|---:|---|---:|---:|",
    ]
    for s in sides:
        runs = ", ".join(f"{v:.2f}" for v in s.seconds)
        load = f"{min(s.others):.2f}-{max(s.others):.2f}"
        lines.append(
            f"| {s.name} | {med[s.name][0]:.2f} | {runs} | {med[s.name][1]:.0f} | {load} |"
        )
    (t_now, m_now), (t_ref, m_ref), (t_floor, _) = (med[s.name] for s in (now, ref, floor))
    # Above the floor only means something when nowcast took longer than importing torch.
    above = f"{(t_ref - t_floor) / (t_now - t_floor):.2f}x" if t_now - t_floor > 0.05 else "n/a"
    lines.append(
        f"| **pySTEPS / nowcast** | **{t_ref / t_now:.2f}x** | above the floor: "
        f"{above} | **{m_ref / m_now:.2f}x** | |"
    )
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, build the requested inputs and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="canonical NetCDF inputs")
    parser.add_argument("--make-knmi", type=Path, metavar="DIR", help="ingest KNMI into DIR first")
    parser.add_argument("--make-large", type=Path, metavar="DIR", help="write 2200x1900 to DIR")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--steps", type=int, default=12, help="lead times (default 12)")
    parser.add_argument(
        "--members",
        type=int,
        default=0,
        metavar="M",
        help="compare ensembles of M members with probabilities (default 0: extrapolations)",
    )
    args = parser.parse_args()
    if args.members < 0:
        parser.error(f"--members must be >= 0, got {args.members}")
    if args.rounds < 0:
        parser.error(f"--rounds must be >= 0, got {args.rounds}")
    if shutil.which("nowcast") is None:
        raise SystemExit("the nowcast command is not on PATH (activate the virtualenv)")
    files = list(args.files)
    if args.make_knmi:
        files.append(make_knmi(args.make_knmi))
    if args.make_large:
        files.append(make_large(args.make_large))
    if not files:
        parser.error("give a canonical file, --make-knmi DIR or --make-large DIR")
    if args.rounds == 0:  # the inputs only
        print("\n".join(str(path) for path in files))
        return
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="forecast_vs_pysteps_") as tmp:
        for path in files:
            print()
            print(compare(path, args.rounds, args.steps, args.members, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
