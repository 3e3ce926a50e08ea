"""Forecast time and peak memory: nowcast's model vs pySTEPS extrapolation.

A 12-step forecast from 5 input frames is made on two grids:

- ``knmi``: 765 x 700, five real KNMI frames (05:20-05:40 UTC, the wettest part
  of the shared sequence), ingested to a temporary canonical file and read
  back with :func:`nowcast.data.observations.load_observations`;
- ``large``: 2200 x 1900, five frames of :func:`nowcast.synthetic.generate.synthetic_rain`.

On each grid the model path of ``nowcast forecast``
(:func:`nowcast.forecasting.run.model_forecast`: intensity transform, tiled
:func:`nowcast.forecasting.predict.predict`, inverse transform) runs with
several tile sizes, side by side with pySTEPS Lucas-Kanade motion plus
semi-Lagrangian extrapolation of the same frames
(:func:`nowcast.verification.baselines.extrapolation_forecast`). The model is
the bundled one when ``nowcast/models/default/default.pt`` exists, else a
freshly initialised model of ``bench/recipes/default_model.toml`` on top of the
``radar`` preset: the time does not depend on the weights.

``--blocks 1 3`` adds rows on a working grid of 3 x 3-pixel blocks (``nowcast
forecast --scale-km``: block means in, bilinear interpolation back).

Each method runs in a fresh subprocess (its peak RSS, ``VmHWM``, is its
own): one untimed warm-up forecast on a small crop, then the median of
``--repeats`` full forecasts. Prints markdown tables.

Run: ``python bench/speed/bench_forecast.py [--repeats 3] [--tiles 256 512 768 1024]
[--grids knmi large] [--blocks 1 3] [--quick]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from benchlib import environment, peak_rss_mib

if TYPE_CHECKING:
    from nowcast.forecasting.model_choice import LoadedModel

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("NOWCAST_DATA_DIR", REPO.parent / "shared" / "data"))
MODEL_TOML = REPO / "bench" / "recipes" / "default_model.toml"
KNMI_FILES = [
    f"RAD_NL25_RAP_5min_20100826{hhmm}.h5" for hhmm in ("0520", "0525", "0530", "0535", "0540")
]
LARGE_SHAPE = (2200, 1900)
IN_LEN = 5
STEPS = 12
VERSIONS = ("torch", "numpy", "pysteps", "opencv-python-headless", "h5py", "netCDF4")


def prepare_inputs(workdir: Path, large: bool) -> dict[str, Path]:
    """Write the input frames of every grid as ``.npy`` (float32 mm/h, NaN = no coverage).

    The KNMI frames go through ``ingest`` and back through the forecast
    command's reader, as ``nowcast forecast canonical.nc`` would read them.
    """
    from nowcast.data.observations import load_observations
    from nowcast.io.ingest.pipeline import ingest

    canonical = workdir / "knmi.nc"
    ingest([str(DATA_DIR / "radar" / "knmi" / name) for name in KNMI_FILES], canonical)
    obs = load_observations([str(canonical)])
    paths = {"knmi": workdir / "knmi.npy"}
    np.save(paths["knmi"], obs.read(np.arange(len(obs.times))))
    if large:
        from nowcast.synthetic.generate import synthetic_rain

        start = time.perf_counter()
        frames = synthetic_rain(IN_LEN, LARGE_SHAPE, seed=3)
        print(f"(synthetic {LARGE_SHAPE} input generated in {time.perf_counter() - start:.0f} s)")
        paths["large"] = workdir / "large.npy"
        np.save(paths["large"], frames)
    return paths


def load_bench_model() -> tuple[LoadedModel, str]:
    """The bundled model, or a fresh one of ``bench/recipes/default_model.toml``; and its name."""
    import torch

    from nowcast.forecasting.model_choice import DEFAULT_MODEL, LoadedModel, load_model

    if DEFAULT_MODEL.is_file():
        return load_model(DEFAULT_MODEL, torch.device("cpu")), "bundled default.pt"
    from nowcast.config import RunConfig, load_toml, merge
    from nowcast.data.transforms import make_transform
    from nowcast.models import build_model
    from nowcast.presets import apply_preset

    cfg = merge(apply_preset(RunConfig(), "radar"), load_toml(MODEL_TOML))
    torch.manual_seed(0)
    loaded = LoadedModel(
        path=MODEL_TOML,
        sha256="",
        model=build_model(cfg.model).eval(),
        transform=make_transform(cfg.data),
        variable=cfg.data.variable,
        units="mm h-1",
        in_len=cfg.data.in_len,
        out_len=cfg.data.out_len,
        timestep_s=cfg.data.timestep_s,
        patch_size=cfg.model.patch_size,
        checkpoint={},
    )
    return loaded, f"fresh {MODEL_TOML.name} model"


def _forecaster(method: str) -> Callable[[np.ndarray], np.ndarray]:
    """``forecast(frames) -> (STEPS, ny, nx)`` for ``model:<tile>:<block>`` or ``pysteps``."""
    if method == "pysteps":
        from nowcast.verification.baselines import extrapolation_forecast

        with contextlib.redirect_stdout(io.StringIO()):  # pysteps prints its config path
            extrapolation_forecast(np.zeros((2, 8, 8), np.float32), 1)
        return lambda frames: extrapolation_forecast(frames, STEPS)
    import torch

    from nowcast.forecasting.run import model_forecast

    loaded, _ = load_bench_model()
    tile, block = (int(v) for v in method.split(":")[1:])
    cpu = torch.device("cpu")
    return lambda frames: model_forecast(loaded, frames, STEPS, device=cpu, tile=tile, factor=block)


def child(method: str, inputs: Path, repeats: int) -> dict[str, float]:
    """Median seconds of ``repeats`` forecasts in this process, peak RSS and output checks."""
    frames = np.load(inputs)
    forecast = _forecaster(method)
    forecast(frames[:, :128, :128])  # warm-up: one-off set-up costs stay out of the timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = forecast(frames)
        times.append(time.perf_counter() - start)
    return {
        "seconds": statistics.median(times),
        "best": min(times),
        "peak_mib": peak_rss_mib(),
        "nan_share": float(np.isnan(out[-1]).mean()),
        "shape_ok": float(out.shape == (STEPS, *frames.shape[1:])),
    }


def spawn(method: str, inputs: Path, repeats: int, threads: int) -> dict[str, float]:
    """Run one :func:`child` in a fresh process; return its JSON result."""
    cmd = [sys.executable, __file__, "--threads", str(threads)]
    cmd += ["--child", method, str(inputs), str(repeats)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def grid_table(
    name: str, inputs: Path, tiles: list[int], blocks: list[int], repeats: int, threads: int
) -> str:
    """Markdown table of every tile size, block size and pySTEPS on one grid, with ratios."""
    shape = np.load(inputs, mmap_mode="r").shape
    ref = spawn("pysteps", inputs, repeats, threads)
    rows = [
        (
            f"nowcast model, tile {t}" + (f", {b}x{b} blocks" if b > 1 else ""),
            spawn(f"model:{t}:{b}", inputs, repeats, threads),
        )
        for b in blocks
        for t in tiles
    ]
    rows.append(("pySTEPS LK + semi-Lagrangian", ref))
    lines = [
        f"| {name} {shape[1]}x{shape[2]}, {IN_LEN} in, {STEPS} steps | median (s) | best (s) "
        "| pySTEPS time / this | peak RSS (MiB) | NaN share of step 12 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, res in rows:
        lines.append(
            f"| {label} | {res['seconds']:.2f} | {res['best']:.2f} "
            f"| {ref['seconds'] / res['seconds']:.2f} | {res['peak_mib']:.0f} "
            f"| {res['nan_share']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Parse arguments; run one child measurement or the whole benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="forecasts per median")
    parser.add_argument("--tiles", type=int, nargs="+", default=[256, 512, 768, 1024])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--grids", nargs="+", default=["knmi", "large"], choices=["knmi", "large"])
    parser.add_argument("--blocks", type=int, nargs="+", default=[1], help="working-grid blocks")
    parser.add_argument("--quick", action="store_true", help="KNMI grid only, tile 512, 1 repeat")
    parser.add_argument(
        "--child", nargs=3, metavar=("METHOD", "NPY", "REPEATS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        method, inputs, repeats = args.child
        print(json.dumps(child(method, Path(inputs), int(repeats))))
        return
    repeats = 1 if args.quick else args.repeats
    tiles = [512] if args.quick else args.tiles
    print(environment(VERSIONS, args.threads), "\n")
    with tempfile.TemporaryDirectory() as tmp:
        paths = prepare_inputs(Path(tmp), large="large" in args.grids and not args.quick)
        _, description = load_bench_model()
        print(f"Model: {description}; median of {repeats} forecast(s) per cell\n")
        for name, inputs in paths.items():
            if name not in args.grids:
                continue
            print(grid_table(name, inputs, tiles, args.blocks, repeats, args.threads), "\n")


if __name__ == "__main__":
    main()
