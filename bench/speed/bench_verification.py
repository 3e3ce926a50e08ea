"""Benchmark the verification accumulators on a KNMI-sized grid (765 x 700).

Measures scoring throughput (frames x thresholds per second) of the
contingency table, the FSS and the continuous sums, shows that memory stays
flat as the number of scored frames grows (tracemalloc peak for a small and a
large number of frames), and times the pySTEPS extrapolation baseline for 12
steps. Prints markdown tables.

Run: ``OMP_NUM_THREADS=1 python bench/speed/bench_verification.py [--frames 10 100]``
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from nowcast.verification import (
    ContingencyTable,
    ContinuousScores,
    FractionsSkillScore,
    extrapolation_available,
    extrapolation_forecast,
    scales_to_pixels,
)

SHAPE = (765, 700)
THRESHOLDS = (0.5, 2.0, 5.0, 10.0, 30.0)
SCALES_KM = (1.0, 5.0, 10.0, 20.0, 40.0)
PIXEL_M = 1000.0


def smooth_rain(rng: np.random.Generator, shape: tuple[int, int], corr_px: float) -> np.ndarray:
    """A smooth random rain-rate field (mm h-1): about 30 % wet, log-normal intensities."""
    noise = np.fft.rfft2(rng.standard_normal(shape))
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    field = np.fft.irfft2(noise * np.exp(-((ky**2 + kx**2) * (np.pi * corr_px) ** 2)), s=shape)
    field = (field - field.mean()) / field.std()
    return np.where(field > 0.5, np.exp(1.2 * field) - np.exp(0.6), 0.0).astype(np.float32)


def make_pairs(n_pairs: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Forecast/observation pairs: the forecast is the observation displaced and perturbed."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n_pairs):
        obs = smooth_rain(rng, SHAPE, 12.0)
        fc = np.roll(obs, (3, -2), axis=(0, 1)) * rng.uniform(0.8, 1.2)
        obs[:, :40] = np.nan  # a strip outside the radar coverage
        pairs.append((fc.astype(np.float32), obs))
    return pairs


def time_updates(
    update: Callable[[np.ndarray, np.ndarray], None], pairs: list, n: int
) -> tuple[float, float]:
    """Best and median seconds per update over ``n`` updates cycling through ``pairs``.

    The best is the robust number on a shared machine; the median shows the spread.
    """
    times = []
    for i in range(n):
        fc, ob = pairs[i % len(pairs)]
        start = time.perf_counter()
        update(fc, ob)
        times.append(time.perf_counter() - start)
    return min(times), float(np.median(times))


def throughput_table(pairs: list, n: int) -> str:
    """Markdown table of time per frame and frames x thresholds per second."""
    scales_px = scales_to_pixels(SCALES_KM, PIXEL_M)
    n_thr = len(THRESHOLDS)
    table = ContingencyTable(THRESHOLDS, 1)
    fss = FractionsSkillScore(THRESHOLDS, scales_px, 1)
    cont = ContinuousScores(1)
    cases = [
        ("contingency table", lambda f, o: table.update(0, f, o), n_thr, f"{n_thr} thresholds"),
        (
            "FSS",
            lambda f, o: fss.update(0, f, o),
            n_thr,
            f"{n_thr} thresholds x {len(scales_px)} scales {scales_px} px",
        ),
        ("continuous sums", lambda f, o: cont.update(0, f, o), 1, "MSE/MAE/ME/corr (frames/s)"),
    ]
    lines = [
        "| accumulator | best / median per frame (ms) | frames x thresholds / s (best) | setting |",
        "|---|---:|---:|---|",
    ]
    for name, update, per_frame, setting in cases:
        best, median = time_updates(update, pairs, n)
        lines.append(
            f"| {name} | {best * 1e3:.1f} / {median * 1e3:.1f} | {per_frame / best:.0f} "
            f"| {setting} |"
        )
    return "\n".join(lines)


def peak_memory(pairs: list, n_frames: int) -> tuple[float, float]:
    """tracemalloc peak (MiB) and seconds of scoring ``n_frames`` frames with all accumulators."""
    scales_px = scales_to_pixels(SCALES_KM, PIXEL_M)
    table = ContingencyTable(THRESHOLDS, 1)
    fss = FractionsSkillScore(THRESHOLDS, scales_px, 1)
    cont = ContinuousScores(1)
    tracemalloc.start()
    start = time.perf_counter()
    for i in range(n_frames):
        fc, ob = pairs[i % len(pairs)]
        table.update(0, fc, ob)
        fss.update(0, fc, ob)
        cont.update(0, fc, ob)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20, seconds


def memory_table(pairs: list, frame_counts: list[int]) -> str:
    """Markdown table of the tracemalloc peak for each number of frames."""
    lines = [
        "| frames scored | tracemalloc peak (MiB) | wall time (s) |",
        "|---:|---:|---:|",
    ]
    for n_frames in frame_counts:
        peak, seconds = peak_memory(pairs, n_frames)
        lines.append(f"| {n_frames} | {peak:.1f} | {seconds:.1f} |")
    return "\n".join(lines)


def extrapolation_table(steps: int = 12, repeats: int = 2) -> str:
    """Markdown table of the pySTEPS extrapolation time on the full grid."""
    if not extrapolation_available():
        return "extrapolation baseline skipped: pysteps/OpenCV not installed"
    rng = np.random.default_rng(1)
    big = smooth_rain(rng, (SHAPE[0] + 40, SHAPE[1] + 40), 12.0)
    # three input frames moving 2 px south and 1 px east per step
    frames = np.stack(
        [big[40 - 2 * t : 40 - 2 * t + SHAPE[0], 40 - t : 40 - t + SHAPE[1]] for t in range(3)]
    )
    frames[:, :, :40] = np.nan
    extrapolation_forecast(frames[:2, :64, :64], 1)  # import pysteps outside the timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forecast = extrapolation_forecast(frames, steps)
        times.append(time.perf_counter() - start)
    lines = [
        "| baseline | grid | input frames | steps | best of "
        f"{repeats} (s) | NaN share of last step |",
        "|---|---|---:|---:|---:|---:|",
        f"| LK + semi-Lagrangian | {SHAPE[0]} x {SHAPE[1]} | 3 | {steps} | {min(times):.2f} "
        f"| {np.isnan(forecast[-1]).mean():.3f} |",
    ]
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, run the three measurements, print markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--timing-frames", type=int, default=10)
    parser.add_argument("--no-extrapolation", action="store_true")
    args = parser.parse_args()
    pairs = make_pairs(4)
    cpu = platform.processor() or platform.machine()
    print(
        f"grid {SHAPE[0]} x {SHAPE[1]}, thresholds {THRESHOLDS} mm h-1, "
        f"FSS scales {SCALES_KM} km; numpy {np.__version__}, {cpu}\n"
    )
    print(throughput_table(pairs, args.timing_frames), "\n")
    print(memory_table(pairs, args.frames), "\n")
    if not args.no_extrapolation:
        print(extrapolation_table())


if __name__ == "__main__":
    main()
