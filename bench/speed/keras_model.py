"""The Keras/TensorFlow side of ``keras_vs_nowcast.py``: the Keras ConvLSTM2D next-frame example.

The ``keras-example`` preset takes its sizes from the Keras example "Next-frame
video prediction with convolutional LSTMs" (keras.io/examples/vision/conv_lstm).
This script builds that model as the example does and times it in this one
process, so that ``keras_vs_nowcast.py`` can run it in alternation with our
side on the same machine instead of quoting numbers from another one.

The model, as in the example: ``ConvLSTM2D`` layers of 64 filters with 5x5,
3x3 and 1x1 kernels (``padding="same"``, ``activation="relu"``, whole
sequences returned), ``BatchNormalization`` after the first two, a 3x3x3
``Conv3D`` to one channel with a sigmoid, binary cross-entropy and Adam
(learning rate 1e-3). It reads ``--frames`` frames (19: the example's shifted
20-frame sequences) and predicts the next frame at each of them. Our preset
trains the same 64-filter layers as an encoder-forecaster on the same 19
frames, 10 in and 9 out (:func:`keras_flops` says why Keras's count is
slightly higher). Keras on TensorFlow does not compile to XLA on a machine
without an accelerator (``jit_compile="auto"``), so this is the graph-mode
``train_on_batch`` / ``predict_on_batch`` a Keras user runs.

It runs in a separate virtual environment with TensorFlow (see
``bench/README.md``), so it imports only TensorFlow/Keras, numpy, the standard
library and ``benchlib`` (standard library only), never ``nowcast`` or torch.
It prints one JSON line: median and best step seconds, the timed steps, the
analytic FLOPs per step, the parameter count and the process's peak RSS
(``VmHWM``), which counts TensorFlow's own runtime as a user's process does.

``--precision bf16`` sets Keras' ``mixed_bfloat16`` policy (bf16 computation,
float32 variables), Keras' counterpart of our bf16 autocast.

Run: ``/tmp/tfvenv/bin/python bench/speed/keras_model.py --mode train --batch 1 [--precision fp32]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: its start-up chatter

import numpy as np
import tensorflow as tf
from benchlib import peak_rss_mib

#: (filters, kernel side) of the three ConvLSTM2D layers, as in the example.
LAYERS = ((64, 5), (64, 3), (64, 1))
#: Side of the Conv3D output kernel (space and time).
OUTPUT_KERNEL = 3


def set_threads(threads: int) -> None:
    """Give TensorFlow ``threads`` intra-op and inter-op threads.

    Both pools get the same number, as TensorFlow's own default does (both
    are the number of cores); it must happen before the first operation
    starts the runtime, hence before Keras is imported.
    """
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def build_model(size: int) -> Any:
    """The example's model for ``size x size`` one-channel frames, compiled as it is there."""
    import keras
    from keras import layers

    x = inp = keras.Input(shape=(None, size, size, 1))  # (T, H, W, C), any sequence length
    for i, (filters, kernel) in enumerate(LAYERS):
        x = layers.ConvLSTM2D(
            filters=filters,
            kernel_size=(kernel, kernel),
            padding="same",
            return_sequences=True,
            activation="relu",
        )(x)
        if i < len(LAYERS) - 1:
            x = layers.BatchNormalization()(x)
    out = layers.Conv3D(
        filters=1, kernel_size=(OUTPUT_KERNEL,) * 3, activation="sigmoid", padding="same"
    )(x)
    model = keras.Model(inp, out)
    model.compile(
        loss=keras.losses.binary_crossentropy,
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
    )
    return model


def keras_flops(size: int, frames: int) -> int:
    """Convolution FLOPs (2 x multiply-accumulates) of one forward pass for one sample.

    Keras's ConvLSTM cell runs its input and its recurrent convolution (four
    gates of ``filters`` channels each, i.e. one ``4 x filters`` convolution
    each) at every frame, the recurrent one at the first frame too, on the
    zero state; every layer sees all ``frames`` frames; the Conv3D maps the
    last layer's 64 channels to 1 with a 3x3x3 kernel at every frame. Our
    encoder-forecaster skips the first state convolution and has no input
    convolution in its first forecaster layer, so at 64x64 and 19 frames
    Keras does about 5 % more convolution work (348 against 332 GFLOP per
    training step at batch 1). Biases, BatchNorm and activations are
    elementwise and not counted, as on our side.
    """
    pixels = size * size
    total = 0
    below = 1
    for filters, kernel in LAYERS:
        total += 2 * (below + filters) * 4 * filters * kernel * kernel * pixels
        below = filters
    total += 2 * below * 1 * OUTPUT_KERNEL**3 * pixels
    return frames * total


def time_steps(run: Any, warmup: int, steps: int) -> list[float]:
    """Seconds of each of ``steps`` calls of ``run()`` after ``warmup`` untimed ones.

    The first call traces the Keras function into a TensorFlow graph, so at
    least one warm-up step is needed for steady-state times. ``run`` must
    return only when the work is done: ``train_on_batch`` and
    ``predict_on_batch`` return numpy values, which waits for them.
    """
    for _ in range(warmup):
        run()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Build the model, time the requested mode, and collect the JSON result."""
    import keras

    if args.precision == "bf16":  # Keras' mixed precision: bf16 compute, float32 weights
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = build_model(args.size)
    rng = np.random.default_rng(0)
    shape = (args.batch, args.frames, args.size, args.size, 1)  # (B, T, H, W, C)
    x = rng.random(shape, dtype=np.float32)
    forward = keras_flops(args.size, args.frames) * args.batch
    if args.mode == "train":
        y = rng.random(shape, dtype=np.float32)  # targets in [0, 1] for the cross-entropy
        times = time_steps(lambda: model.train_on_batch(x, y), args.warmup, args.steps)
        step_flops = 3 * forward  # forward + backward, the convention of bench_train.py
    else:
        times = time_steps(lambda: model.predict_on_batch(x), args.warmup, args.steps)
        step_flops = forward
    return {
        "side": "keras",
        "mode": args.mode,
        "batch": args.batch,
        "size": args.size,
        "frames": args.frames,
        "threads": args.threads,
        "step_s": statistics.median(times),
        "best_s": min(times),
        "times": times,
        "step_flops": float(step_flops),
        "params": float(model.count_params()),
        "peak_mib": peak_rss_mib(),
        "jit_compile": bool(model.jit_compile),
        "precision": args.precision,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def main() -> None:
    """Parse the arguments, set the threads, measure and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("train", "infer"), default="train")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=64, help="frame side in pixels")
    parser.add_argument("--frames", type=int, default=19, help="sequence length")
    parser.add_argument("--steps", type=int, default=5, help="timed steps (median)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (>= 1)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="fp32 (Keras' default) or bf16 (the mixed_bfloat16 policy)",
    )
    args = parser.parse_args()
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be at least 1 (the first call traces the graph)")
    set_threads(args.threads)
    print(json.dumps(measure(args)))


if __name__ == "__main__":
    main()
