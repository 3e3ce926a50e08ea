"""Self-describing, safe, atomically written checkpoints.

A checkpoint is a plain dict of tensors, numbers, strings, lists, dicts and
``None``, so it loads with ``torch.load(path, map_location="cpu",
weights_only=True)``: nothing in it runs code when read, and a file that would
(a pickle calling ``os.system``, say) is refused. It holds everything needed to
rebuild the model and its data transform without the original config file, and
everything needed to continue training at the exact batch where it stopped:

=====================  =======================================================
key                    content
=====================  =======================================================
``format_version``     :data:`FORMAT_VERSION` (int)
``nowcast_version``    package version that wrote the file
``config``             the resolved :class:`~nowcast.config.RunConfig` as a dict
``model``              ``{"name", "config"}``: registry name and ModelConfig dict
``state_dict``         model weights (CPU tensors)
``data``               ``variable``, ``units``, ``transform`` (dict), ``in_len``,
                       ``out_len``, ``timestep_s``, ``patch_size``, ``grid`` and
                       ``split`` (data file, windows and time ranges per split)
``optimizer``          optimizer ``state_dict``
``scheduler``          ``{"name", "total_steps", "lr_scale", "bad_epochs"}``
``scaler``             GradScaler ``state_dict`` (empty unless fp16)
``rng``                Python, NumPy, torch CPU and CUDA generator states
``epoch``              epochs completed
``step``               optimisation steps taken
``batch_in_epoch``     batches of the current epoch already consumed
``best_val_loss``      best end-of-epoch validation loss so far, or ``None``
``history``            one metrics dict per completed epoch
``progress``           running sums of the current epoch (loss, samples, seconds)
=====================  =======================================================

Only the first six keys are required: a checkpoint saved for inference only
omits the training state and cannot be resumed.
"""

from __future__ import annotations

import dataclasses
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from nowcast import __version__
from nowcast.config import ModelConfig, RunConfig, check_frame, merge
from nowcast.errors import CheckpointError, ConfigError, NowcastError, first_line
from nowcast.io.writers.atomic import AtomicOutput
from nowcast.training.checkpoint_checks import check_contents

FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "nowcast_version", "config", "model", "state_dict", "data")
RESUME_KEYS = ("optimizer", "scheduler", "scaler", "rng", "epoch", "step", "batch_in_epoch")
CHECKPOINT_NAMES = ("best", "last")
_PLAIN_SCALARS = (bool, int, float, str, type(None), torch.Tensor)


