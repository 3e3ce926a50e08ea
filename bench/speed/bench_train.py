"""Training and inference speed of the ConvLSTM presets on the CPU.

Each case builds the preset's model (:func:`nowcast.models.build_model`), its
loss (:func:`nowcast.training.losses.make_loss`) and AdamW
(:func:`nowcast.training.loop.make_optimizer`) and runs the training loop's
step on random input tensors: forward, loss, backward, gradient clipping,
optimizer step. After a few warm-up steps the median step time of the
following steps is reported with samples/s, peak resident memory and the
achieved GFLOP/s.

FLOPs are counted analytically from the model config (:func:`forward_flops`:
2 x multiply-accumulates of every convolution in the forward pass, x 3 for
forward + backward) and checked against ``torch.utils.flop_counter`` on small
frames. The yardsticks are the practical fp32 peaks of this machine, measured
in the same run: the median time of a large square matmul and of a large
convolution. Every case runs in a fresh subprocess so that its peak RSS
(``VmHWM``) is its own. The comparison with Keras/TensorFlow, which has to run
both sides on the same machine, is ``keras_vs_nowcast.py``: it runs this
script's ``--child`` measurements in alternation with ``keras_model.py``.

``--precision bf16`` (or ``auto``, which is bf16 on a CPU with AMX) runs the
cases as the training loop does in that precision: bf16 autocast with
channels-last tensors, and a bf16 convolution ceiling.

Run: ``python bench/speed/bench_train.py [--steps 5] [--warmup 2] [--quick] [--precision fp32]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, TypedDict

import torch
from benchlib import environment, peak_rss_mib

from nowcast.config import ModelConfig, RunConfig, merge
from nowcast.data.transforms import make_transform
from nowcast.models import build_model
from nowcast.presets import apply_preset
from nowcast.training.losses import make_loss
from nowcast.training.optimizer import make_optimizer
from nowcast.training.runtime import (
    autocast_context,
    in_memory_format,
    memory_format,
    resolve_precision,
)

VERSIONS = ("torch", "numpy")


class StepResult(TypedDict):
    """What a train or infer child prints: its timed steps, their work and its memory."""

    step_s: float  # median of the timed steps
    best_s: float
    times: list[float]  # every timed step, in order
    step_flops: float  # analytic FLOPs of one timed step (whole batch)
    params: float
    peak_mib: float  # VmHWM of the child process
    precision: str  # fp32 or bf16, as resolved on this CPU


@dataclass(frozen=True)
class Case:
    """One training measurement: a preset at a frame size, sequence lengths and batch."""

    preset: str
    size: int
    in_len: int
    out_len: int
    batch: int

    @property
    def label(self) -> str:
        """Short description for the tables."""
        frames = f"{self.in_len}+{self.out_len}"
        return f"{self.preset} {self.size}x{self.size} {frames}, batch {self.batch}"


FULL_CASES = (
    Case("keras-example", 64, 10, 9, 1),
    Case("keras-example", 64, 10, 9, 4),
    Case("keras-example", 64, 10, 9, 8),
    Case("shi2015-mnist", 64, 10, 10, 16),
    Case("radar", 128, 5, 12, 4),
)
#: Smaller frames for a run of well under a minute (not comparable with the full run).
QUICK_CASES = (Case("keras-example", 32, 10, 9, 1), Case("radar", 64, 5, 12, 1))


def conv_flops(c_in: int, c_out: int, kernel: int, pixels: int) -> int:
    """FLOPs (2 x MACs) of one square ``kernel`` convolution over ``pixels`` output pixels."""
    return 2 * c_in * c_out * kernel * kernel * pixels


def forward_flops(cfg: ModelConfig, height: int, width: int, in_len: int, out_len: int) -> int:
    """Convolution FLOPs of one forward pass of the encoder-forecaster for one sample.

    Follows :class:`nowcast.models.encoder_forecaster.EncoderForecaster`: frames
    become ``C*p*p`` channels on an ``H/p x W/p`` grid; each encoder layer runs
    its input conv on every input frame and its state conv from the second
    frame on (the state starts at zero and is skipped); each forecaster layer
    runs its state conv on every output step and its input conv on every step
    except in layer 1 (no input unless ``feed_prediction``); a 1x1 conv maps the
    concatenated hidden states to the output frame. Biases, gate
    nonlinearities and peepholes are elementwise and not counted.

    Args:
        cfg: The model architecture.
        height: Frame height in pixels (a multiple of the patch size).
        width: Frame width in pixels (a multiple of the patch size).
        in_len: Input frames.
        out_len: Predicted frames.

    Returns:
        FLOPs per sample (multiply by the batch size and by 3 for a training step).
    """
    p = cfg.patch_size
    pixels = (height // p) * (width // p)
    patch_channels = cfg.in_channels * p * p
    hidden = list(cfg.hidden_channels)
    below = [patch_channels, *hidden[:-1]]
    layers = zip(below, hidden, cfg.input_kernels, cfg.state_kernels, strict=True)
    total = 0
    for i, (c_in, h, k_in, k_state) in enumerate(layers):
        input_conv = conv_flops(c_in, 4 * h, k_in, pixels)
        state_conv = conv_flops(h, 4 * h, k_state, pixels)
        total += in_len * input_conv + (in_len - 1) * state_conv  # encoder
        forecaster_input = input_conv if i > 0 or cfg.feed_prediction else 0
        total += out_len * (forecaster_input + state_conv)  # forecaster
    total += out_len * conv_flops(sum(hidden), patch_channels, 1, pixels)  # output conv
    return total


def run_config(case: Case) -> RunConfig:
    """The preset's resolved config with the case's sequence lengths."""
    cfg = apply_preset(RunConfig(), case.preset)
    return merge(cfg, {"data": {"in_len": case.in_len, "out_len": case.out_len}})


def check_flop_count(size: int = 16, batch: int = 2) -> str:
    """Markdown table: :func:`forward_flops` vs ``FlopCounterMode`` for every preset.

    The counter sees the forward and the backward convolutions; the backward
    of the first encoder layer computes no gradient for the input frames, so
    the measured forward + backward is a little under 3 x forward.
    """
    from torch.utils.flop_counter import FlopCounterMode

    lines = [
        f"| preset ({size}x{size}, batch {batch}) | analytic forward | counted forward "
        "| counted forward + backward / forward |",
        "|---|---:|---:|---:|",
    ]
    for case in {c.preset: c for c in FULL_CASES}.values():
        cfg = run_config(case)
        model = build_model(cfg.model)
        x = torch.rand(batch, case.in_len, 1, size, size)
        with FlopCounterMode(display=False) as forward_only:
            model(x, case.out_len)
        with FlopCounterMode(display=False) as both:
            model(x, case.out_len).square().mean().backward()
        analytic = batch * forward_flops(cfg.model, size, size, case.in_len, case.out_len)
        counted = forward_only.get_total_flops()
        ratio = both.get_total_flops() / counted
        mark = "equal" if analytic == counted else f"differs by {counted - analytic:+d}"
        lines.append(f"| {case.preset} | {analytic:,} | {counted:,} ({mark}) | {ratio:.3f} |")
    return "\n".join(lines)


def train_child(case: Case, warmup: int, steps: int, precision: str = "fp32") -> StepResult:
    """Time training steps of ``case`` in ``precision``; seconds per step and memory.

    ``precision`` as ``train.precision`` takes it (``auto`` resolved as
    ``nowcast train`` resolves it on this CPU), with the training loop's
    autocast and memory format.
    """
    cfg = run_config(case)
    torch.manual_seed(0)
    model = in_memory_format(build_model(cfg.model).train(), CPU, precision)
    loss_fn = make_loss(cfg.train.loss, make_transform(cfg.data))
    optimizer = make_optimizer(model, cfg.train)
    shape = (case.batch, 1, case.size, case.size)
    x = torch.rand(shape[0], case.in_len, *shape[1:])  # (B, T_in, C, H, W)
    y = torch.rand(shape[0], case.out_len, *shape[1:])  # (B, T_out, C, H, W)
    mask = torch.ones_like(y, dtype=torch.bool)
    times = []
    for _ in range(warmup + steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with autocast_context(CPU, precision):
            pred = model(x, case.out_len)
        loss = loss_fn(pred.float(), y, mask)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
        optimizer.step()
        times.append(time.perf_counter() - start)
    flops = forward_flops(cfg.model, case.size, case.size, case.in_len, case.out_len)
    return step_result(times[warmup:], 3.0 * flops * case.batch, model, precision)


CPU = torch.device("cpu")


def step_result(
    times: list[float], step_flops: float, model: torch.nn.Module, precision: str
) -> StepResult:
    """The child's result from its timed steps (warm-up excluded) and the work of one step."""
    return {
        "step_s": statistics.median(times),
        "best_s": min(times),
        "times": times,
        "step_flops": step_flops,
        "params": float(sum(p.numel() for p in model.parameters())),
        "peak_mib": peak_rss_mib(),
        "precision": resolve_precision(CPU, precision),
    }


