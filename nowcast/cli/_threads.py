"""How many CPU threads torch uses, and how they wait: chosen once, when the command line starts.

torch's own default is one thread per physical core of the whole machine. In
a container with a CPU quota or under ``taskset`` that is more threads than
the process may run at once. The default here is the CPUs this process may
actually use: its CPU affinity, capped by a cgroup v2 CPU quota and by the
physical cores among them. ``NOWCAST_THREADS=N`` sets the count; a user's
own ``OMP_NUM_THREADS`` is left alone.

Beside other busy jobs on the same cores, OpenMP threads that spin while they
wait for each other at every parallel operation take the CPU from the very
thread they wait for; a forecast then ran 2-3x slower with two threads than
with one. So the threads sleep instead (``OMP_WAIT_POLICY=PASSIVE``) unless
the user set a policy. See docs/performance.md.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

from nowcast.errors import ConfigError

THREADS_ENV = "NOWCAST_THREADS"
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CPU_TOPOLOGY = Path("/sys/devices/system/cpu")


def allowed_cpus() -> set[int]:
    """The CPUs this process may run on (its affinity; every CPU where that is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def cgroup_cpu_quota(path: Path = CGROUP_CPU_MAX) -> float | None:
    """CPUs' worth of time per period a cgroup v2 quota allows; ``None`` without a quota."""
    try:
        quota, period = path.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def physical_cores(cpus: set[int], topology: Path = CPU_TOPOLOGY) -> int:
    """Distinct physical cores among ``cpus``: hyper-threads of one core count once."""
    cores = set()
    for cpu in cpus:
        siblings = str(cpu)  # unknown topology: every CPU its own core
        for name in ("core_cpus_list", "thread_siblings_list"):
            try:
                siblings = (topology / f"cpu{cpu}" / "topology" / name).read_text().strip()
                break
            except OSError:
                continue
        cores.add(siblings)
    return len(cores)


def default_threads(cpus: int, quota: float | None, cores: int) -> int:
    """The default: usable CPUs, no more than the quota (rounded down) and the cores, at least 1."""
    threads = min(cpus, cores)
    if quota is not None:
        threads = min(threads, math.floor(quota))
    return max(1, threads)


def choose_threads(environ: MutableMapping[str, str]) -> int | None:
    """The thread count to set, or ``None`` to leave the user's ``OMP_NUM_THREADS``.

    Raises:
        ConfigError: when ``NOWCAST_THREADS`` is not a whole number >= 1.
    """
    given = environ.get(THREADS_ENV, "").strip()
    if given:
        if not given.isdigit() or int(given) < 1:
            raise ConfigError(f"{THREADS_ENV} must be a whole number >= 1, got {given!r}")
        return int(given)
    if environ.get("OMP_NUM_THREADS", "").strip():
        return None
    cpus = allowed_cpus()
    return default_threads(len(cpus), cgroup_cpu_quota(), physical_cores(cpus))


def apply_threads(environ: MutableMapping[str, str] = os.environ) -> int | None:
    """Set the thread count of this process (and of the processes it starts).

    Through ``OMP_NUM_THREADS`` (and ``OMP_WAIT_POLICY=PASSIVE`` unless the
    user set a policy), which torch's OpenMP and MKL read when they load, so
    the command line need not import torch to set them (``--help`` stays
    fast); a torch that is already loaded gets the count directly.

    Returns:
        The count set, or ``None`` when the user's ``OMP_NUM_THREADS`` stands.

    Raises:
        ConfigError: for an invalid ``NOWCAST_THREADS``.
    """
    threads = choose_threads(environ)
    if threads is None:
        return None
    environ["OMP_NUM_THREADS"] = str(threads)
    environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    return threads
