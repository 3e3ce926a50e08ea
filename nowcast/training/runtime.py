"""How the numbers are crunched: precision, seeding, compilation.

Everything here is chosen once per run and recorded in the run's config, so a
training run can be reproduced from its checkpoint alone (the device is chosen by
:mod:`nowcast.models.device`). Random-number states
are converted to plain lists and tensors, which lets them travel inside a
``weights_only`` checkpoint (see :mod:`nowcast.training.checkpoint`).
"""

from __future__ import annotations

import contextlib
import random
import warnings
from collections.abc import Callable, Iterable
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from nowcast.errors import ConfigError, first_line

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def configure_backends(device: torch.device) -> None:
    """Enable the fast CUDA paths: TF32 matmuls/convolutions and cuDNN autotuning.

    TF32 keeps float32 range with a 10-bit mantissa in matmuls and convolutions,
    a 2-8x speed-up on Ampere and newer at no visible cost for this model;
    ``cudnn.benchmark`` picks the fastest convolution kernels for the fixed
    frame size. Neither affects CPU runs.
    """
    if device.type != "cuda":
        return
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True


def resolve_precision(device: torch.device, precision: str) -> str:
    """The concrete precision (``fp32``, ``bf16`` or ``fp16``) for ``precision`` on ``device``.

    ``auto`` means bf16 on CUDA (same range as float32, no loss scaling needed)
    and on a CPU with bf16 matrix units (:func:`cpu_has_bf16_matrix_units`),
    fp32 on other CPUs, where autocast has not been measured to pay.

    Raises:
        ConfigError: for an unknown name, or fp16 on a CPU.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})")
    if precision == "auto":
        fast_bf16 = device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16_matrix_units())
        return "bf16" if fast_bf16 else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("precision fp16 needs a CUDA device; use fp32 or bf16 on a CPU")
    return precision


def cpu_has_bf16_matrix_units() -> bool:
    """True when this CPU multiplies bf16 tiles in hardware (Intel AMX).

    There oneDNN's bf16 convolutions run 3-5x faster than float32 ones: on a
    2-core Xeon with AMX, a keras-example training step takes 0.48 s in
    bf16 with channels-last tensors against 1.45 s in float32
    (docs/performance.md section 4). Without AMX (AVX-512 BF16 alone, or
    AVX2) float32 stays the default.
    """
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe()) if callable(probe) else False


def memory_format(device: torch.device, precision: str) -> torch.memory_format:
    """Channels-last on a CPU computing in bf16, where oneDNN's AMX kernels want it.

    bf16 alone made the keras-example step 1.8x faster, bf16 with
    channels-last 3x; in float32 channels-last changed nothing (1.45 vs
    1.43 s) and took 13 % more memory, so it is used only with bf16.
    """
    if device.type == "cpu" and resolve_precision(device, precision) == "bf16":
        return torch.channels_last
    return torch.contiguous_format


def in_memory_format(model: nn.Module, device: torch.device, precision: str) -> nn.Module:
    """``model`` with its parameters in :func:`memory_format` for ``device`` and ``precision``."""
    # documented Module.to(memory_format=...), missing from torch's type stubs
    fmt = memory_format(device, precision)
    return model.to(memory_format=fmt)  # type: ignore[call-overload]


def autocast_context(
    device: torch.device, precision: str
) -> contextlib.AbstractContextManager[None]:
    """A context manager running the forward pass in ``precision`` (see :func:`resolve_precision`).

    fp32 gives a no-op context; bf16 and fp16 give :func:`torch.autocast`, which
    keeps losses and reductions in float32.
    """
    resolved = resolve_precision(device, precision)
    if resolved == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if resolved == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """A gradient scaler, enabled only for fp16 (whose small range underflows gradients)."""
    enabled = resolve_precision(device, precision) == "fp16"
    return torch.amp.GradScaler(device.type, enabled=enabled)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) global generators with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def maybe_compile(
    model: nn.Module, enabled: bool, probe: Callable[[nn.Module], Any] | None = None
) -> tuple[nn.Module, str | None]:
    """Wrap ``model`` with :func:`torch.compile` when ``enabled`` and possible.

    Compilation is an optimisation, never a requirement: when it is unavailable
    or fails, the eager model is returned with a message saying why.
    :func:`torch.compile` is lazy, so most failures (no C compiler, no Triton,
    a kernel the backend cannot lower) only show at the first call; ``probe``
    makes the calls training will make here, so they surface before training
    starts.

    Args:
        model: The model to compile.
        enabled: ``TrainConfig.compile``.
        probe: Optional function calling the compiled model once on a sample.

    Returns:
        The (possibly compiled) model and a message for the log, or ``None``.
    """
    if not enabled:
        return model, None
    if not hasattr(torch, "compile"):
        return model, f"torch.compile is not available in torch {torch.__version__}; running eager"
    try:
        with warnings.catch_warnings():
            # torch's own compiler stack imports deprecated torch.jit pieces; not ours to fix.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.")
            compiled = cast(nn.Module, torch.compile(model))  # an OptimizedModule
            if probe is not None:
                probe(compiled)
    except Exception as exc:  # any backend failure means "run eager"
        reason = first_line(exc)
        return model, f"torch.compile failed ({reason}); running eager"
    return compiled, "model compiled with torch.compile (the first steps are slower)"


def rng_state() -> dict[str, Any]:
    """Every global random state as plain lists and tensors (safe for ``weights_only``)."""
    version, mt_state, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {
        "python": {"version": version, "state": list(mt_state), "gauss_next": gauss},
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": list(cuda),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the global random states captured by :func:`rng_state`."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss_next"]))
    npy = state["numpy"]
    keys = npy["keys"].numpy().astype(np.uint32)
    np.random.set_state((npy["name"], keys, npy["pos"], npy["has_gauss"], npy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        for index, cuda_state in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, index)


def compile_probe(
    loader: Iterable[Any] | None, device: torch.device, precision: str
) -> Callable[[nn.Module], Any] | None:
    """Calls of the model on the first validation sample, to compile before training.

    Validation (eval mode, no gradients) and training (forward and backward)
    compile different graphs, and a backend may fail on either, so the probe
    runs both, in the run's precision, and leaves no gradients behind.
    """
    dataset = getattr(loader, "dataset", None)
    if dataset is None or len(dataset) == 0:
        return None
    sample = dataset[0]
    x = sample["x"][None].to(device)  # (1, T_in, C, H, W)
    out_len = int(sample["y"].shape[0])

    def probe(model: nn.Module) -> None:
        """Run ``model`` on the sample as validation, then as a training step, will."""
        model.eval()
        with torch.no_grad(), autocast_context(device, precision):
            model(x, out_len)
        model.train()
        with autocast_context(device, precision):
            out = model(x, out_len)
        out.float().mean().backward()
        model.zero_grad(set_to_none=True)

    return probe
