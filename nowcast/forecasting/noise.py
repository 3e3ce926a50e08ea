"""Spatially correlated noise that gives back the variability a smooth forecast lacks.

A forecast that hedges is smoother than the rain it forecasts: at every
scale, its spatial variance (power) is lower than the observed field's, and
the more so the further ahead and the smaller the scale, because that is
where it is uncertain. If the forecast were the conditional mean, the power
it lacks would be exactly the variance of its error. So an ensemble member is
the forecast plus noise whose power, scale by scale, is what the forecast
lacks: the observed field's power (the last frame carried to the lead time)
minus the forecast's. Where the forecast is sure (large scales, first leads)
the members agree; where it hedges they differ. The same idea drives the
noise of STEPS (Bowler et al. 2006), which fills in the scales an
extrapolation's autoregression has forgotten.

Scales are octave bands of the radial wavenumber (2-4 pixels, 4-8, ...);
fields are transformed to the log domain (:func:`log_domain`) first, as
STEPS works in dBR. From one lead to the next each member's white noise
evolves as a first-order autoregression per band, with the band's lag-one
correlation measured on the last two observed frames in the moving frame, so
members are coherent in time.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

#: Offset (the variable's units, mm h-1 for rain) before the logarithm: keeps
#: the ranking of weak values (how close to rain a pixel is) without letting
#: them dominate the variance.
LOG_OFFSET = 0.01


def log_domain(fields: np.ndarray, covered: np.ndarray) -> Tensor:
    """``log10(max(field, 0) + LOG_OFFSET)``, with no-coverage pixels at the covered mean.

    The mean outside the coverage adds no edge of its own to the spectrum.

    Args:
        fields: ``(..., ny, nx)`` in the variable's units.
        covered: ``(ny, nx)`` bool.

    Returns:
        ``(..., ny, nx)`` float32 tensor.
    """
    z = np.log10(np.maximum(np.nan_to_num(fields, nan=0.0), 0.0) + LOG_OFFSET)
    inside = z[..., covered]  # (..., n_covered)
    mean = inside.mean(axis=-1) if inside.shape[-1] else np.zeros(z.shape[:-2])
    z = np.where(covered, z, np.asarray(mean)[..., None, None])
    return torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32))


def band_index(shape: tuple[int, int]) -> tuple[Tensor, int]:
    """Octave band of every frequency of ``rfft2`` on a ``shape`` grid, and the band count.

    Band 0 holds the mean (zero frequency) and is never filled with noise;
    band ``b >= 1`` holds wavelengths between ``2**b`` and ``2**(b+1)`` pixels
    counted from the smallest (band 1: 2-4 pixels); wavelengths beyond the
    grid's larger side share the last band.
    """
    ny, nx = shape
    fy = torch.fft.fftfreq(ny).abs()[:, None]  # cycles per pixel
    fx = torch.fft.rfftfreq(nx)[None, :]
    radius = torch.sqrt(fy**2 + fx**2)
    count = max(1, int(np.ceil(np.log2(max(ny, nx)))))
    wavelength = 1.0 / radius.clamp(min=1e-12)
    bands = torch.clamp(torch.floor(torch.log2(wavelength)), 1, count).long()
    bands[0, 0] = 0
    return bands, count + 1


def band_power(spectrum: Tensor, bands: Tensor, count: int) -> Tensor:
    """Mean ``|spectrum|**2`` per band: ``(..., fy, fx)`` complex -> ``(..., count)``."""
    power = spectrum.abs().square().flatten(-2)  # (..., n_freq)
    flat = bands.flatten()
    total = torch.zeros((*power.shape[:-1], count), dtype=power.dtype)
    total.index_add_(-1, flat, power)
    sizes = torch.bincount(flat, minlength=count).clamp(min=1).to(power.dtype)
    return total / sizes


def band_correlation(first: Tensor, second: Tensor, bands: Tensor, count: int) -> Tensor:
    """Correlation per band of two ``(ny, nx)`` fields, clipped to ``[0, 0.999]``."""
    a, b = torch.fft.rfft2(first, norm="ortho"), torch.fft.rfft2(second, norm="ortho")
    cross = (a * b.conj()).real.flatten()
    flat = bands.flatten()
    sums = torch.zeros(count, dtype=cross.dtype).index_add_(0, flat, cross)
    norm = torch.sqrt(band_power(a, bands, count) * band_power(b, bands, count))
    sizes = torch.bincount(flat, minlength=count).clamp(min=1).to(cross.dtype)
    return torch.nan_to_num(sums / sizes / norm.clamp(min=1e-12)).clamp(0.0, 0.999)


class BandNoise:
    """Noise fields of ``members`` members, lead after lead, with a power set per band.

    Args:
        shape: ``(ny, nx)`` grid.
        members: How many independent fields each call gives.
        correlation: ``(count,)`` lag-one correlation per band (:func:`band_correlation`).
        seed: Seed of the random numbers (the same seed gives the same fields).
    """

    def __init__(self, shape: tuple[int, int], members: int, correlation: Tensor, seed: int):
        self.shape = shape
        self.bands, self.count = band_index(shape)
        self.phi = correlation[self.bands]  # (fy, fx) per frequency
        self.generator = torch.Generator().manual_seed(seed)
        self.white = self._white(members)

    def _white(self, members: int) -> Tensor:
        noise = torch.randn((members, *self.shape), generator=self.generator)
        return torch.fft.rfft2(noise, norm="ortho")  # unit power at every frequency

    def next(self, power: Tensor) -> Tensor:
        """The members' noise at the next lead: ``(members, ny, nx)`` float32.

        Args:
            power: ``(count,)`` wanted power per band (mean ``|rfft2|**2``,
                ``norm="ortho"``), e.g. observed minus forecast; negative values count as 0.
        """
        fresh = self._white(self.white.shape[0])
        self.white = self.phi * self.white + torch.sqrt(1 - self.phi**2) * fresh
        amplitude = torch.sqrt(power.clamp(min=0.0))[self.bands]
        amplitude[0, 0] = 0.0
        return torch.fft.irfft2(self.white * amplitude, s=self.shape, norm="ortho")