def infer_child(case: Case, warmup: int, steps: int, precision: str = "fp32") -> StepResult:
    """Time inference (``no_grad``, eval mode) of ``case`` in ``precision``."""
    cfg = run_config(case)
    model = in_memory_format(build_model(cfg.model).eval(), CPU, precision)
    x = torch.rand(case.batch, case.in_len, 1, case.size, case.size)  # (B, T_in, C, H, W)
    times = []
    with torch.no_grad(), autocast_context(CPU, precision):
        for _ in range(warmup + steps):
            start = time.perf_counter()
            model(x, case.out_len)
            times.append(time.perf_counter() - start)
    flops = forward_flops(cfg.model, case.size, case.size, case.in_len, case.out_len)
    return step_result(times[warmup:], float(flops * case.batch), model, precision)


def matmul_child(n: int, repeats: int) -> dict[str, float]:
    """Median GFLOP/s of an ``n x n`` fp32 matmul (2 n^3 FLOPs), after one warm-up."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"gflops": 2.0 * n**3 / seconds / 1e9, "best_gflops": 2.0 * n**3 / min(times) / 1e9}


def conv_child(repeats: int, precision: str = "fp32") -> dict[str, float]:
    """Median GFLOP/s of a large 5x5 convolution (128 -> 512 channels, 16 x 16, batch 16).

    A second yardstick: PyTorch's matmul goes to MKL and its convolutions to
    oneDNN, and on some CPUs oneDNN's 5x5 kernels get closer to the hardware
    peak than MKL's matmul. The shape is that of the shi2015-mnist layer-1
    state convolution; it runs in ``precision`` and the memory format the
    training loop uses for it, so that a bf16 run has a bf16 ceiling.
    """
    fmt = memory_format(CPU, precision)
    x = torch.rand(16, 128, 16, 16).contiguous(memory_format=fmt)
    w = torch.rand(512, 128, 5, 5).contiguous(memory_format=fmt)

    def conv() -> None:
        with autocast_context(CPU, precision):
            torch.nn.functional.conv2d(x, w, padding=2)

    conv()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        conv()
        times.append(time.perf_counter() - start)
    flops = 16 * conv_flops(128, 512, 5, 16 * 16)
    return {
        "gflops": flops / statistics.median(times) / 1e9,
        "best_gflops": flops / min(times) / 1e9,
    }


def spawn(args: list[str], threads: int) -> dict[str, Any]:
    """Run this script with ``--child args`` in a fresh process; return its JSON result."""
    cmd = [sys.executable, __file__, "--threads", str(threads), "--child", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def case_args(kind: str, case: Case, warmup: int, steps: int, precision: str = "fp32") -> list[str]:
    """Command-line arguments of a train or infer child."""
    fields = (case.preset, case.size, case.in_len, case.out_len, case.batch, warmup, steps)
    return [kind, *(str(f) for f in fields), precision]


def train_table(
    cases: tuple[Case, ...],
    peak: float,
    conv: float,
    warmup: int,
    steps: int,
    threads: int,
    precision: str = "fp32",
) -> str:
    """Markdown table of the training cases.

    Achieved GFLOP/s are given as a share of the matmul ``peak`` and of the
    ``conv`` ceiling, both GFLOP/s measured in the same run.
    """
    lines = [
        f"| case | params | median step (s) | best step (s) | samples/s "
        f"| GFLOP per step | GFLOP/s | of matmul peak ({peak:.0f}) | of conv ceiling ({conv:.0f}) "
        "| peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        res = spawn(case_args("train", case, warmup, steps, precision), threads)
        gflops = res["step_flops"] / res["step_s"] / 1e9
        lines.append(
            f"| {case.label} | {res['params']:,.0f} | {res['step_s']:.2f} | {res['best_s']:.2f} "
            f"| {case.batch / res['step_s']:.2f} | {res['step_flops'] / 1e9:.0f} "
            f"| {gflops:.0f} | {gflops / peak:.0%} | {gflops / conv:.0%} | {res['peak_mib']:.0f} |"
        )
    return "\n".join(lines)


def infer_table(
    case: Case,
    peak: float,
    conv: float,
    warmup: int,
    steps: int,
    threads: int,
    precision: str = "fp32",
) -> str:
    """Markdown table of the inference time of ``case`` (``no_grad``, eval mode)."""
    res = spawn(case_args("infer", case, warmup, steps, precision), threads)
    gflops = res["step_flops"] / res["step_s"] / 1e9
    return "\n".join(
        [
            "| inference | median (s) | best (s) | GFLOP/s | of matmul peak | of conv ceiling "
            "| peak RSS (MiB) |",
            "|---|---:|---:|---:|---:|---:|---:|",
            f"| {case.label}, {case.in_len + case.out_len} frames | {res['step_s']:.3f} "
            f"| {res['best_s']:.3f} | {gflops:.0f} | {gflops / peak:.0%} | {gflops / conv:.0%} "
            f"| {res['peak_mib']:.0f} |",
        ]
    )


def run_child(args: list[str]) -> dict[str, float] | StepResult:
    """Dispatch a ``--child`` invocation to the matching measurement."""
    if args[0] == "matmul":
        return matmul_child(int(args[1]), int(args[2]))
    if args[0] == "conv":
        return conv_child(int(args[1]), args[2])
    preset, size, in_len, out_len, batch, warmup, steps, precision = args[1:]
    case = Case(preset, int(size), int(in_len), int(out_len), int(batch))
    measure = train_child if args[0] == "train" else infer_child
    return measure(case, int(warmup), int(steps), precision)


def main() -> None:
    """Parse arguments; run one child measurement or the whole benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per case (median)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--matmul", type=int, default=4096, help="side of the peak matmul")
    parser.add_argument("--matmul-repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--quick", action="store_true", help="2 cases, 1 warm-up + 2 steps")
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16", "auto"),
        default="fp32",
        help="of the cases and the convolution ceiling; auto as `nowcast train` resolves it here",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(run_child(args.child)))
        return
    cases = QUICK_CASES if args.quick else FULL_CASES
    warmup, steps = (1, 2) if args.quick else (args.warmup, args.steps)
    n = 2048 if args.quick else args.matmul
    print(environment(VERSIONS, args.threads), "\n")
    print(check_flop_count(), "\n")
    mm = spawn(["matmul", str(n), str(3 if args.quick else args.matmul_repeats)], args.threads)
    peak = mm["gflops"]
    print(f"fp32 matmul {n}x{n}: median {peak:.0f} GFLOP/s, best {mm['best_gflops']:.0f}\n")
    precision = resolve_precision(CPU, args.precision)
    conv = spawn(["conv", "5" if args.quick else "25", precision], args.threads)["gflops"]
    print(
        f"{precision} 5x5 convolution 128->512 channels, 16x16, batch 16 "
        f"({memory_format(CPU, precision)}): median {conv:.0f} GFLOP/s\n"
    )
    print(f"Training in {precision}: {warmup} warm-up step(s), then the median of {steps}\n")
    print(train_table(cases, peak, conv, warmup, steps, args.threads, precision), "\n")
    print(infer_table(cases[0], peak, conv, warmup, max(steps, 3), args.threads, precision))


if __name__ == "__main__":
    main()
