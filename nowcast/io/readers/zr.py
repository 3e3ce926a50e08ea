"""Reflectivity <-> rain rate through the Z-R power law ``Z = a R^b``.

``Z`` is the linear reflectivity factor in mm^6 m^-3 and ``R`` the rain rate in
mm h-1; radar products store ``10 log10(Z)`` in dBZ. The defaults ``a = 200``,
``b = 1.6`` are the Marshall-Palmer values, also the defaults of
:class:`nowcast.io.readers.registry.ReaderOptions`.
"""

from __future__ import annotations

import numpy as np

DEFAULT_A = 200.0
DEFAULT_B = 1.6


def _check(a: float, b: float) -> None:
    if not (a > 0 and b > 0):
        raise ValueError(f"Z-R coefficients must be positive, got a={a}, b={b}")


def dbz_to_rate(dbz: np.ndarray, a: float = DEFAULT_A, b: float = DEFAULT_B) -> np.ndarray:
    """Convert reflectivity (dBZ) to rain rate (mm h-1).

    ``R = (10^(dBZ/10) / a)^(1/b)``. NaN stays NaN; the result is never
    negative (very low dBZ gives tiny positive rates, not zero).

    Args:
        dbz: Reflectivity in dBZ, any shape.
        a: ``a`` of ``Z = a R^b``.
        b: ``b`` of ``Z = a R^b``.

    Returns:
        ``float32`` rain rate in mm h-1, same shape as ``dbz``.
    """
    _check(a, b)
    with np.errstate(over="ignore"):  # absurd dBZ (undecoded codes) give inf, not a warning
        z = np.power(10.0, np.asarray(dbz, dtype=np.float64) / 10.0)
        return np.power(z / a, 1.0 / b).astype(np.float32)


def rate_to_dbz(rate: np.ndarray, a: float = DEFAULT_A, b: float = DEFAULT_B) -> np.ndarray:
    """Convert rain rate (mm h-1) to reflectivity (dBZ), the inverse of :func:`dbz_to_rate`.

    ``dBZ = 10 log10(a R^b)``. Rates ``<= 0`` have no finite reflectivity and
    give ``-inf``; NaN stays NaN.

    Args:
        rate: Rain rate in mm h-1, any shape.
        a: ``a`` of ``Z = a R^b``.
        b: ``b`` of ``Z = a R^b``.

    Returns:
        ``float64`` reflectivity in dBZ, same shape as ``rate``.
    """
    _check(a, b)
    r = np.asarray(rate, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        dbz = 10.0 * np.log10(a * np.power(np.where(r > 0, r, 0.0), b))
    return np.where(np.isnan(r), np.nan, dbz)
