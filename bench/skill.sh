#!/usr/bin/env bash
# The whole skill protocol of docs/skill.md, end to end, on the CPU.
# CPU budget on a 2-core AMD EPYC: ~40 min for the default model (bench/train_default_model.sh,
# skipped when nowcast/models/default/default.pt exists), ~6 min per leave-one-radar-out
# fine-tuning (3x), ~3-5 min per scored set (12x with --max-starts 12), ~3 min per fine-tuning
# on a working grid (3x), ~5 min for the working-grid screen.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/skill}"
starts="${MAX_STARTS:-12}"
mkdir -p "$out"
[ -f nowcast/models/default/default.pt ] || bash bench/train_default_model.sh "$out/default-model"

# 1. The bundled default model (trained on synthetic rain only) on every real set, on the data's grid.
python bench/skill.py --model default --scale-km 0 --max-starts "$starts" --out "$out" \
    | tee "$out/default.md"

# 2. Leave-one-radar-out: fine-tune the default model on two radars, score on the third.
sets=(knmi bom-cscn rmi-qpe)
for held in "${sets[@]}"; do
    train=()
    for s in "${sets[@]}"; do [ "$s" != "$held" ] && train+=("$out/$s.nc"); done
    python bench/make_loro_dataset.py "$out/loro-without-$held.nc" "${train[@]}" --overwrite
    rm -rf "$out/runs/loro-$held"
    nowcast train "$out/loro-without-$held.nc" --config bench/loro.toml \
        --init nowcast/models/default/default.pt --run-dir "$out/runs/loro-$held"
done
python bench/skill.py --max-starts "$starts" --out "$out" \
    --model "knmi=$out/runs/loro-knmi" --model "bom-cscn=$out/runs/loro-bom-cscn" \
    --model "rmi-qpe=$out/runs/loro-rmi-qpe" | tee "$out/loro.md"

# 3. The working grid (docs/skill.md section 6): screen scales with the bundled model, then
#    score it at its own working grid, and leave-one-radar-out fine-tunings on block means of
#    the scale chosen on the two training radars (3 km; 4 km with RMI held out).
python bench/scale_screen.py --model default --scales 0,2,3,4,6 --leads 1,2,4,6,10,12 \
    --max-starts 8 --out "$out" | tee "$out/scale-screen.md"
python bench/skill.py --model default --max-starts "$starts" --out "$out" | tee "$out/default-grid.md"
for held in "${sets[@]}"; do
    km=3
    [ "$held" = rmi-qpe ] && km=4
    train=()
    for s in "${sets[@]}"; do [ "$s" != "$held" ] && train+=("$out/$s.nc"); done
    python bench/make_loro_dataset.py "$out/loro-grid-without-$held.nc" "${train[@]}" \
        --block-km "$km" --overwrite
    rm -rf "$out/runs/loro-grid-$held"
    nowcast train "$out/loro-grid-without-$held.nc" --config bench/loro_coarse.toml \
        --init nowcast/models/default/default.pt --run-dir "$out/runs/loro-grid-$held"
    python bench/skill.py --max-starts "$starts" --out "$out" --sets "$held" --scale-km "$km" \
        --model "$held=$out/runs/loro-grid-$held" | tee "$out/loro-grid-$held.md"
done
