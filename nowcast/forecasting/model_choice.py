"""Which checkpoint a forecast or evaluation uses, and loading it for inference.

Without ``--model``: the newest run under ``runs/`` (its ``best.pt``), else
the bundled default model shipped inside the package. ``--model default``
always names the bundled one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nowcast.errors import CheckpointError
from nowcast.forecasting.blend import BlendWeights

#: The bundled default model (package data; see docs/model-card.md).
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "default" / "default.pt"


@dataclass
class LoadedModel:
    """A model rebuilt from a checkpoint alone, ready for inference."""

    path: Path
    sha256: str
    model: nn.Module
    transform: Any
    variable: str
    units: str
    in_len: int
    out_len: int
    timestep_s: int
    patch_size: int
    checkpoint: dict[str, Any]
    scale_km: float = 0.0
    blend: BlendWeights | None = None

    @property
    def frame(self) -> str:
        """``eulerian`` or ``lagrangian``: where the network forecasts (as loaded)."""
        return "lagrangian" if getattr(self.model, "lagrangian", False) else "eulerian"

    @property
    def name(self) -> str:
        """Short name: the run folder of ``best.pt``/``last.pt``, else the file's stem.

        Links are resolved first, so ``runs/latest/best.pt`` is named after the
        run it points to, not ``latest``; the bundled model is ``default``.
        """
        real = self.path.resolve()
        return real.parent.name if real.name in ("best.pt", "last.pt") else real.stem

    @property
    def label(self) -> str:
        """The name and the start of the SHA-256, as figure titles show the model."""
        return f"{self.name} (sha256 {self.sha256[:12]})"


def resolve_model(spec: str | None, runs_dir: Path = Path("runs")) -> Path:
    """Turn ``--model`` (a checkpoint, a run directory, ``default`` or nothing) into a file.

    Raises:
        CheckpointError: when the named file or run holds no checkpoint.
    """
    from nowcast.training.checkpoint import resolve_checkpoint

    if spec == "default":
        return _bundled()
    if spec is None:
        if not runs_dir.is_dir():
            return _bundled()
        try:
            return resolve_checkpoint(runs_dir)
        except CheckpointError:
            return _bundled()
    try:
        return resolve_checkpoint(Path(spec))
    except CheckpointError:
        return resolve_checkpoint(Path(spec), "last")


def _bundled() -> Path:
    if not DEFAULT_MODEL.is_file():
        raise CheckpointError(f"the bundled default model is missing ({DEFAULT_MODEL})")
    return DEFAULT_MODEL


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file (recorded in forecast files and reports)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_model(path: Path, device: torch.device, frame: str | None = None) -> LoadedModel:
    """Rebuild model and transform from the checkpoint alone, in eval mode on ``device``.

    ``frame`` runs the model in another frame than its own (``eulerian`` or
    ``lagrangian``, :class:`~nowcast.config.ModelConfig`); ``None`` keeps its own.
    """
    from nowcast.training.checkpoint import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(path)
    model, transform, info = model_from_checkpoint(ckpt, frame)
    model.to(device).eval()
    settings = ckpt.get("forecast") or {}
    return LoadedModel(
        path=path,
        sha256=sha256_of(path),
        model=model,
        transform=transform,
        variable=str(info["variable"]),
        units=str(info.get("units", "")),
        in_len=int(info["in_len"]),
        out_len=int(info["out_len"]),
        timestep_s=int(info["timestep_s"]),
        patch_size=int(info["patch_size"]),
        checkpoint=ckpt,
        scale_km=float(settings.get("scale_km", 0.0)),
        blend=BlendWeights.from_dict(settings["blend"]) if settings.get("blend") else None,
    )
