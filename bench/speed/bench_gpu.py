"""Training and inference speed of the ConvLSTM presets on a CUDA GPU, per precision.

Each case runs the training loop's step (forward under autocast, loss,
backward, gradient clipping, AdamW; a gradient scaler for fp16) on random
tensors already on the GPU, so the numbers are the model's, not the data
pipeline's. ``fp32`` is strict IEEE float32 (TF32 off); ``tf32`` is what
``nowcast train --precision fp32`` does on a GPU (TF32 matmuls and
convolutions on); ``bf16``/``fp16`` are autocast as in training. The yardstick
is a large bf16 and TF32 matmul measured in the same run. Times are medians
of CUDA-synchronised wall-clock steps after warm-up; memory is
``torch.cuda.max_memory_allocated``.

Run on a GPU machine: ``python bench/speed/bench_gpu.py [--steps 20] [--compile]``
(``bench/speed/gpu_check.sh`` runs it with the CUDA tests).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from bench_train import Case, forward_flops, run_config
from benchlib import environment

from nowcast.data.transforms import make_transform
from nowcast.forecasting.model_choice import load_model, resolve_model
from nowcast.forecasting.predict import predict
from nowcast.models import build_model
from nowcast.training.losses import make_loss
from nowcast.training.optimizer import make_optimizer
from nowcast.training.runtime import autocast_context, make_grad_scaler

VERSIONS = ("torch", "numpy")
CUDA = torch.device("cuda")
PRECISIONS = ("fp32", "tf32", "bf16", "fp16")
CASES = (
    Case("shi2015-mnist", 64, 10, 10, 16),
    Case("shi2015-mnist", 64, 10, 10, 64),
    Case("radar", 128, 5, 12, 16),
    Case("radar", 256, 5, 12, 16),
)


def set_tf32(enabled: bool) -> None:
    """TF32 on or off for matmuls and cuDNN convolutions."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def cuda_median(fn: Callable[[], object], warmup: int, steps: int) -> tuple[float, float]:
    """Median and best seconds of ``fn`` over ``steps`` synchronised calls after ``warmup``."""
    times = []
    for i in range(warmup + steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def matmul_tflops(n: int, dtype: torch.dtype, tf32: bool) -> float:
    """Median TFLOP/s of an ``n x n`` matmul in ``dtype``."""
    set_tf32(tf32)
    a = torch.rand(n, n, device=CUDA, dtype=dtype)
    b = torch.rand(n, n, device=CUDA, dtype=dtype)
    median, _ = cuda_median(lambda: a @ b, 3, 10)
    return 2.0 * n**3 / median / 1e12


def train_case(
    case: Case, precision: str, warmup: int, steps: int, compile_: bool
) -> dict[str, Any]:
    """Median step time, samples/s, TFLOP/s and peak memory of one case in ``precision``."""
    set_tf32(precision != "fp32")
    torch.backends.cudnn.benchmark = True
    cfg = run_config(case)
    torch.manual_seed(0)
    model = build_model(cfg.model).to(CUDA).train()
    net = torch.compile(model) if compile_ else model
    loss_fn = make_loss(cfg.train.loss, make_transform(cfg.data))
    optimizer = make_optimizer(model, cfg.train)
    amp = "fp32" if precision == "tf32" else precision
    scaler = make_grad_scaler(CUDA, amp)
    x = torch.rand(case.batch, case.in_len, 1, case.size, case.size, device=CUDA)
    y = torch.rand(case.batch, case.out_len, 1, case.size, case.size, device=CUDA)
    mask = torch.ones_like(y, dtype=torch.bool)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast_context(CUDA, amp):
            loss = loss_fn(net(x, case.out_len), y, mask)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
        scaler.step(optimizer)
        scaler.update()

    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    step()  # the first step pays cuDNN autotuning and, with compile, compilation
    torch.cuda.synchronize()
    first = time.perf_counter() - start
    median, best = cuda_median(step, warmup, steps)
    flops = 3.0 * forward_flops(cfg.model, case.size, case.size, case.in_len, case.out_len)
    return {
        "case": case.label,
        "precision": precision + (" + compile" if compile_ else ""),
        "first_s": first,
        "step_ms": 1e3 * median,
        "best_ms": 1e3 * best,
        "samples_per_s": case.batch / median,
        "tflops": flops * case.batch / median / 1e12,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
    }


#: Inference throughput: the shi2015-mnist model on Moving MNIST sequences (10 in, 10 out).
INFER_CASE = Case("shi2015-mnist", 64, 10, 10, 64)


def infer_case(case: Case, precision: str, warmup: int, steps: int) -> dict[str, Any]:
    """Sequences per second of ``no_grad`` inference of ``case`` in ``precision``.

    The number OpenSTL reports for its models (113 sequences/s for
    ConvLSTM-S on a V100): a batch of whole sequences through the model,
    CUDA-synchronised, after warm-up.
    """
    set_tf32(precision != "fp32")
    torch.backends.cudnn.benchmark = True
    cfg = run_config(case)
    model = build_model(cfg.model).to(CUDA).eval()
    amp = "fp32" if precision == "tf32" else precision
    x = torch.rand(case.batch, case.in_len, 1, case.size, case.size, device=CUDA)

    def run() -> None:
        with torch.no_grad(), autocast_context(CUDA, amp):
            model(x, case.out_len)

    median, best = cuda_median(run, warmup, steps)
    return {"precision": precision, "seq_per_s": case.batch / median, "best": case.batch / best}


def forecast_case(ny: int, nx: int, steps: int) -> dict[str, Any]:
    """Time a ``steps``-step forecast of the bundled model on an ``ny x nx`` grid (one tile)."""
    set_tf32(True)
    loaded = load_model(resolve_model("default"), CUDA)
    frames = torch.rand(loaded.in_len, ny, nx).numpy()

    def run() -> None:
        predict(loaded.model, frames, steps, patch=loaded.patch_size, device=CUDA, tile=max(ny, nx))

    median, best = cuda_median(run, 2, 5)
    return {"grid": f"{ny}x{nx}", "steps": steps, "median_s": median, "best_s": best}


def main() -> None:
    """Run every case and print markdown tables for docs/performance.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per case (median)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps after the first")
    parser.add_argument("--compile", action="store_true", help="add a bf16 + torch.compile case")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench_gpu.py needs a CUDA GPU")
    print(environment(VERSIONS, torch.get_num_threads()))
    print(f"GPU: {torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}\n")
    bf16 = matmul_tflops(8192, torch.bfloat16, tf32=False)
    tf32 = matmul_tflops(8192, torch.float32, tf32=True)
    print(f"8192^3 matmul: bf16 {bf16:.0f} TFLOP/s, tf32 {tf32:.0f} TFLOP/s\n")
    print(
        "| case | precision | first step (s) | median step (ms) | best (ms) | samples/s "
        "| TFLOP/s | of bf16 matmul | peak GPU memory (GiB) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    runs = [(case, p, False) for case in CASES for p in PRECISIONS]
    if args.compile:
        runs.append((CASES[0], "bf16", True))
    for case, precision, compile_ in runs:
        try:
            r = train_case(case, precision, args.warmup, args.steps, compile_)
        except Exception as exc:  # torch.compile may fail in the backend; report, go on
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:120]
            print(f"| {case.label} | {precision} + compile | failed: {reason} |||||||")
            continue
        print(
            f"| {r['case']} | {r['precision']} | {r['first_s']:.1f} | {r['step_ms']:.1f} "
            f"| {r['best_ms']:.1f} | {r['samples_per_s']:.0f} | {r['tflops']:.1f} "
            f"| {r['tflops'] / bf16:.1%} | {r['peak_gib']:.2f} |",
            flush=True,
        )
    print(f"\n| inference, {INFER_CASE.label} | precision | sequences/s (median) | best |")
    print("|---|---|---:|---:|")
    for precision in ("tf32", "bf16"):
        r = infer_case(INFER_CASE, precision, args.warmup, args.steps)
        print(f"| | {r['precision']} | {r['seq_per_s']:.0f} | {r['best']:.0f} |", flush=True)
    print("\n| forecast, bundled model | median (s) | best (s) |\n|---|---:|---:|")
    for ny, nx in ((765, 700), (2200, 1900)):
        r = forecast_case(ny, nx, 12)
        print(f"| {r['grid']}, {r['steps']} steps | {r['median_s']:.3f} | {r['best_s']:.3f} |")


if __name__ == "__main__":
    main()
