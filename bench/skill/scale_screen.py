"""Screen working grids quickly: CSI at 1 mm/h and MSE per lead, model vs persistence.

    python bench/skill/scale_screen.py --model default --scales 0,2,3,4,6 --max-starts 8

For each shared radar set (ingested by ``bench/skill/skill.py`` into ``OUT/<set>.nc``)
and each working grid (``nowcast forecast --scale-km``), one line per lead:
the model's CSI at 1 mm/h and MSE against persistence's on the same start
times. No pySTEPS extrapolation and no report files, so one set and scale
takes seconds to a minute instead of the minutes of ``bench/skill/skill.py``; use
it to choose a scale, then score the choice with ``bench/skill/skill.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from nowcast.forecasting.model_choice import load_model, resolve_model
from nowcast.forecasting.run import model_forecast
from nowcast.forecasting.scale import block_factor
from nowcast.io.canonical import open_canonical
from nowcast.verification.baselines import persistence_forecast
from nowcast.verification.categorical import ContingencyTable
from nowcast.verification.continuous import ContinuousScores

SETS = ("knmi", "bom-cscn", "rmi-qpe")
STEPS = 12
CPU = torch.device("cpu")


def screen(model: str, path: Path, scale_km: float, max_starts: int, leads: list[int]) -> str:
    """One markdown row per lead step in ``leads``: CSI@1 and MSE, model and persistence."""
    loaded = load_model(resolve_model(model), CPU)
    data = open_canonical(path)
    factor = block_factor(data.grid, scale_km)
    last_inputs = np.linspace(loaded.in_len - 1, len(data) - STEPS - 1, max_starts).astype(int)
    tables = {name: ContingencyTable([1.0], STEPS) for name in ("model", "persistence")}
    errors = {name: ContinuousScores(STEPS) for name in ("model", "persistence")}
    for last in last_inputs:
        raw = data.read(last - loaded.in_len + 1, last + 1)
        observed = data.read(last + 1, last + 1 + STEPS)
        forecasts = {
            "model": model_forecast(loaded, raw, STEPS, device=CPU, factor=factor),
            "persistence": persistence_forecast(raw[-1], STEPS),
        }
        for name, forecast in forecasts.items():
            tables[name].update_all(forecast, observed)
            errors[name].update_all(forecast, observed)
    csi = {name: table.scores()["csi"][:, 0] for name, table in tables.items()}
    mse = {name: e.scores()["mse"] for name, e in errors.items()}
    step_min = data.timestep_s // 60
    rows = [
        f"| {path.stem} | {scale_km:g} ({factor} px) | {(k + 1) * step_min} | "
        f"{csi['model'][k]:.3f} | {csi['persistence'][k]:.3f} | "
        f"{mse['model'][k]:.3f} | {mse['persistence'][k]:.3f} |"
        for k in (lead - 1 for lead in leads)
    ]
    return "\n".join(rows)


def main() -> None:
    """Print the screening table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--scales", default="0,2,3,4,6", help="working grids in km")
    parser.add_argument("--max-starts", type=int, default=8)
    parser.add_argument("--leads", default="1,6,10,12", help="lead steps to print (1-12)")
    parser.add_argument(
        "--out", type=Path, default=Path("out/skill"), help="bench/skill/skill.py's --out"
    )
    args = parser.parse_args()
    leads = [int(v) for v in args.leads.split(",")]
    print("| set | working grid km (block) | lead (min) | CSI@1 | pers. | MSE | pers. |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name in args.sets.split(","):
        for scale in (float(v) for v in args.scales.split(",")):
            path = args.out / f"{name}.nc"
            print(screen(args.model, path, scale, args.max_starts, leads), flush=True)


if __name__ == "__main__":
    main()
