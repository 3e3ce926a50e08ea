#!/usr/bin/env bash
# Reproduce the bundled default model (nowcast/models/default/default.pt) from scratch.
# Trained only on data the project generates (never on ../shared/data); see docs/model-card.md.
# CPU time: about 40 minutes on a 2-core AMD EPYC (3000 steps of batch 8 at ~10-20 samples/s).
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-out/default-model}"
mkdir -p "$work"
python bench/make_synthetic_dataset.py "$work/synthetic_train.nc" \
    --sequences 60 --frames 40 --size 128 --seed 1000 --overwrite
nowcast train "$work/synthetic_train.nc" --preset radar --config bench/default_model.toml \
    --run-dir "$work/run"
python - "$work/run/best.pt" <<'PY'
import sys
from pathlib import Path

from nowcast.training.checkpoint import export_for_inference

note = ("synthetic rain: python bench/make_synthetic_dataset.py --sequences 60 --frames 40 "
        "--size 128 --seed 1000")
# Forecasts run on a 3 km working grid (docs/skill.md section 6).
export_for_inference(Path(sys.argv[1]), Path("nowcast/models/default/default.pt"), note, scale_km=3.0)
print("wrote nowcast/models/default/default.pt")
PY
