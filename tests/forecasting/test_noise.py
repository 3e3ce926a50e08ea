"""Spectral noise: octave bands, band power and correlation, and noise with a set power."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nowcast.forecasting.noise import (
    LOG_OFFSET,
    BandNoise,
    band_correlation,
    band_index,
    band_power,
    log_domain,
)


def _spectrum(field: torch.Tensor) -> torch.Tensor:
    return torch.fft.rfft2(field, norm="ortho")


def _corr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(np.corrcoef(a.flatten().numpy(), b.flatten().numpy())[0, 1])


@pytest.mark.parametrize(("shape", "count"), [((64, 64), 7), ((128, 128), 8), ((100, 30), 8)])
def test_bands_are_octaves_of_wavelength_with_band_0_the_mean_only(
    shape: tuple[int, int], count: int
) -> None:
    bands, n = band_index(shape)

    assert n == count
    assert bands.shape == (shape[0], shape[1] // 2 + 1) and bands.dtype == torch.int64
    assert bands[0, 0] == 0 and int((bands == 0).sum()) == 1
    fy = torch.fft.fftfreq(shape[0]).abs()[:, None]
    fx = torch.fft.rfftfreq(shape[1])[None, :]
    wavelength = 1.0 / torch.sqrt(fy**2 + fx**2)
    inner = (bands >= 2) & (bands < n - 1)  # bands with both octave edges inside the grid
    low, high = 2.0 ** bands[inner].double(), 2.0 ** (bands[inner] + 1).double()
    assert torch.all((wavelength[inner] >= low) & (wavelength[inner] < high))
    assert torch.all(wavelength[bands == 1] < 4.0)  # down to the shortest (diagonal) wave
    assert torch.all(wavelength[bands == n - 1] >= 2.0 ** (n - 1))  # and up to the longest
    # The longest wave along the larger side sets the last band in use (empty beyond it
    # on a grid whose side is no power of 2, e.g. 100 pixels: 64-128 is band 6 of 0-7).
    assert int(bands.max()) == int(np.log2(max(shape)))


def test_64_pixels_have_bands_of_2_to_4_up_to_64_pixels() -> None:
    bands, count = band_index((64, 64))

    assert count == 7
    assert bands[0, 1] == 6  # 64 pixels
    assert bands[0, 2] == 5  # 32 pixels
    assert bands[0, 8] == 3 and bands[8, 0] == 3  # 8 pixels, either axis
    assert bands[0, 32] == 1 and bands[32, 32] == 1  # 2 pixels, 1.4 on the diagonal


@pytest.mark.parametrize(("axis", "wavelength", "band"), [(1, 8, 3), (0, 16, 4), (1, 4, 2)])
def test_the_power_of_a_pure_wave_lies_in_its_band(axis: int, wavelength: int, band: int) -> None:
    n = 64
    position = torch.arange(n, dtype=torch.float32)
    wave = torch.sin(2 * torch.pi * position / wavelength)
    field = wave[None, :].expand(n, n) if axis == 1 else wave[:, None].expand(n, n)
    bands, count = band_index((n, n))

    power = band_power(_spectrum(field.contiguous()), bands, count)

    assert power.shape == (count,)
    assert int(power.argmax()) == band
    others = torch.cat([power[:band], power[band + 1 :]])
    assert float(others.max()) < 1e-6 * float(power[band])
    # The sum of squares (n * n / 2) is shared by the frequencies +f and -f; rfft2 holds
    # both for a wave along y (the column fx = 0), only +f for one along x.
    sizes = torch.bincount(bands.flatten(), minlength=count)
    held = 2 if axis == 0 else 1
    assert float(power[band] * sizes[band]) == pytest.approx(held * n * n / 4, rel=1e-4)


def test_band_power_keeps_leading_dimensions() -> None:
    fields = torch.randn((3, 2, 32, 32), generator=torch.Generator().manual_seed(0))
    bands, count = band_index((32, 32))

    power = band_power(_spectrum(fields), bands, count)

    assert power.shape == (3, 2, count)
    torch.testing.assert_close(power[1, 0], band_power(_spectrum(fields[1, 0]), bands, count))


def test_log_domain_puts_the_covered_mean_outside_the_coverage() -> None:
    fields = np.array([[[0.0, 9.99], [np.nan, -1.0]]], dtype=np.float32)
    covered = np.array([[True, True], [False, True]])

    z = log_domain(fields, covered)

    assert z.dtype == torch.float32 and z.shape == (1, 2, 2)
    inside = [np.log10(LOG_OFFSET), 1.0, np.log10(LOG_OFFSET)]  # negative rain is none
    np.testing.assert_allclose(z[0][torch.from_numpy(covered)].numpy(), inside, rtol=1e-6)
    assert float(z[0, 1, 0]) == pytest.approx(np.mean(inside), rel=1e-6)


def test_noise_is_reproducible_with_its_seed() -> None:
    correlation = torch.full((7,), 0.5)
    power = torch.ones(7)
    first, again, other = (BandNoise((64, 64), 3, correlation, seed) for seed in (7, 7, 8))

    for _ in range(3):
        a, b, c = first.next(power), again.next(power), other.next(power)
        assert a.shape == (3, 64, 64) and a.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert not torch.allclose(a, c)
    assert not torch.allclose(a[0], a[1])  # members are independent draws


def test_zero_or_negative_power_gives_zeros() -> None:
    noise = BandNoise((32, 32), 2, torch.zeros(6), 0)

    assert torch.count_nonzero(noise.next(torch.zeros(6))) == 0
    assert torch.count_nonzero(noise.next(torch.full((6,), -3.0))) == 0


def test_the_noise_has_the_power_asked_for_in_every_band() -> None:
    shape = (128, 128)
    bands, count = band_index(shape)
    wanted = torch.tensor([5.0, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0])
    noise = BandNoise(shape, 64, torch.zeros(count), seed=3)

    fields = noise.next(wanted)

    got = band_power(_spectrum(fields), bands, count).mean(0)
    assert float(got[0]) < 1e-8  # the mean (band 0) is never filled
    torch.testing.assert_close(got[1:], wanted[1:], rtol=0.2, atol=0)
    assert float(fields.mean((1, 2)).abs().max()) < 1e-5


def test_a_correlation_near_1_keeps_the_field_and_0_draws_a_new_one() -> None:
    shape = (128, 128)
    _, count = band_index(shape)
    power = torch.ones(count)
    steady = BandNoise(shape, 2, torch.full((count,), 0.999), seed=1)
    fresh = BandNoise(shape, 2, torch.zeros(count), seed=1)

    a, b = steady.next(power), steady.next(power)
    c, d = fresh.next(power), fresh.next(power)

    for m in range(2):
        assert _corr(a[m], b[m]) > 0.995
        assert float((a[m] - b[m]).std() / a[m].std()) < 0.1
        assert abs(_corr(c[m], d[m])) < 0.05


def test_band_correlation_of_a_field_with_itself_is_the_clip_and_of_noise_about_0() -> None:
    shape = (128, 128)
    bands, count = band_index(shape)
    generator = torch.Generator().manual_seed(2)
    first, second = torch.randn((2, *shape), generator=generator)
    sizes = torch.bincount(bands.flatten(), minlength=count)

    itself = band_correlation(first, first, bands, count)
    independent = band_correlation(first, second, bands, count)

    assert itself.shape == independent.shape == (count,)
    torch.testing.assert_close(itself, torch.full((count,), 0.999))
    assert torch.all((independent >= 0) & (independent <= 0.999))  # clipped
    assert float(independent[sizes >= 300].max()) < 0.1  # bands of many frequencies
    assert float(band_correlation(first, -first, bands, count)[1:].max()) == 0.0


def test_band_correlation_of_a_shifted_smooth_field_is_high_at_large_scales() -> None:
    shape = (128, 128)
    bands, count = band_index(shape)
    y, x = np.mgrid[0:128, 0:128]
    blob = np.exp(-((x - 60.0) ** 2 + (y - 64.0) ** 2) / (2 * 12.0**2))
    moved = np.roll(blob, 1, axis=1)
    first, second = (torch.from_numpy(f.astype(np.float32)) for f in (blob, moved))

    correlation = band_correlation(first, second, bands, count)

    assert float(correlation[count - 3]) > 0.9  # wavelengths of 32-64 pixels barely change
