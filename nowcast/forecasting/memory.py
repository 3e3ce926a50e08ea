"""Whether a forecast fits in memory, checked before any work starts.

A forecast holds several ``(steps, ny, nx)`` float32 arrays at once: the
network's output (and, on a tiled grid, the sum of its tiles), the advected
last frame, the sub-block detail, the transform's temporaries, their blend and
its clipped copy. Measured as the growth of peak memory per lead time on 512 x
512 grids, that is about 5 arrays for a model on the fixed grid, 9 for the
bundled model and 11 for a residual model in the moving frame;
:data:`ARRAYS_HELD` rounds the largest up. ``--steps 100000`` on a 765 x 700
grid would need 2.6 TB: it is refused at once, naming the largest ``--steps``
that fits, instead of being killed for memory minutes later.
"""

from __future__ import annotations

from pathlib import Path

from nowcast.errors import ConfigError

#: ``(steps, ny, nx)`` arrays a forecast holds at its peak (see the module docstring).
ARRAYS_HELD = 12
#: float32.
BYTES_PER_VALUE = 4
MEMINFO = Path("/proc/meminfo")
#: The cgroup v2 folder of this process's container (``memory.max``, ``memory.current``).
CGROUP = Path("/sys/fs/cgroup")


def forecast_bytes(shape: tuple[int, int], steps: int) -> int:
    """Estimated peak bytes of a forecast of ``steps`` lead times on a ``(ny, nx)`` grid."""
    ny, nx = shape
    return steps * ny * nx * BYTES_PER_VALUE * ARRAYS_HELD


def available_bytes(meminfo: Path = MEMINFO, cgroup: Path = CGROUP) -> int | None:
    """Bytes this process may still allocate: ``MemAvailable``, or the cgroup's room if lower.

    Returns:
        The smaller of the two that can be read; None when neither can (no check then).
    """
    found = [b for b in (_meminfo_available(meminfo), _cgroup_room(cgroup)) if b is not None]
    return min(found) if found else None


def _meminfo_available(path: Path) -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (the file says kB)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        words = line.split()
        if words[:1] == ["MemAvailable:"] and len(words) > 1 and words[1].isdigit():
            return int(words[1]) * 1024
    return None


def _cgroup_room(folder: Path) -> int | None:
    """``memory.max`` less ``memory.current`` in bytes; None without a limit (``max``)."""
    try:
        limit = (folder / "memory.max").read_text().strip()
        used = (folder / "memory.current").read_text().strip()
    except OSError:
        return None
    if not limit.isdigit():
        return None
    return max(int(limit) - (int(used) if used.isdigit() else 0), 0)


def check_forecast_size(shape: tuple[int, int], steps: int, available: int | None) -> None:
    """Refuse ``steps`` below 1, or a forecast whose estimated peak exceeds ``available`` bytes.

    Args:
        shape: ``(ny, nx)`` of the forecast grid.
        steps: Lead times asked for (``--steps``).
        available: Bytes free (:func:`available_bytes`); None skips the memory check.

    Raises:
        ConfigError: naming ``--steps`` and, for memory, the largest value that fits.
    """
    if steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps}")
    need = forecast_bytes(shape, steps)
    if available is None or need <= available:
        return
    fits = available // forecast_bytes(shape, 1)
    advice = f"use --steps {fits} or fewer" if fits else "not even one lead time fits"
    raise ConfigError(
        f"--steps {steps} on a {shape[0]} x {shape[1]} grid needs about {_gib(need)} of "
        f"memory but {_gib(available)} is available; {advice}"
    )


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB"
