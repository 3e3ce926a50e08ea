"""``nowcast train``: fit the ConvLSTM encoder-forecaster on a canonical dataset."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import TextColumn

from nowcast.cli import _console
from nowcast.cli._options import ConfigDevice

if TYPE_CHECKING:
    from nowcast.training.launch import TrainPlan

EPILOG = """Examples:

  nowcast train                         (no data: synthetic rain, about 4 min)

  nowcast train --max-minutes 1         (the same, a shorter budget)

  nowcast train knmi.nc --preset radar --run-dir runs/knmi --max-epochs 30

  nowcast train --resume runs/knmi                   (continue an interrupted run)

  torchrun --nproc-per-node 4 -m nowcast train radar.nc --preset radar
"""


@_console.handle_errors
def command(
    data: Annotated[
        Path | None,
        typer.Argument(
            help="Canonical NetCDF from `nowcast ingest` (default: synthetic rain, "
            "written into the run folder)."
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            help="Named recipe: quickstart, tiny, radar, shi2015-mnist, keras-example "
            "(default: quickstart without DATA, else the built-in defaults)."
        ),
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
    max_epochs: Annotated[int | None, typer.Option(help="Upper bound on epochs.", min=1)] = None,
    max_steps: Annotated[
        int | None, typer.Option(help="Upper bound on steps (0 = none).", min=0)
    ] = None,
    max_minutes: Annotated[
        float | None, typer.Option(help="Wall-clock budget (0 = none).", min=0.0)
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Samples per step (per process).", min=1)
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.", min=0.0)] = None,
    loss: Annotated[
        str | None,
        typer.Option(
            help="mse, mae, mse+mae, balanced_mse, balanced_mae, balanced_mse+mae, "
            "balanced_mse+csi (plus a soft CSI against fading; train.csi_weight) or bce."
        ),
    ] = None,
    crop: Annotated[
        int | None, typer.Option(help="Random crop side in pixels (0 = full).", min=0)
    ] = None,
    in_len: Annotated[int | None, typer.Option(help="Input frames per sample.", min=1)] = None,
    out_len: Annotated[int | None, typer.Option(help="Forecast frames per sample.", min=1)] = None,
    device: ConfigDevice = None,
    precision: Annotated[
        str | None,
        typer.Option(
            help="auto (bf16 on CUDA and on CPUs with AMX, else fp32), fp32, bf16 or fp16."
        ),
    ] = None,
    compile_model: Annotated[
        bool | None, typer.Option("--compile/--no-compile", help="Use torch.compile.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for weights, sampling, augmentation.", min=0)
    ] = None,
    checkpoint_every: Annotated[
        int | None, typer.Option(help="Steps between last.pt writes (0 = epoch ends).", min=0)
    ] = None,
    num_workers: Annotated[
        int | None, typer.Option(help="DataLoader worker processes.", min=0)
    ] = None,
) -> None:
    """Train the ConvLSTM encoder-forecaster on a canonical dataset.

    Writes config.toml, metrics.csv, train.log, last.pt and best.pt into the run folder.

    Without DATA: writes 32 synthetic rain sequences into the run folder, trains the
    quickstart recipe on them for 3 minutes by the clock (--max-minutes; about 4 min
    in all on 2 CPU cores; a GPU trains more steps in the same time) and scores the
    result against persistence and the bundled model on the bundled sample (CSI and
    MSE at 5, 30 and 60 min).

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
    """Run the plan; rank 0 (or a single process) shows the plan, progress and the result."""
    from nowcast.cli._train_progress import TrainProgress
    from nowcast.training.launch import describe_plan, run_plan

    if not plan.reports:  # ranks other than 0 train silently; rank 0 reports
        run_plan(plan)
        return
    _console.err.print(describe_plan(plan), highlight=False, markup=False)
    stats = TextColumn("loss {task.fields[loss]:.4g} {task.fields[rate]:.1f} samples/s")
    try:
        with _console.progress(stats) as bar:
            timed = plan.config.train.max_minutes > 0 and plan.config.train.max_steps == 0
            result = run_plan(plan, TrainProgress(bar, timed))
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: the loop saved last.pt first
        raise _with_resume_hint(exc, plan.run_dir) from None
    best = "-" if result.best_val_loss is None else f"{result.best_val_loss:.5g}"
    _console.out.print(
        f"run {plan.run_dir}: {result.steps} steps, {result.epochs:.2f} epochs, "
        f"best val_loss {best} ({result.stop_reason}), {result.seconds:.0f} s"
    )
    if plan.synthetic:
        _compare(plan)


def _compare(plan: TrainPlan) -> None:
    """The new model against persistence and the bundled model, on the bundled sample."""
    from nowcast.cli.evaluate import score_table
    from nowcast.verification.sample_scores import score_on_sample

    with _console.progress() as bar:
        task = bar.add_task("scoring on the bundled sample", total=None)
        result = score_on_sample(
            plan.run_dir,
            plan.run_dir / "sample_scores",
            device=plan.config.train.device,
            on_start=lambda done, total: bar.update(task, completed=done, total=total),
        )
    thresholds = result.evaluation.thresholds
    _console.err.print(score_table(result.categorical, result.continuous, thresholds))
    _console.out.print(result.headline)


def _with_resume_hint(exc: KeyboardInterrupt, run_dir: Path) -> KeyboardInterrupt:
    """The same interruption, saying where the run's state is and how to continue it."""
    last = run_dir / "last.pt"
    if not last.is_file():
        return exc
    return type(exc)(
        f"training state saved in {last}; continue with: "
        f"nowcast train --resume {shlex.quote(str(run_dir))}"
    )
