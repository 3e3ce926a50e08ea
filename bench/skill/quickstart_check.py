"""Check what `nowcast train` with no data gives: skill on the bundled sample and no patch seams.

    python bench/skill/quickstart_check.py                   # trains first (about 4 min)
    python bench/skill/quickstart_check.py --run runs/X      # a run made earlier

Without ``--run`` it times ``nowcast train --run-dir OUT/run`` (no data: the
``quickstart`` recipe on synthetic rain written into the run folder). Then,
on the bundled sample (held out: no training set uses its seed):

1. scores at every lead time, every start time (56): the run, the bundled
   model, persistence and extrapolation (pySTEPS, when installed); CSI at
   1 mm/h and MSE per lead, and whether the run beats persistence in both at
   every lead;
2. the patch-seam ratio (:func:`nowcast.verification.seams.seam_ratio`) of
   12-step forecasts from 8 start times, per lead, for the run (4-pixel
   patches), the bundled model (4 patches of 3 x 3-pixel blocks: 12 pixels)
   and the observations themselves (4 pixels); a checkerboard puts it
   outside 1 +- 0.2.

Prints markdown tables; exits 1 when the run loses to persistence at a lead
or has seams.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

import nowcast
from nowcast.verification.seams import seam_ratio

LEADS = 12
SEAM_STARTS = 8
TOLERANCE = 0.2


def _train(out: Path) -> Path:
    run = out / "run"
    start = time.perf_counter()
    subprocess.run(["nowcast", "train", "--run-dir", str(run)], check=True)
    print(f"\n`nowcast train` (no data, default budget): {time.perf_counter() - start:.0f} s\n")
    return run


def _scores(run: Path) -> bool:
    scores = nowcast.evaluate(nowcast.sample_path(), [str(run), "default"])
    csi, mse = scores["csi"].sel(threshold=1.0), scores["mse"]
    models = list(scores["model"].values)
    print(f"Scores on the bundled sample, {scores.attrs['n_start_times']} start times")
    print("\n| lead | " + " | ".join(f"CSI1 {m} | MSE {m}" for m in models) + " |")
    print("|---" * (1 + 2 * len(models)) + "|")
    for k, lead in enumerate(scores["lead_time"].values):
        cells = [f"{float(v[m][k]):.3f}" for m in range(len(models)) for v in (csi, mse)]
        print(f"| {int(lead / np.timedelta64(1, 'm'))} min | " + " | ".join(cells) + " |")
    name, reference = models[0], "persistence"
    beats = bool(
        (csi.sel(model=name) > csi.sel(model=reference)).all()
        and (mse.sel(model=name) < mse.sel(model=reference)).all()
    )
    print(f"\n{name} beats persistence in CSI1 and MSE at every lead: {beats}\n")
    return beats


def _seams(run: Path) -> bool:
    sample = xr.open_dataset(nowcast.sample_path(), decode_coords="all")
    times = sample["time"].values
    starts = times[np.linspace(4, times.size - 1 - LEADS, SEAM_STARTS).round().astype(int)]
    fields: dict[str, list[np.ndarray]] = {"run": [], "default": [], "observed": []}
    for start in starts:
        for name, model in (("run", str(run)), ("default", "default")):
            forecast = nowcast.forecast(sample, LEADS, model=model, at=start)
            fields[name].append(forecast["rainfall_rate"].values)
        after = sample["rainfall_rate"].sel(time=slice(start, None)).values[1 : LEADS + 1]
        fields["observed"].append(after)
    patches = {"run": 4, "default": 12, "observed": 4}
    ratios = {
        name: [seam_ratio(np.stack(stack)[:, k], patches[name]) for k in range(LEADS)]
        for name, stack in fields.items()
    }
    print(f"Seam ratio (across / inside patches) per lead, {SEAM_STARTS} start times")
    print("\n| lead | " + " | ".join(f"{n} ({patches[n]} px)" for n in ratios) + " |")
    print("|---" * (1 + len(ratios)) + "|")
    for k in range(LEADS):
        cells = [f"{ratios[n][k]:.3f}" for n in ratios]
        print(f"| {5 * (k + 1)} min | " + " | ".join(cells) + " |")
    worst = max(abs(r - 1) for r in ratios["run"])
    ok = worst <= TOLERANCE
    print(f"\nrun: largest departure from 1 is {worst:.3f} (limit {TOLERANCE}): no seams: {ok}")
    return ok


def main() -> None:
    """Train (unless --run is given), then check skill and seams."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a run folder; default: train one now")
    parser.add_argument("--out", type=Path, default=Path("out/quickstart"))
    args = parser.parse_args()
    run = args.run or _train(args.out)
    beats = _scores(run)
    smooth = _seams(run)
    sys.exit(0 if beats and smooth else 1)


if __name__ == "__main__":
    main()
