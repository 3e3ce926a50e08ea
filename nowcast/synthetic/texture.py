"""The evolving power-law texture under the synthetic rain field: :class:`Texture`.

The texture is the one part of the generator that works in Fourier space on
the periodic world; it has its own random stream and its own tests (the
spectral slope), so it lives apart from the motion, cells and rate map of
:mod:`nowcast.synthetic.model`. The model is described in words in
:mod:`nowcast.synthetic.generate`.
"""

from __future__ import annotations

import math

import numpy as np

from nowcast.synthetic.params import SyntheticParams

#: Scale (km) below which the large-scale field no longer steers cell births.
_CELL_STEER_KM = 50.0
#: Scale (km) above which texture variance is suppressed (the weather system's size).
_OUTER_SCALE_KM = 300.0


class Texture:
    """Slowly evolving, power-law filtered Gaussian noise on the periodic world.

    The Fourier coefficients are ``A cos(phi_k t) + B sin(phi_k t)`` with ``A``
    and ``B`` independent filtered white noise, so every time slice is a
    Gaussian field of the same spectrum, and mode ``k`` decorrelates after
    about ``1 / phi_k`` seconds (shorter for smaller scales).
    """

    def __init__(self, p: SyntheticParams, world: int, pixel_km: float, seed: int) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1, world]))
        ky = (np.fft.fftfreq(world) / pixel_km)[:, None]  # cycles/km, along rows (south)
        kx = (np.fft.rfftfreq(world) / pixel_km)[None, :]
        filt = self._filter(p, kx, -ky)
        self.world = world
        self.a = self._realisation(rng, filt)
        self.b = self._realisation(rng, filt)
        self.rate = self._rates(p, rng, np.hypot(kx, ky))
        self.steer = (np.hypot(kx, ky) < 1.0 / _CELL_STEER_KM).astype(np.float32)

    @staticmethod
    def _filter(p: SyntheticParams, kx: np.ndarray, ky_north: np.ndarray) -> np.ndarray:
        """Amplitude filter ``sqrt(P(k))`` with an anisotropic wavenumber and a scale break."""
        band = math.radians(p.band_deg)
        along = kx * math.cos(band) + ky_north * math.sin(band)
        across = -kx * math.sin(band) + ky_north * math.cos(band)
        k = np.hypot(along * p.aspect, across / p.aspect)
        kb = 1.0 / p.scale_break_km
        k_safe = np.where(k > 0, k, kb)
        small = k_safe ** (-p.beta_small / 2)
        large = kb ** (-p.beta_small / 2) * (k_safe / kb) ** (-p.beta_large / 2)
        filt = np.where(k_safe >= kb, small, large)
        filt *= k_safe / np.hypot(k_safe, 1.0 / _OUTER_SCALE_KM)
        filt[0, 0] = 0.0
        return filt

    def _realisation(self, rng: np.random.Generator, filt: np.ndarray) -> np.ndarray:
        """Filtered white noise, spectrum scaled so its field has unit variance."""
        white = rng.standard_normal((self.world, self.world))
        spec = np.fft.rfft2(white) * filt
        std = float(np.fft.irfft2(spec, s=white.shape).std())
        return (spec / std).astype(np.complex64)

    def _rates(self, p: SyntheticParams, rng: np.random.Generator, k: np.ndarray) -> np.ndarray:
        """Turning rate of each mode, rad/s: ``1.19 / lifetime(scale)`` times a jitter.

        ``cos(1.19) = e^-1``: a mode's correlation drops to 1/e after its lifetime,
        ``lifetime_10km * (scale / 10 km)^0.7`` clipped to 4 min .. 8 h. The
        +-25 % jitter stops modes of one scale from re-aligning periodically; it
        is made symmetric in ``ky`` on the self-conjugate columns of the real FFT.
        """
        scale = 1.0 / np.where(k > 0, k, 1e-9)
        lifetime = p.lifetime_10km_min * 60.0 * (scale / 10.0) ** 0.7
        lifetime = np.clip(lifetime, 240.0, 8 * 3600.0)
        jitter = rng.uniform(0.75, 1.25, size=k.shape)
        flip = (-np.arange(self.world)) % self.world
        for col in {0, k.shape[1] - 1}:
            jitter[:, col] = 0.5 * (jitter[:, col] + jitter[flip, col])
        return 1.19 / lifetime * jitter

    def spectrum(self, t_s: float) -> np.ndarray:
        """Fourier coefficients of the texture at time ``t_s`` seconds."""
        phase = np.mod(self.rate * t_s, 2.0 * np.pi).astype(np.float32)
        return self.a * np.cos(phase) + self.b * np.sin(phase)

    def field(self, t_s: float) -> np.ndarray:
        """The texture on the world grid at ``t_s``, float32 ``(world, world)``."""
        return np.fft.irfft2(self.spectrum(t_s), s=(self.world, self.world))

    def large_scale(self, t_s: float) -> np.ndarray:
        """Standardised large-scale part of the texture at ``t_s`` (steers cell births)."""
        low = np.fft.irfft2(self.spectrum(t_s) * self.steer, s=(self.world, self.world))
        return (low - low.mean()) / max(float(low.std()), 1e-6)
