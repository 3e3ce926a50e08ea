"""``nowcast train``: fit the ConvLSTM encoder-forecaster on a canonical dataset."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import TextColumn

from nowcast.cli import _console
from nowcast.errors import InputError

#: The bundled sample file, used when no DATA is given (source checkouts).
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "synthetic.nc"

EPILOG = """Examples:

  nowcast train --preset tiny --max-minutes 2        (bundled sample data)

  nowcast train knmi.nc --preset radar --run-dir runs/knmi --max-epochs 30

  nowcast train --resume runs/knmi                   (continue an interrupted run)

  torchrun --nproc-per-node 4 -m nowcast train radar.nc --preset radar
"""


class _Progress:
    """Rich progress bar plus one plain line per epoch (readable without a TTY)."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.task = bar.add_task("training", total=None, loss=float("nan"), rate=0.0)

    def on_start(self, steps_per_epoch: int, total_steps: int) -> None:
        self.bar.update(self.task, total=total_steps)

    def on_step(self, step: int, loss: float, lr: float, samples_per_s: float) -> None:
        self.bar.update(self.task, completed=step, loss=loss, rate=samples_per_s)

    def on_epoch_end(self, row: dict[str, Any]) -> None:
        val = row.get("val_loss")
        self.bar.console.log(
            f"epoch {row['epoch']:g}: train_loss {row['train_loss']:.5g} "
            f"val_loss {'-' if val is None else f'{val:.5g}'} lr {row['lr']:.3g} "
            f"{row['samples_per_s']:.1f} samples/s"
        )

    def on_checkpoint(self, path: Path) -> None:
        """Checkpoints are listed in train.log; nothing to show."""

    def on_message(self, text: str) -> None:
        self.bar.console.log(text)


def _overrides(**flags: Any) -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {"model": {}, "data": {}, "train": {}}
    for key, value in flags.items():
        if value is not None:
            section, name = key.split("__")
            sections[section][name] = value
    return {k: v for k, v in sections.items() if v}


@_console.handle_errors
def command(
    data: Annotated[
        Path | None,
        typer.Argument(
            help="Canonical NetCDF from `nowcast ingest` (default: the bundled sample)."
        ),
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="Named recipe: tiny, radar, shi2015-mnist, keras-example.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML file with \\[model], \\[data], \\[train] tables."),
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run folder (default runs/<UTC timestamp>).")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue from a run folder or last.pt, exactly.")
    ] = None,
    init: Annotated[
        Path | None,
        typer.Option(help="Start from this checkpoint's weights (fine-tuning; same architecture)."),
    ] = None,
    print_config: Annotated[
        bool, typer.Option(help="Print the resolved configuration as TOML and exit.")
    ] = False,
    max_epochs: Annotated[int | None, typer.Option(help="Upper bound on epochs.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Upper bound on steps (0 = none).")] = None,
    max_minutes: Annotated[float | None, typer.Option(help="Wall-clock budget (0 = none).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Samples per step (per process).")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    loss: Annotated[
        str | None,
        typer.Option(
            help="mse, mae, mse+mae, balanced_mse, balanced_mae, balanced_mse+mae, "
            "balanced_mse+csi (plus a soft CSI against fading; train.csi_weight) or bce."
        ),
    ] = None,
    crop: Annotated[int | None, typer.Option(help="Random crop side in pixels (0 = full).")] = None,
    in_len: Annotated[int | None, typer.Option(help="Input frames per sample.")] = None,
    out_len: Annotated[int | None, typer.Option(help="Forecast frames per sample.")] = None,
    device: Annotated[
        str | None, typer.Option(help="auto, cpu or cuda.", envvar="NOWCAST_DEVICE")
    ] = None,
    precision: Annotated[str | None, typer.Option(help="auto, fp32, bf16 or fp16.")] = None,
    compile_model: Annotated[
        bool | None, typer.Option("--compile/--no-compile", help="Use torch.compile.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for weights, sampling, augmentation.")
    ] = None,
    checkpoint_every: Annotated[
        int | None, typer.Option(help="Steps between last.pt writes (0 = epoch ends).")
    ] = None,
    num_workers: Annotated[int | None, typer.Option(help="DataLoader worker processes.")] = None,
) -> None:
    """Train the ConvLSTM encoder-forecaster on a canonical dataset.

    Writes config.toml, metrics.csv, train.log, last.pt and best.pt into the run folder.

    Precedence: built-in defaults < --preset < --config file < flags.
    """
    from nowcast.config import RunConfig, load_toml, merge, to_toml
    from nowcast.presets import apply_preset
    from nowcast.training.run import resume_config, train

    flags = _overrides(
        train__max_epochs=max_epochs,
        train__max_steps=max_steps,
        train__max_minutes=max_minutes,
        train__batch_size=batch_size,
        train__lr=lr,
        train__loss=loss,
        train__device=device,
        train__precision=precision,
        train__compile=compile_model,
        train__seed=seed,
        train__checkpoint_every=checkpoint_every,
        train__num_workers=num_workers,
        data__crop=crop,
        data__in_len=in_len,
        data__out_len=out_len,
    )
    if resume is not None:
        # The checkpoint's own config, plus only what was asked for: an exact continuation.
        resolved = resume_config(resume, flags)
    else:
        resolved = RunConfig()
        if preset:
            resolved = apply_preset(resolved, preset)
        if config:
            resolved = merge(resolved, load_toml(config))
        resolved = merge(resolved, flags)
    if print_config:
        _console.out.print(to_toml(resolved), highlight=False, markup=False)
        return
    data_path = data or (_checkpoint_data(resume) if resume is not None else _sample())
    if resume is not None and run_dir is None:
        run_dir = resume if resume.is_dir() else resume.parent
    if run_dir is None and _rank() is not None:
        raise InputError("under torchrun give --run-dir, so that every process writes the same run")
    run_dir = run_dir or Path("runs") / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    if _rank():  # ranks other than 0 train silently; rank 0 reports
        train(data_path, resolved, run_dir, resume=resume, init=init)
        return
    stats = TextColumn("loss {task.fields[loss]:.4g} {task.fields[rate]:.1f} samples/s")
    with _console.progress(stats) as bar:
        progress = _Progress(bar)
        result = train(data_path, resolved, run_dir, resume=resume, init=init, callbacks=progress)
    best = "-" if result.best_val_loss is None else f"{result.best_val_loss:.5g}"
    _console.out.print(
        f"run {run_dir}: {result.steps} steps, {result.epochs:.2f} epochs, "
        f"best val_loss {best} ({result.stop_reason}), {result.seconds:.0f} s"
    )


def _rank() -> int | None:
    """This process's rank under torchrun, else None."""
    rank = os.environ.get("RANK")
    return int(rank) if rank is not None and "WORLD_SIZE" in os.environ else None


def _checkpoint_data(resume: Path) -> Path:
    """The data file a run was trained on (stored in its checkpoint)."""
    from nowcast.training.checkpoint import load_checkpoint, resolve_checkpoint

    ckpt = load_checkpoint(resolve_checkpoint(resume, "last"))
    stored = ckpt["data"].get("split", {}).get("data_file")
    if not stored or not Path(stored).is_file():
        raise InputError(f"{resume} was trained on {stored or 'an unknown file'}; give DATA.nc")
    return Path(stored)


def _sample() -> Path:
    if not SAMPLE.is_file():
        raise InputError("no DATA given and no bundled sample_data/synthetic.nc here; give DATA.nc")
    return SAMPLE


command.__doc__ = (command.__doc__ or "") + "\n\n" + EPILOG
