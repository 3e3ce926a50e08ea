"""Score models on the real radar sets against persistence and pySTEPS extrapolation.

    python bench/skill/skill.py --model default --max-starts 12 --out out/skill
    python bench/skill/skill.py --model knmi=runs/loro-knmi --model bom-cscn=runs/loro-bom \\
        --model rmi-qpe=runs/loro-rmi --out out/loro

Each shared set (``$NOWCAST_DATA_DIR/radar/<set>``) is ingested once into
``OUT/<set>.nc``, then ``nowcast evaluate`` is run on it (every valid start
time, or ``--max-starts`` evenly spread) and a markdown table per set is
printed: per lead time, CSI at 0.5/1/5 mm/h, MSE and FSS at 1 mm/h (10 km)
for every method. A plain ``--model PATH`` is scored on every set, ``--model
SET=PATH`` on that set only (leave-one-radar-out); all models of a set are
scored in one ``nowcast evaluate`` run, so the baselines are computed once.
Each model runs on its own working grid unless ``--scale-km`` is given.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from nowcast.io.ingest.pipeline import ingest
from nowcast.verification.evaluate import EvaluateRequest, run_evaluation

SETS = ("knmi", "bom-cscn", "rmi-qpe")
THRESHOLDS = [0.5, 1.0, 5.0]
FSS_COLUMN = "fss_10km"


def _data_dir() -> Path:
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    return Path(os.environ.get("NOWCAST_DATA_DIR", default))


def _models(specs: list[str]) -> dict[str, list[str]]:
    """The models to score on each set: the plain ones, then that set's own."""
    plain = [s for s in specs if "=" not in s]
    models = {}
    for name in SETS:
        own = [s.split("=", 1)[1] for s in specs if s.split("=", 1)[0] == name and "=" in s]
        models[name] = plain + own or ["default"]
    return models


def _table(name: str, result) -> str:
    methods = [m.name for m in result.evaluation.methods]
    header = ["lead (min)"]
    for method in methods:
        header += [f"{method} CSI0.5", "CSI1", "CSI5", "MSE", "FSS1@10km"]
    lines = [f"### {name}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    cat = {(r["method"], r["lead_time_s"], r["threshold"]): r for r in result.categorical}
    cont = {(r["method"], r["lead_time_s"]): r for r in result.continuous}
    for lead in result.evaluation.lead_times_s:
        cells = [f"{lead // 60}"]
        for method in methods:
            cells += [_fmt(cat[(method, lead, t)]["csi"]) for t in THRESHOLDS]
            cells.append(_fmt(cont[(method, lead)]["mse"]))
            cells.append(_fmt(cat[(method, lead, 1.0)].get(FSS_COLUMN)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def main() -> None:
    """Ingest, evaluate and print one markdown table per radar set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="PATH or SET=PATH")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--max-starts", type=int, default=0)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("out/skill"))
    parser.add_argument(
        "--scale-km", type=float, default=None, help="working grid (default: the model's own)"
    )
    args = parser.parse_args()
    models = _models(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.sets.split(","):
        data = args.out / f"{name}.nc"
        if not data.exists():
            ingest([str(_data_dir() / "radar" / name)], data)
        request = EvaluateRequest(
            models=models[name],
            data=data,
            steps=args.steps,
            thresholds=[0.5, 1.0, 5.0, 10.0],
            max_starts=args.max_starts,
            output_dir=args.out / f"eval-{name}",
            scale_km=args.scale_km,
        )
        result = run_evaluation(request)
        print(
            _table(
                f"{name} ({result.evaluation.start_times.size} start times, "
                f"models {', '.join(models[name])})",
                result,
            )
        )
        print()
        print(result.headline)
        print()


if __name__ == "__main__":
    main()