def make_header(config: RunConfig, data: dict[str, Any]) -> dict[str, Any]:
    """The descriptive part of every checkpoint: versions, config, model and data.

    Args:
        config: The resolved run configuration.
        data: The ``data`` section (see the module docstring).
    """
    return {
        "format_version": FORMAT_VERSION,
        "nowcast_version": __version__,
        "config": config.to_dict(),
        "model": {"name": config.model.name, "config": config.to_dict()["model"]},
        "data": data,
    }


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain model inside ``DistributedDataParallel`` and ``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):  # torch.compile's OptimizedModule
            model = cast(nn.Module, model._orig_mod)
        elif isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Model weights as CPU tensors with wrapper-free names (loadable anywhere)."""
    return {k: v.detach().cpu().clone() for k, v in unwrap_model(model).state_dict().items()}


def save_checkpoint(path: Path, payload: dict[str, Any], *, overwrite: bool = True) -> Path:
    """Write ``payload`` to ``path`` atomically: a temporary file in the same folder, then rename.

    A crash or ``kill -9`` mid-write leaves the previous ``path`` intact.
    ``overwrite`` False refuses a ``path`` that exists when the file is complete.

    Raises:
        TypeError: when the payload holds anything but plain values and tensors
            (it would not load with ``weights_only=True``).
        OutputExistsError, OutputError: see :class:`~nowcast.io.writers.atomic.AtomicOutput`.
    """
    _check_plain(payload, "payload")
    path = Path(path)
    with AtomicOutput(path, overwrite=overwrite) as out, open(out.tmp, "wb") as handle:
        torch.save(payload, handle)
    return path


def export_for_inference(source: Path, target: Path, note: str = "", scale_km: float = 0.0) -> Path:
    """Copy a checkpoint without its training state (optimizer, RNG, history...).

    The result rebuilds the model for forecasting but cannot be resumed; it is
    a fraction of the size, which suits a model shipped inside the package.
    The training data path, meaningless on other machines, is replaced by
    ``note`` (how the data was made). A positive ``scale_km`` is stored as the
    model's working grid for forecasts (``forecast.scale_km``; see
    :mod:`nowcast.forecasting.scale`).
    """
    ckpt = load_checkpoint(source)
    slim = {key: ckpt[key] for key in REQUIRED_KEYS}
    split = dict(slim["data"].get("split") or {})
    split["data_file"] = None
    split["note"] = note
    slim["data"] = {**slim["data"], "split": split}
    slim["trained_steps"] = ckpt.get("step")
    slim["best_val_loss"] = ckpt.get("best_val_loss")
    if scale_km > 0:
        slim["forecast"] = {"scale_km": float(scale_km)}
    return save_checkpoint(target, slim)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint without running any code from it.

    Raises:
        CheckpointError: when the file is missing, truncated, unsafe (would
            execute code or build arbitrary objects when unpickled), not a
            nowcast checkpoint, or unusable: a config out of range, weights that
            are not finite tensors, a data size below 1 or a model name that is
            not the network its config builds
            (:func:`~nowcast.training.checkpoint_checks.check_contents`).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        with warnings.catch_warnings():
            # Raised for pickles written by plain `pickle`; they are refused below anyway.
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path} is not a safe nowcast checkpoint: {_unsafe_reason(exc)}"
        ) from exc
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError... for corrupt files
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or not a torch file: "
            f"{type(exc).__name__}{': ' + first_line(exc) if str(exc).strip() else ''})"
        ) from exc
    _check_layout(payload, path)
    try:
        config = config_from_checkpoint(payload)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    check_contents(payload, config, path)
    return payload


def _check_layout(payload: Any, path: Path) -> None:
    if not isinstance(payload, dict):
        raise CheckpointError(
            f"{path} is not a nowcast checkpoint (holds a {type(payload).__name__})"
        )
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path} is not a nowcast checkpoint (missing: {', '.join(missing)})")
    version = payload["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version!r}; this nowcast ({__version__}) reads "
            f"format {FORMAT_VERSION} and older; upgrade nowcast"
        )


def _unsafe_reason(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "unsupported" in line.lower():
            return line.rstrip(".")
    return "it holds objects other than tensors and plain values"


def _check_plain(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"checkpoint {where} has a non-plain key {key!r}")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
    elif not isinstance(value, _PLAIN_SCALARS):
        raise TypeError(f"checkpoint {where} holds a {type(value).__name__}; use plain values")


def config_from_checkpoint(ckpt: dict[str, Any]) -> RunConfig:
    """The run configuration stored in a checkpoint, with the model section from ``ckpt["model"]``.

    Raises:
        CheckpointError: when the stored config does not fit this version of nowcast.
    """
    try:
        config = RunConfig.from_dict(ckpt["config"])
        return merge(config, {"model": ckpt["model"]["config"]})
    except (ConfigError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(
            f"checkpoint config is not understood by this nowcast: {exc}"
        ) from exc


def model_from_checkpoint(
    ckpt: dict[str, Any], frame: str | None = None
) -> tuple[nn.Module, Any, dict[str, Any]]:
    """Rebuild the trained model, its data transform and the data description from a checkpoint.

    ``frame`` (``eulerian`` or ``lagrangian``) overrides the model's own
    ``model.frame``; no weight depends on it.

    Returns:
        ``(model, transform, data_info)``: the model in eval mode on the CPU with
        the stored weights, the intensity transform (``forward``/``inverse``) and
        the checkpoint's ``data`` dict.

    Raises:
        CheckpointError: when the weights do not fit the stored architecture.
    """
    from nowcast.data.transforms import transform_from_dict
    from nowcast.models import build_model

    model_cfg: ModelConfig = config_from_checkpoint(ckpt).model
    if frame is not None:
        check_frame(frame, "the model frame")  # before the try: not a checkpoint fault
        model_cfg = dataclasses.replace(model_cfg, frame=frame)
    try:
        model = build_model(model_cfg)
        model.load_state_dict(ckpt["state_dict"])
        transform = transform_from_dict(ckpt["data"]["transform"])
    except (RuntimeError, KeyError, NowcastError) as exc:
        raise CheckpointError(
            f"checkpoint weights do not fit model {model_cfg.name!r}: {first_line(exc)}"
        ) from exc
    model.eval()
    return model, transform, dict(ckpt["data"])


def resolve_checkpoint(path_or_rundir: Path, which: str = "best") -> Path:
    """Find a checkpoint file from a file, a run folder or a runs folder with a ``latest`` link.

    Args:
        path_or_rundir: A ``.pt`` file; a run folder (holding ``best.pt`` and
            ``last.pt``); or the parent of run folders, whose ``latest`` link
            (or text file) names the newest run.
        which: ``best`` or ``last``, used when a folder is given.

    Raises:
        ConfigError: for an unknown ``which``.
        CheckpointError: when nothing suitable exists.
    """
    if which not in CHECKPOINT_NAMES:
        raise ConfigError(f"unknown checkpoint {which!r} (known: {', '.join(CHECKPOINT_NAMES)})")
    path = Path(path_or_rundir)
    if path.is_file():
        return path
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such checkpoint file or run folder")
    candidate = path / f"{which}.pt"
    if candidate.is_file():
        return candidate
    latest = _follow_latest(path)
    if latest is not None and (latest / f"{which}.pt").is_file():
        return latest / f"{which}.pt"
    found = sorted(p.name for p in path.glob("*.pt"))
    raise CheckpointError(
        f"no {which}.pt in {path} (found: {', '.join(found) or 'no checkpoints'})"
    )


def _follow_latest(runs_dir: Path) -> Path | None:
    """The run folder named by ``runs_dir/latest`` (a symlink or a one-line text file)."""
    link = runs_dir / "latest"
    if link.is_dir():
        return link
    if link.is_file():
        target = runs_dir / link.read_text(encoding="utf-8").strip()
        return target if target.is_dir() else None
    return None


class CheckpointWriter:
    """Writes ``last.pt``/``best.pt`` into a run folder and remembers what it wrote.

    Args:
        run_dir: The run folder; ``None`` writes nothing (non-zero ranks, tests).
        header: :func:`make_header` output, the start of every checkpoint.
        on_write: Called with each written path.
    """

    def __init__(
        self,
        run_dir: Path | None,
        header: dict[str, Any],
        on_write: Callable[[Path], Any] | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.header = header
        self.on_write = on_write
        self.written: dict[str, tuple[Path, int]] = {}

    def save(self, name: str, payload: Callable[[], dict[str, Any]], step: int) -> None:
        """Write ``<name>.pt`` (``best`` or ``last``) after ``step`` steps.

        ``payload`` builds the training state only when something is written.
        """
        if self.run_dir is None:
            return
        path = save_checkpoint(self.run_dir / f"{name}.pt", {**self.header, **payload()})
        self.written[name] = (path, step)
        if self.on_write is not None:
            self.on_write(path)

    def save_once(self, name: str, payload: Callable[[], dict[str, Any]], step: int) -> None:
        """:meth:`save`, unless ``<name>.pt`` was written at this very ``step`` already."""
        if self.written.get(name, (None, -1))[1] != step:
            self.save(name, payload, step)

    def describe_last(self) -> str:
        """Where the last good checkpoint is, for error messages."""
        if "last" not in self.written:
            return "no checkpoint was written before it"
        path, step = self.written["last"]
        return f"the last good checkpoint is {path} (step {step})"
