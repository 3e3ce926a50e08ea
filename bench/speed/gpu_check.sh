#!/usr/bin/env bash
# Everything that needs a GPU, in one run on a CUDA machine (measured on an NVIDIA H200, 141 GB):
#   1. the CUDA tests (tests/training/test_cuda.py) and the model and motion tests on CUDA,
#   2. bench/speed/bench_gpu.py (training step per precision, shi2015-mnist inference
#      sequences/s at batch 64 in TF32 and bf16, forecast time; GPU_BENCH=0 skips it),
#   3. the GPU skill runs of docs/skill.md, side by side on the one GPU: the bundled model's
#      recipe (a residual model in the moving frame, from scratch on synthetic rain,
#      bench/recipes/default_residual_gpu.toml) and, for each radar held out, the
#      leave-one-radar-out fine-tuning of the bundled model on the two other radars' 3 km
#      working grid (bench/skill/loro_residual.toml). The eight runs of 2026-11-28
#      (docs/lab/skill-notebook.md §7.4) are this script at commit f9ca080.
# Inputs carried next to the repo: .whl/ (netCDF4, cftime, pyproj wheels for the machine's
# Python) and .gpu/data/radar/ (a copy of ../shared/data/radar, never committed).
# Results go to $OUT: the log, the bench table, the exported checkpoints, the run logs and the
# GPU utilisation sampled every second during the trainings (gpu_utilisation.csv).
# Wall time on an H200: about 6 minutes with GPU_BENCH=0 (at commit f9ca080). TRAIN_FLAGS adds
# flags to every `nowcast train` (e.g. TRAIN_FLAGS="--max-steps 2 --device cpu" to try the
# plumbing on a CPU).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-out/gpu}"
mkdir -p "$OUT"
work=/tmp/nowcast-gpu
mkdir -p "$work"
log="$OUT/gpu_check.log"
exec > >(tee -a "$log") 2>&1
stamp() { echo "== $(date -u +%H:%M:%S) $*"; }

stamp "set-up"
if [ -d .whl ] && ! python3 -c "import netCDF4, pyproj" 2>/dev/null; then
    # Into the interpreter's own site-packages (a disposable GPU machine image): the
    # tests' child processes (torchrun, kill -9 resume) replace PYTHONPATH and must see them.
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl || exit 1
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export NOWCAST_DATA_DIR="$PWD/.gpu/data"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch, netCDF4, pyproj; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())" || exit 1
nowcast() { python3 -m nowcast "$@"; }

stamp "data preparation (background)"
(
    for s in knmi bom-cscn rmi-qpe; do
        nowcast ingest ".gpu/data/radar/$s" --output "$work/$s.nc" --overwrite > "$work/ingest-$s.log" 2>&1 &
    done
    python3 bench/recipes/make_synthetic_dataset.py "$work/synthetic_train.nc" \
        --sequences 160 --frames 40 --size 160 --seed 1000 --overwrite > "$work/synthetic.log" 2>&1 &
    wait
    sets=(knmi bom-cscn rmi-qpe)
    for held in "${sets[@]}"; do
        km=3
        train=()
        for s in "${sets[@]}"; do [ "$s" != "$held" ] && train+=("$work/$s.nc"); done
        python3 bench/skill/make_loro_dataset.py "$work/loro-grid-without-$held.nc" "${train[@]}" \
            --block-km "$km" --overwrite &
    done
    wait
    touch "$work/data.done"
) > "$work/prep.log" 2>&1 &
prep=$!

stamp "CUDA tests"
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/training/test_cuda.py tests/models tests/motion \
    -rs 2>&1 | tail -25

if [ "${GPU_BENCH:-1}" != 0 ]; then
    stamp "GPU benchmark"
    timeout 150 python3 bench/speed/bench_gpu.py --steps 10 --warmup 3 --compile | tee "$OUT/bench_gpu.md"
fi

stamp "waiting for the data"
wait "$prep"
cat "$work/prep.log" "$work"/ingest-*.log "$work/synthetic.log" | tail -20
[ -f "$work/data.done" ] || { echo "data preparation failed"; exit 1; }

stamp "four trainings side by side"
launch() {  # run name, data file, config, extra flags...
    local name=$1 data=$2 config=$3
    shift 3
    nowcast train "$data" --config "$config" --run-dir "$work/runs/$name" "$@" ${TRAIN_FLAGS:-} \
        > "$work/train-$name.log" 2>&1 &
    jobs+=($!)
}
jobs=()
# GPU utilisation and memory every second while the trainings run (what limits them: a busy
# GPU near 100 %, or data loading and small kernels well below it).
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 1 \
    > "$OUT/gpu_utilisation.csv" 2>/dev/null &
sampler=$!
launch default-residual "$work/synthetic_train.nc" bench/recipes/default_residual_gpu.toml
for held in knmi bom-cscn rmi-qpe; do
    launch "loro-residual-$held" "$work/loro-grid-without-$held.nc" bench/skill/loro_residual.toml \
        --init nowcast/models/default/default.pt
done
wait "${jobs[@]}"  # by pid: a bare wait would also wait for the tee behind the log
kill "$sampler" 2>/dev/null
python3 - "$OUT/gpu_utilisation.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.reader(open(sys.argv[1])))[1:]
busy = [float(r[1].split()[0]) for r in rows if len(r) > 2 and r[1].strip()[:1].isdigit()]
if busy:
    print(f"GPU utilisation during the trainings: median {statistics.median(busy):.0f} %, "
          f"mean {statistics.fmean(busy):.0f} % over {len(busy)} s")
PY
for f in "$work"/train-*.log; do echo "--- $f"; tail -4 "$f"; done

stamp "export"
python3 - "$work/runs" "$OUT" <<'PY'
import sys
from pathlib import Path

from nowcast.training.checkpoint import export_for_inference

runs, out = Path(sys.argv[1]), Path(sys.argv[2])
synthetic = (
    "synthetic rain: python bench/recipes/make_synthetic_dataset.py --sequences 160 "
    "--frames 40 --size 160 --seed 1000 (bench/speed/gpu_check.sh)"
)
notes = {"default-residual": synthetic}
for run in sorted(runs.iterdir()):
    best = run / "best.pt"
    if best.is_file() and not run.is_symlink():
        note = notes.get(
            run.name, f"bench/speed/gpu_check.sh: {run.name}, two radars of ../shared/data (working grid)"
        )
        export_for_inference(best, out / f"{run.name}.pt", note)
        print("exported", run.name)
PY
tar -czf "$OUT/runs.tar.gz" -C "$work" \
    $(cd "$work" && ls runs/*/metrics.csv runs/*/train.log runs/*/config.toml 2>/dev/null)
stamp "done"
