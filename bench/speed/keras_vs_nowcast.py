"""Keras/TensorFlow against nowcast on the keras-example model, both sides in the same run.

A speed ratio means something only when both sides run on the same machine at
the same time: the medians of a shared machine move from run to run, and
another machine's numbers carry its own CPU and load. So, for each case
(training step at batch 1 and 4, inference of a sequence at batch 1), this
script runs rounds; each round is one fresh process of our side, then one of
the Keras side, so that a slow phase of the machine hits both alike:

- nowcast: ``bench_train.py --child``, the training loop's step (forward,
  loss, backward, gradient clipping, AdamW) or ``no_grad`` inference of the
  ``keras-example`` preset, 10 frames in and 9 out, in this environment;
- Keras/TF: ``keras_model.py``, the Keras ConvLSTM2D next-frame example whose
  sizes the preset takes (``train_on_batch`` with Adam, ``predict_on_batch``)
  on the same 19 frames, run with the Python of a separate TensorFlow
  environment (``--keras-python``).

Each process times its own steps after warm-up steps and prints their median,
the single times, the analytic FLOPs of a step and its peak RSS (``VmHWM``).
The report gives, per case and side, the median over the rounds of each
process's median step, the ratio Keras/TF over nowcast (above 1: nowcast is
faster) with the range of the ratios of single rounds, GFLOP/s, and the
largest peak RSS of the rounds. The two models do nearly, not exactly, the
same convolution work (``keras_model.keras_flops`` says why), hence the
GFLOP per step of each side. Without ``--keras-python``, or where TensorFlow
does not import with it, only our side is measured.

Precision: ``--precision`` is our side's ``train.precision`` (default ``auto``,
what ``nowcast train`` uses on this CPU: bf16 with AMX, else fp32) and
``--keras-precision`` Keras' (default ``fp32``, its own default; ``bf16`` is
its ``mixed_bfloat16`` policy). Both precisions are printed with the report;
run ``--precision fp32`` for float32 on both sides and ``--precision bf16
--keras-precision bf16`` for bf16 on both.

Run: ``python bench/speed/keras_vs_nowcast.py --keras-python /tmp/tfvenv/bin/python``
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from bench_train import VERSIONS, Case, case_args, spawn
from benchlib import environment

from nowcast.config import RunConfig
from nowcast.presets import apply_preset
from nowcast.training.runtime import resolve_precision

PRESET = "keras-example"
KERAS_SCRIPT = Path(__file__).with_name("keras_model.py")
#: TensorFlow's C++ start-up messages off: the child's stderr is shown only when it fails.
KERAS_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
SETUP = "python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0"


@dataclass(frozen=True)
class Work:
    """One compared case: ``train`` or ``infer`` at a batch size."""

    mode: str
    batch: int

    @property
    def label(self) -> str:
        """Short description for the tables."""
        what = "training step" if self.mode == "train" else "inference"
        return f"{what}, batch {self.batch}"


def parse_work(text: str) -> Work:
    """``train:4`` or ``infer:1`` (the ``--cases`` syntax) as a :class:`Work`."""
    mode, _, batch = text.partition(":")
    if mode not in ("train", "infer") or not batch.isdigit() or int(batch) < 1:
        raise argparse.ArgumentTypeError(f"expected train:B or infer:B, got {text!r}")
    return Work(mode, int(batch))


def probe_keras(python: str | None) -> tuple[str | None, str]:
    """Check that ``python`` imports TensorFlow and Keras.

    Returns:
        ``(python, versions)`` when it does, else ``(None, why not)``.
    """
    if python is None:
        return None, "no --keras-python given"
    code = (
        "import platform, tensorflow as tf, keras; "
        "print(f'TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        "Python {platform.python_version()}')"
    )
    try:
        done = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, env=KERAS_ENV, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"{python} does not run ({err})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no error message"])[-1]
        return None, f"TensorFlow/Keras do not import with {python} ({last})"
    return python, done.stdout.strip().splitlines()[-1]


def run_ours(work: Work, args: argparse.Namespace, in_len: int, out_len: int) -> dict[str, Any]:
    """One process of our side (``bench_train.py --child``); its JSON result."""
    case = Case(PRESET, args.size, in_len, out_len, work.batch)
    steps = args.steps if work.mode == "train" else args.infer_steps
    return spawn(case_args(work.mode, case, args.warmup, steps, args.precision), args.threads)


def run_keras(work: Work, args: argparse.Namespace, python: str, frames: int) -> dict[str, Any]:
    """One process of the Keras side (``keras_model.py``); its JSON result.

    Raises:
        RuntimeError: when the process fails, with the end of its stderr.
    """
    steps = args.steps if work.mode == "train" else args.infer_steps
    cmd = [python, str(KERAS_SCRIPT), "--mode", work.mode, "--batch", str(work.batch)]
    cmd += ["--size", str(args.size), "--frames", str(frames), "--steps", str(steps)]
    cmd += ["--warmup", str(args.warmup), "--threads", str(args.threads)]
    cmd += ["--precision", args.keras_precision]
    done = subprocess.run(cmd, capture_output=True, text=True, env=KERAS_ENV)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def seconds(results: list[dict[str, Any]]) -> list[float]:
    """The median step of each round's process."""
    return [r["step_s"] for r in results]


