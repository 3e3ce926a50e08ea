"""``nowcast evaluate``: verification scores against persistence and optical-flow extrapolation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from nowcast.cli import _console
from nowcast.cli._options import Device, Frame, ScaleKm, comma_numbers, member_count
from nowcast.io.grid import parse_utc

EPILOG = """Examples:

  nowcast evaluate         (newest run's test split, else the bundled sample)

  nowcast evaluate --model runs/a --model runs/b --data rmi.nc --max-starts 20

  nowcast evaluate --forecast fc.nc --obs radar.nc --thresholds 0.5,1,5

  nowcast evaluate --members 20 --baselines persistence,steps
"""


@_console.handle_errors
def command(
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="Checkpoint or run directory (repeat to compare; 'default' = bundled).",
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="Canonical observations to score on (default: the model's test split)."),
    ] = None,
    forecast: Annotated[
        Path | None, typer.Option(help="Score this CF forecast file (any tool's) against --obs.")
    ] = None,
    obs: Annotated[
        Path | None, typer.Option(help="Observations for --forecast (canonical file).")
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(help="Lead times to score (default: the model's output length).", min=1),
    ] = None,
    thresholds: Annotated[
        str | None,
        typer.Option(
            help="Event thresholds, comma-separated (default 0.5,1,5,10 mm/h; 0.1,0.5 for MNIST)."
        ),
    ] = None,
    scales: Annotated[
        str, typer.Option(help="FSS neighbourhood sizes in km (pixels on pixel grids).")
    ] = "1,5,10,20",
    baselines: Annotated[
        str,
        typer.Option(
            help="Baselines to compare: persistence, extrapolation (pySTEPS), steps "
            "(pySTEPS' STEPS ensemble; needs --members), or 'none'."
        ),
    ] = "persistence,extrapolation",
    start: Annotated[str | None, typer.Option(help="First start time to score (UTC ISO).")] = None,
    end: Annotated[str | None, typer.Option(help="Last verifying time to score (UTC ISO).")] = None,
    max_starts: Annotated[
        int, typer.Option(help="Score at most K start times, evenly spread (0 = all).", min=0)
    ] = 0,
    members: Annotated[
        int,
        typer.Option(
            help="Members per ensemble forecast (0 = none, else at least 2). Adds the "
            "probabilistic scores (CRPS, Brier, ROC area, spread/skill, rank histogram; "
            "probabilistic.csv, reliability.png, rank_histogram.png) for the methods that "
            "forecast members (models, the steps baseline); the others get Brier scores of "
            "their 0/1 forecasts, the reference of the Brier skill. An ensemble --forecast "
            "file is scored with its own members, with or without this option.",
        ),
    ] = 0,
    output_dir: Annotated[Path, typer.Option(help="Folder for CSV, JSON and PNG outputs.")] = Path(
        "evaluation"
    ),
    scale_km: ScaleKm = None,
    frame: Frame = None,
    device: Device = "auto",
) -> None:
    """Score forecasts per lead time against persistence and optical-flow extrapolation.

    CSI/POD/FAR/bias/ETS/HSS and FSS at each threshold, MSE/MAE/correlation,
    pooled over all start times and pixels. With --members also CRPS, Brier
    score and skill, ROC area, reliability and rank histograms.
    """
    from nowcast.verification.evaluate import EvaluateRequest, run_evaluation

    members = member_count(members)
    names = (
        []
        if baselines.strip() == "none"
        else [b.strip() for b in baselines.split(",") if b.strip()]
    )
    if "steps" in names and members == 0:
        raise _console.fail(
            "--baselines steps needs --members M, e.g. --members 20 "
            "(see 'nowcast evaluate --help')",
            2,
        )
    request = EvaluateRequest(
        models=list(model or []),
        data=data,
        forecast=forecast,
        obs=obs,
        steps=steps,
        thresholds=comma_numbers(thresholds, "--thresholds") if thresholds else None,
        scales_km=comma_numbers(scales, "--scales"),
        baselines=names,
        start=None if start is None else parse_utc(start, "--start"),
        end=None if end is None else parse_utc(end, "--end"),
        max_starts=max_starts,
        output_dir=output_dir,
        device=device,
        scale_km=scale_km,
        frame=frame,
        members=members,
    )
    with _console.progress() as bar:
        task = bar.add_task("scoring start times", total=None)
        result = run_evaluation(
            request, on_start=lambda done, total: bar.update(task, completed=done, total=total)
        )
    for note in result.evaluation.notes:
        _console.err.print(f"[yellow]note:[/] {note}")
    _console.err.print(
        score_table(result.categorical, result.continuous, result.evaluation.thresholds)
    )
    if result.probabilistic:
        _console.err.print(crps_table(result.continuous))
        if result.brier_skill:
            _console.err.print(brier_skill_table(result.brier_skill))
    _console.out.print(result.headline)
    _console.err.print(f"wrote {', '.join(str(p) for p in result.paths.values())}")


def _key_leads(leads: list[int]) -> list[int]:
    picks = sorted(
        {leads[0], leads[len(leads) // 2 - 1] if len(leads) > 1 else leads[0], leads[-1]}
    )
    return picks


def score_table(
    categorical: list[dict[str, Any]],
    continuous: list[dict[str, Any]],
    thresholds: tuple[float, ...],
) -> Table:
    """Methods x key lead times: CSI per threshold and MSE; the best per column in bold green."""
    leads = sorted({int(r["lead_time_s"]) for r in continuous})
    table = Table(title="Pooled scores (best per lead in bold green)")
    table.add_column("lead")
    table.add_column("method")
    for thr in thresholds:
        table.add_column(f"CSI>={thr:g}", justify="right")
    table.add_column("MSE", justify="right")
    csi = {(r["method"], r["lead_time_s"], r["threshold"]): r["csi"] for r in categorical}
    for lead in _key_leads(leads):
        cells = {
            row["method"]: [csi.get((row["method"], lead, thr), np.nan) for thr in thresholds]
            + [row["mse"]]
            for row in continuous
            if row["lead_time_s"] == lead
        }
        best = _best(cells, higher_is_better=[True] * len(thresholds) + [False])
        for i, (method, values) in enumerate(cells.items()):
            text = [_cell(v, best[j] == method) for j, v in enumerate(values)]
            table.add_row(f"{lead // 60} min" if i == 0 else "", method, *text)
        table.add_section()
    return table


def crps_table(continuous: list[dict[str, Any]]) -> Table:
    """Ensemble methods x key lead times: fair CRPS (lowest in bold green) and spread/skill."""
    rows = [r for r in continuous if r.get("crps") is not None and np.isfinite(r["crps"])]
    leads = sorted({int(r["lead_time_s"]) for r in rows})
    table = Table(title="Ensemble scores (lowest CRPS in bold green; spread/skill 1 = ideal)")
    table.add_column("lead")
    table.add_column("method")
    table.add_column("CRPS", justify="right")
    table.add_column("spread/skill", justify="right")
    for lead in _key_leads(leads) if leads else []:
        cells = {
            r["method"]: [r["crps"], r["spread_skill"]] for r in rows if r["lead_time_s"] == lead
        }
        best = _best(cells, higher_is_better=[False])
        for i, (method, (crps, ratio)) in enumerate(cells.items()):
            table.add_row(
                f"{lead // 60} min" if i == 0 else "",
                method,
                _cell(crps, best[0] == method),
                _cell(ratio, False),
            )
        table.add_section()
    return table


def brier_skill_table(skill: list[dict[str, Any]]) -> Table:
    """Brier skill per threshold at key lead times, against each reference (best in bold green)."""
    thresholds = sorted({float(r["threshold"]) for r in skill})
    leads = sorted({int(r["lead_time_s"]) for r in skill})
    table = Table(title="Brier skill score, 1 - BS / BS(reference): > 0 beats the reference")
    for name in ("lead", "reference", "method"):
        table.add_column(name)
    for thr in thresholds:
        table.add_column(f"BSS>={thr:g}", justify="right")
    references = dict.fromkeys(r["reference"] for r in skill)
    for lead in _key_leads(leads):
        for n, reference in enumerate(references):
            cells: dict[str, list[float]] = {}
            for r in skill:
                if r["reference"] == reference and r["lead_time_s"] == lead:
                    cells.setdefault(r["method"], [np.nan] * len(thresholds))
                    cells[r["method"]][thresholds.index(float(r["threshold"]))] = r["bss"]
            best = _best(cells, higher_is_better=[True] * len(thresholds))
            for i, (method, values) in enumerate(cells.items()):
                text = [_cell(v, best[j] == method) for j, v in enumerate(values)]
                label = f"{lead // 60} min" if n == i == 0 else ""
                table.add_row(label, reference if i == 0 else "", method, *text)
        table.add_section()
    return table


def _best(cells: dict[str, list[float]], higher_is_better: list[bool]) -> list[str | None]:
    best: list[str | None] = []
    for j, higher in enumerate(higher_is_better):
        scored = [(v[j], m) for m, v in cells.items() if v[j] is not None and np.isfinite(v[j])]
        if not scored:
            best.append(None)
            continue
        best.append((max if higher else min)(scored)[1])
    return best


def _cell(value: float | None, best: bool) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    text = f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return f"[bold green]{text}[/]" if best else text
