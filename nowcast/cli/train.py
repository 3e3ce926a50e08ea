"""``nowcast train``: fit the ConvLSTM encoder-forecaster on a canonical dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import TextColumn

from nowcast.cli import _console
from nowcast.cli._options import ConfigDevice

if TYPE_CHECKING:
    from nowcast.training.launch import TrainPlan

EPILOG = """Examples:

  nowcast train --preset tiny --max-minutes 2        (bundled sample data)

  nowcast train knmi.nc --preset radar --run-dir runs/knmi --max-epochs 30

  nowcast train --resume runs/knmi                   (continue an interrupted run)

  torchrun --nproc-per-node 4 -m nowcast train radar.nc --preset radar
"""


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
    device: ConfigDevice = None,
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
    from nowcast.config import to_toml
    from nowcast.training.launch import TrainOptions, options_config, plan_training

    options = TrainOptions(
        data=data,
        preset=preset,
        config_file=config,
        run_dir=run_dir,
        resume=resume,
        init=init,
        updates={
            "data": {"crop": crop, "in_len": in_len, "out_len": out_len},
            "train": {
                "max_epochs": max_epochs,
                "max_steps": max_steps,
                "max_minutes": max_minutes,
                "batch_size": batch_size,
                "lr": lr,
                "loss": loss,
                "device": device,
                "precision": precision,
                "compile": compile_model,
                "seed": seed,
                "checkpoint_every": checkpoint_every,
                "num_workers": num_workers,
            },
        },
    )
    if print_config:
        _console.out.print(to_toml(options_config(options)), highlight=False, markup=False)
        return
    _train(plan_training(options))


def _train(plan: TrainPlan) -> None:
    """Run the plan; rank 0 (or a single process) shows progress and the result line."""
    from nowcast.cli._train_progress import TrainProgress
    from nowcast.training.launch import run_plan

    if not plan.reports:  # ranks other than 0 train silently; rank 0 reports
        run_plan(plan)
        return
    stats = TextColumn("loss {task.fields[loss]:.4g} {task.fields[rate]:.1f} samples/s")
    with _console.progress(stats) as bar:
        result = run_plan(plan, TrainProgress(bar))
    best = "-" if result.best_val_loss is None else f"{result.best_val_loss:.5g}"
    _console.out.print(
        f"run {plan.run_dir}: {result.steps} steps, {result.epochs:.2f} epochs, "
        f"best val_loss {best} ({result.stop_reason}), {result.seconds:.0f} s"
    )
