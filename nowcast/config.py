"""Configuration as plain dataclasses with defaults.

Precedence is defaults < preset < ``--config run.toml`` < command-line flags
(the file refines the preset; flags win over both). The resolved
:class:`RunConfig` is stored, as a plain dict, inside every checkpoint so that
a checkpoint alone rebuilds its model and its data transform.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, get_args, get_type_hints

from nowcast.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


FRAMES = ("eulerian", "lagrangian")
"""Where the network forecasts: on the fixed grid, or in the frame moving with the rain."""


def check_frame(frame: str, where: str = "model.frame") -> None:
    """Raise ConfigError unless ``frame`` is one of :data:`FRAMES` (``where`` names the setting)."""
    if frame not in FRAMES:
        raise ConfigError(f"{where} must be one of {', '.join(FRAMES)}, got {frame!r}")


#: The values a numeric setting may take: a description for messages and the test.
Limit = tuple[str, Callable[[float], bool]]
AT_LEAST_1: Limit = (">= 1", lambda v: v >= 1)
AT_LEAST_0: Limit = (">= 0", lambda v: v >= 0)
ABOVE_0: Limit = ("> 0", lambda v: v > 0)
FRACTION: Limit = ("between 0 and 1", lambda v: 0 <= v <= 1)
ANY: Limit = ("", lambda v: True)


def check_limits(section: Any, name: str, limits: dict[str, Limit]) -> None:
    """Raise ConfigError naming ``name.key`` for the first numeric setting outside its limits.

    Every int, float and tuple setting of ``section`` must appear in ``limits``; floats
    must also be finite (NaN or infinity anywhere would spoil a run long after it started).
    """
    for item in fields(section):
        value = getattr(section, item.name)
        if isinstance(value, (bool, str)):
            continue
        text, allowed = limits[item.name]
        values = value if isinstance(value, tuple) else (value,)
        if values and all(_is_number(v) and allowed(v) for v in values):
            continue
        kind = "a non-empty list of numbers" if isinstance(value, tuple) else "a finite number"
        raise ConfigError(f"{name}.{item.name} must be {kind} {text}".rstrip() + f", got {value!r}")


def _is_number(value: Any) -> bool:
    """An int or a finite float (bool is no number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class Section:
    """A config section, checked whenever it is built: defaults, TOML, flags or a checkpoint.

    Each section dataclass names itself (``NAME``) and the limits of its numeric settings.
    """

    NAME: ClassVar[str]
    LIMITS: ClassVar[dict[str, Limit]]

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first setting out of range."""
        check_limits(self, self.NAME, self.LIMITS)


@dataclass
class ModelConfig(Section):
    """Architecture of the encoder-forecaster (see ``docs/model.md``).

    Attributes:
        name: Registered model name (``encoder_forecaster`` or ``persistence``).
        hidden_channels: Hidden channels of each ConvLSTM layer, bottom to top.
        input_kernels: Input-to-state kernel size of each layer.
        state_kernels: State-to-state kernel size of each layer.
        peepholes: Per-channel peephole weights (Shi et al. 2015, eq. 3).
        patch_size: Side ``p`` of the space-to-depth patches; frames of
            ``C x H x W`` enter the network as ``C*p*p x H/p x W/p``.
        in_channels: Channels of one frame before patching (1 for radar).
        feed_prediction: Forecaster layer 1 reads its own previous prediction
            instead of no input (the paper's forecaster takes no input).
        frame: ``eulerian`` (the network sees the frames as observed) or
            ``lagrangian``: the motion of the input frames is estimated
            (:mod:`nowcast.motion`), the inputs are carried along it to the
            last frame's time, the network forecasts in that moving frame and
            its output is advected forward. The network then has to learn
            growth and decay, not motion. No weights depend on it, so any
            checkpoint can be run either way.
        residual: The network forecasts the change from the last input frame
            (in the model's scale) instead of the frames themselves. Its output
            layer starts at zero, so an untrained network forecasts
            persistence, or extrapolation in the lagrangian frame, and
            training only has to learn what differs from it.
    """

    name: str = "encoder_forecaster"
    hidden_channels: tuple[int, ...] = (32, 32)
    input_kernels: tuple[int, ...] = (3, 3)
    state_kernels: tuple[int, ...] = (3, 3)
    peepholes: bool = True
    patch_size: int = 4
    in_channels: int = 1
    feed_prediction: bool = False
    frame: str = "eulerian"
    residual: bool = False

    NAME: ClassVar[str] = "model"
    LIMITS: ClassVar[dict[str, Limit]] = dict.fromkeys(
        "hidden_channels input_kernels state_kernels patch_size in_channels".split(), AT_LEAST_1
    )

    def validate(self) -> None:
        """Raise ConfigError naming the first setting out of range, or an unknown frame."""
        super().validate()
        check_frame(self.frame)


@dataclass
class DataConfig(Section):
    """How canonical frames become training samples.

    Attributes:
        variable: Canonical variable to learn (``rainfall_rate`` or ``intensity``).
        in_len: Input frames per sample.
        out_len: Target frames per sample (the trained lead times).
        stride: Steps between the start of consecutive windows.
        time_strides: Temporal sub-sampling factors used as augmentation
            (1 = the native cadence; 2 = every other frame, i.e. twice the motion).
        crop: Side of the square random crop in pixels (a multiple of the
            patch size); 0 = the full frame (padded to the patch size).
        flips: Random horizontal/vertical flips and 90-degree rotations.
        transform: Intensity transform name (``log_rain``, ``linear``, ``identity``).
        rain_threshold: mm h-1 below which rain counts as dry in ``log_rain``.
        max_rate: mm h-1 that maps to about 1.0 in ``log_rain``.
        val_fraction: Share of the time line for validation.
        test_fraction: Share of the time line for testing.
        timestep_s: Cadence of the data in seconds (filled from the data file).
    """

    variable: str = "rainfall_rate"
    in_len: int = 5
    out_len: int = 12
    stride: int = 1
    time_strides: tuple[int, ...] = (1,)
    crop: int = 64
    flips: bool = True
    transform: str = "log_rain"
    rain_threshold: float = 0.1
    max_rate: float = 100.0
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    timestep_s: int = 300

    NAME: ClassVar[str] = "data"
    LIMITS: ClassVar[dict[str, Limit]] = {
        **dict.fromkeys("in_len out_len stride time_strides timestep_s".split(), AT_LEAST_1),
        **dict.fromkeys("rain_threshold max_rate".split(), ABOVE_0),
        **dict.fromkeys("val_fraction test_fraction".split(), FRACTION),
        "crop": AT_LEAST_0,
    }

    def validate(self) -> None:
        """Raise ConfigError naming the first setting out of range; no split may be negative."""
        super().validate()
        if self.val_fraction + self.test_fraction > 1:
            raise ConfigError(
                f"data.val_fraction + data.test_fraction must be <= 1, got {self.val_fraction} "
                f"+ {self.test_fraction}"
            )


@dataclass
class TrainConfig(Section):
    """The optimisation recipe and the run's budget.

    Attributes:
        loss: ``mse``, ``mae``, ``mse+mae``, ``balanced_mse`` (HKO-7 weights),
            ``balanced_mse+csi`` (plus a soft CSI that counters fading) or ``bce``.
        csi_weight: Weight of the soft-CSI term of ``balanced_mse+csi``.
        csi_thresholds: Its rain-rate thresholds in mm h-1.
        lead_weight_power: Lead ``k`` (1, 2, ...) of the pointwise loss is
            weighted by ``k ** -lead_weight_power``, the weights scaled to a
            mean of 1; 0 weighs every lead alike. Errors grow with lead time,
            so under equal weights the first leads, where extrapolation is
            hardest to beat, hardly steer the gradients.
        optimizer: ``adam`` or ``adamw``.
        lr: Peak learning rate.
        weight_decay: Decoupled weight decay (AdamW).
        schedule: ``cosine`` (with warm-up), ``onecycle`` or ``constant``.
        warmup_steps: Linear warm-up steps for ``cosine``.
        batch_size: Samples per optimisation step (per process under torchrun).
        max_epochs: Upper bound on epochs.
        max_steps: Upper bound on optimisation steps (0 = no bound).
        max_minutes: Wall-clock budget (0 = no bound).
        grad_clip: Max global gradient norm (0 = off).
        early_stopping: Epochs without validation improvement before stopping (0 = off).
        plateau_patience: Epochs without improvement before the LR is halved (0 = off).
        device: ``auto``, ``cpu`` or ``cuda``.
        precision: ``auto`` (bf16 on CUDA and on CPUs with AMX, else fp32), ``fp32``,
            ``bf16`` or ``fp16``.
        compile: Use ``torch.compile``.
        seed: Seed for weights, sampling and augmentation.
        checkpoint_every: Steps between ``last.pt`` writes (0 = at epoch ends only).
        samples_per_epoch: Random windows drawn per epoch (0 = every window once).
        val_samples: Validation windows per evaluation (0 = all).
        num_workers: DataLoader worker processes.
    """

    loss: str = "balanced_mse"
    csi_weight: float = 0.1
    csi_thresholds: tuple[float, ...] = (0.5, 1.0, 5.0)
    lead_weight_power: float = 0.0
    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_steps: int = 50
    batch_size: int = 8
    max_epochs: int = 20
    max_steps: int = 0
    max_minutes: float = 0.0
    grad_clip: float = 1.0
    early_stopping: int = 5
    plateau_patience: int = 0
    device: str = "auto"
    precision: str = "auto"
    compile: bool = False
    seed: int = 0
    checkpoint_every: int = 100
    samples_per_epoch: int = 512
    val_samples: int = 128
    num_workers: int = 0

    NAME: ClassVar[str] = "train"
    LIMITS: ClassVar[dict[str, Limit]] = {
        **dict.fromkeys("batch_size max_epochs".split(), AT_LEAST_1),
        **dict.fromkeys(
            "csi_weight lr weight_decay warmup_steps max_steps max_minutes grad_clip "
            "early_stopping plateau_patience seed checkpoint_every samples_per_epoch "
            "val_samples num_workers".split(),
            AT_LEAST_0,
        ),
        "csi_thresholds": ABOVE_0,
        "lead_weight_power": ANY,
    }


@dataclass
class RunConfig:
    """Everything needed to reproduce a training run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (lists for tuples): safe for TOML, JSON and checkpoints."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Build from a nested dict, rejecting unknown sections and keys."""
        return merge(cls(), values)


def merge(config: RunConfig, updates: dict[str, Any]) -> RunConfig:
    """Return a copy of ``config`` with the nested ``updates`` applied.

    Raises:
        ConfigError: on an unknown section or key, or a value of the wrong type.
    """
    sections = {f.name: getattr(config, f.name) for f in fields(config)}
    for section, values in updates.items():
        if section not in sections:
            raise ConfigError(f"unknown config section [{section}] (known: {', '.join(sections)})")
        if not isinstance(values, dict):
            raise ConfigError(f"config section [{section}] must be a table")
        sections[section] = _merge_section(sections[section], section, values)
    return RunConfig(**sections)


def _merge_section(obj: Any, section: str, values: dict[str, Any]) -> Any:
    hints = get_type_hints(type(obj))
    known = {f.name for f in fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(
                f"unknown config key {section}.{key} (known: {', '.join(sorted(known))})"
            )
        changes[key] = _coerce(value, hints[key], f"{section}.{key}")
    return dataclasses.replace(obj, **changes)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    text = str(hint)
    if text.startswith("tuple"):
        if isinstance(value, (int, float)):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        item = get_args(hint)[0] if get_args(hint) else int
        return tuple(_coerce_scalar(v, item, where) for v in value)
    for kind in (bool, int, float, str):
        if hint is kind or text == kind.__name__:
            return _coerce_scalar(value, kind, where)
    return value


def _coerce_scalar(value: Any, kind: type, where: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    raise ConfigError(f"{where} must be {kind.__name__}, got {value!r}")


def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config file into a nested dict."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def to_toml(config: RunConfig) -> str:
    """Render a config as TOML (for ``--print-config`` and the run directory)."""
    lines: list[str] = []
    for section, values in config.to_dict().items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