def time_row(work: Work, ours: list[dict[str, Any]], keras: list[dict[str, Any]]) -> str:
    """Markdown row of step times: medians over rounds, ratio, best steps, rounds' medians."""
    mine = statistics.median(seconds(ours))
    best = min(r["best_s"] for r in ours)
    rounds = ", ".join(f"{s:.3f}" for s in seconds(ours))
    if not keras:
        return f"| {work.label} | {mine:.3f} | - | - | - | {best:.3f} | - | {rounds} | - |"
    theirs = statistics.median(seconds(keras))
    ratios = [k / o for k, o in zip(seconds(keras), seconds(ours), strict=True)]
    keras_rounds = ", ".join(f"{s:.3f}" for s in seconds(keras))
    return (
        f"| {work.label} | {mine:.3f} | {theirs:.3f} | **{theirs / mine:.2f}** "
        f"| {min(ratios):.2f}-{max(ratios):.2f} | {best:.3f} "
        f"| {min(r['best_s'] for r in keras):.3f} | {rounds} | {keras_rounds} |"
    )


def work_row(work: Work, ours: list[dict[str, Any]], keras: list[dict[str, Any]]) -> str:
    """Markdown row of work and memory: GFLOP per step, GFLOP/s, parameters, peak RSS."""
    cells = []
    for side in (ours, keras):
        if not side:
            cells.append(("-", "-", "-", "-"))
            continue
        flops = side[0]["step_flops"]
        cells.append(
            (
                f"{flops / 1e9:.1f}",
                f"{flops / statistics.median(seconds(side)) / 1e9:.1f}",
                f"{side[0]['params']:,.0f}",
                f"{max(r['peak_mib'] for r in side):.0f}",
            )
        )
    (gf, gfs, params, rss), (k_gf, k_gfs, k_params, k_rss) = cells
    return (
        f"| {work.label} | {gf} | {k_gf} | {gfs} | {k_gfs} | {params} | {k_params} "
        f"| {rss} | {k_rss} |"
    )


