"""What every benchmark script shares: peak memory and the environment line."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB.

    Linux: ``VmHWM`` of /proc/self/status, the high-water mark of this
    program's own address space. ``ru_maxrss`` (the fallback elsewhere) also
    counts the parent's memory when the child was started with vfork + exec,
    as ``subprocess`` does.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else the machine type."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def _version(package: str) -> str:
    """The installed version of ``package``, or ``not installed`` (optional extras)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(packages: Sequence[str], threads: int | None = None) -> str:
    """One line: date (UTC), CPU, cores, torch threads (if given), Python and package versions."""
    versions = ", ".join(f"{p} {_version(p)}" for p in packages)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    threads_text = "" if threads is None else f", {threads} torch threads"
    return (
        f"{stamp}; {cpu_model()}, {os.cpu_count()} cores{threads_text}; "
        f"Python {platform.python_version()}, {versions}"
    )
