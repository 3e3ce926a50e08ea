"""``nowcast evaluate``: verification scores against persistence and optical-flow extrapolation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from nowcast.cli import _console
from nowcast.cli._options import Device, Frame, ScaleKm
from nowcast.errors import ConfigError
from nowcast.io.grid import parse_utc

EPILOG = """Examples:

  nowcast evaluate         (newest run's test split, else the bundled sample)

  nowcast evaluate --model runs/a --model runs/b --data rmi.nc --max-starts 20

  nowcast evaluate --forecast fc.nc --obs radar.nc --thresholds 0.5,1,5
"""


def _floats(text: str, what: str) -> list[float]:
    """Comma-separated numbers > 0; anything else is a usage error (exit 2) naming ``what``."""
    from nowcast.verification.evaluate import positive_numbers

    try:
        return positive_numbers([float(v) for v in text.split(",") if v.strip()], what)
    except ValueError:
        raise _console.fail(f"{what} must be comma-separated numbers, got {text!r}", 2) from None
    except ConfigError as exc:
        raise _console.fail(str(exc), 2) from None


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
        typer.Option(help="Baselines to compare: persistence, extrapolation (pySTEPS), or 'none'."),
    ] = "persistence,extrapolation",
    start: Annotated[str | None, typer.Option(help="First start time to score (UTC ISO).")] = None,
    end: Annotated[str | None, typer.Option(help="Last verifying time to score (UTC ISO).")] = None,
    max_starts: Annotated[
        int, typer.Option(help="Score at most K start times, evenly spread (0 = all).", min=0)
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
    pooled over all start times and pixels.
    """
    from nowcast.verification.evaluate import EvaluateRequest, run_evaluation

    request = EvaluateRequest(
        models=list(model or []),
        data=data,
        forecast=forecast,
        obs=obs,
        steps=steps,
        thresholds=_floats(thresholds, "--thresholds") if thresholds else None,
        scales_km=_floats(scales, "--scales"),
        baselines=[]
        if baselines.strip() == "none"
        else [b.strip() for b in baselines.split(",") if b.strip()],
        start=None if start is None else parse_utc(start, "--start"),
        end=None if end is None else parse_utc(end, "--end"),
        max_starts=max_starts,
        output_dir=output_dir,
        device=device,
        scale_km=scale_km,
        frame=frame,
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