def tables(rows: list[tuple[Work, list[dict[str, Any]], list[dict[str, Any]]]]) -> str:
    """The two markdown tables of the report (``-`` where Keras was not measured)."""
    head_time = [
        "| case | nowcast (s) | Keras/TF (s) | Keras/TF / nowcast | single rounds "
        "| nowcast best (s) | Keras/TF best (s) | nowcast, per round (s) "
        "| Keras/TF, per round (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    head_work = [
        "| case | nowcast GFLOP/step | Keras/TF GFLOP/step | nowcast GFLOP/s | Keras/TF GFLOP/s "
        "| nowcast params | Keras/TF params | nowcast peak RSS (MiB) | Keras/TF peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    times = [time_row(w, o, k) for w, o, k in rows]
    work = [work_row(w, o, k) for w, o, k in rows]
    return "\n".join(head_time + times) + "\n\n" + "\n".join(head_work + work)


def main() -> None:
    """Parse the arguments, run the alternating rounds and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras-python", help=f"Python of a TensorFlow environment ({SETUP})")
    parser.add_argument("--rounds", type=int, default=5, help="process pairs per case")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per process")
    parser.add_argument("--infer-steps", type=int, default=5, help="timed inferences per process")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (>= 1)")
    parser.add_argument("--size", type=int, default=64, help="frame side (the example's 64)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="nowcast's train.precision (default auto: what `nowcast train` uses on this CPU)",
    )
    parser.add_argument(
        "--keras-precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="Keras' policy: fp32 (its default) or bf16 (mixed_bfloat16)",
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        type=parse_work,
        default=[Work("train", 1), Work("train", 4), Work("infer", 1)],
        help="train:B or infer:B (default: train:1 train:4 infer:1)",
    )
    args = parser.parse_args()
    if min(args.rounds, args.steps, args.infer_steps, args.warmup) < 1:
        parser.error("--rounds, --steps, --infer-steps and --warmup must be at least 1")
    command = shlex.join(["python", *sys.argv])
    data = apply_preset(RunConfig(), PRESET).data
    frames = data.in_len + data.out_len
    python, keras_versions = probe_keras(args.keras_python)
    if python is None:
        print(
            f"Keras/TF side NOT measured: {keras_versions}. Measuring nowcast only. "
            f"Set up TensorFlow with `{SETUP}` and pass --keras-python /tmp/tfvenv/bin/python.",
            file=sys.stderr,
            flush=True,
        )
    header = environment(VERSIONS, args.threads)
    rows = []
    for work in args.cases:
        ours: list[dict[str, Any]] = []
        keras: list[dict[str, Any]] = []
        for i in range(args.rounds):
            ours.append(run_ours(work, args, data.in_len, data.out_len))
            note = f"nowcast {ours[-1]['step_s']:.3f} s"
            if python is not None:
                keras.append(run_keras(work, args, python, frames))
                note += f", Keras/TF {keras[-1]['step_s']:.3f} s"
            print(f"{work.label}, round {i + 1}/{args.rounds}: {note}", file=sys.stderr, flush=True)
        rows.append((work, ours, keras))
    print(header)
    print(f"{PRESET}: nowcast against Keras/TF, both measured in this run on this machine")
    if python is None:
        print(f"Keras/TF side: NOT measured ({keras_versions}; set up: `{SETUP}`)")
    else:
        xla = sorted({str(r["jit_compile"]) for _, _, keras in rows for r in keras})
        print(
            f"Keras/TF side: {keras_versions} ({python}); {args.threads} intra-op and "
            f"{args.threads} inter-op threads; XLA jit_compile {', '.join(xla)}"
        )
    ours_precision = resolve_precision(torch.device("cpu"), args.precision)
    print(
        f"Precision: nowcast {ours_precision} (train.precision {args.precision}"
        f"{', autocast with channels-last tensors' if ours_precision == 'bf16' else ''}), "
        f"Keras/TF {args.keras_precision}"
        f"{' (mixed_bfloat16 policy)' if args.keras_precision == 'bf16' else ' (float32 policy)'}"
    )
    pair = "a nowcast process" if python is None else "a nowcast process then a Keras/TF process"
    print(
        f"{args.size}x{args.size} frames, {frames} per sample (nowcast: {data.in_len} in, "
        f"{data.out_len} out; Keras: {frames} in, the next frame at each); {args.rounds} round(s) "
        f"per case, each {pair}; per process {args.warmup} warm-up step(s), then the median "
        f"of {args.steps} training steps or {args.infer_steps} inferences\n"
    )
    print(tables(rows), "\n")
    print(f"```bash\n{command}\n```")


if __name__ == "__main__":
    main()
