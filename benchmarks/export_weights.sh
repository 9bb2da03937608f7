#!/usr/bin/env bash
# The weights behind a benchmark table's rows: each run's last checkpoint (the one the table evaluates) as a
# weights-only float16 file (`fnflight export`), committed beside the table so anyone can re-evaluate it.
#
# usage: benchmarks/export_weights.sh RESULTS_DIR RUNS_DIR MODEL [MODEL ...]
#   writes RESULTS_DIR/weights/MODEL.pt from RUNS_DIR/MODEL/checkpoints/last.ckpt
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: $0 RESULTS_DIR RUNS_DIR MODEL [MODEL ...]}
RUNS=${2:?usage: $0 RESULTS_DIR RUNS_DIR MODEL [MODEL ...]}
shift 2
mkdir -p "$OUT/weights"
for model in "$@"; do
  .venv/bin/fnflight export "ckpt=$RUNS/$model/checkpoints/last.ckpt" "out=$OUT/weights/$model.pt" dtype=float16 overwrite=true
done
