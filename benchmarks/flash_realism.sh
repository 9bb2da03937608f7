#!/usr/bin/env bash
# How real is the synthetic flash? `fnflight bench flash-realism` for synthetic pairs made from Kodak24 and
# from BSDS500 val (the set the synthesis parameters were chosen on), 128 and 448 centre crops, against the
# three REAL FAID pairs of faid-samples. One JSON line per (source, crop, dim): transfer_gain_db (an untrained
# flash detail transfer over the best plain blur), detail_corr, and per band the amplitude ratio and slope.
#
# usage: benchmarks/flash_realism.sh DATA_DIR   (DATA_DIR holds kodak24, bsds500-trainval/val, faid-samples)
# Results: benchmarks/results/flash_realism.jsonl (+ flash_realism.md: command, commit, machine)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: $0 DATA_DIR}
BIN=.venv/bin
OUT=benchmarks/results/flash_realism
tmp=$(mktemp)
run() {  # name, then bench options
  local name=$1; shift
  $BIN/fnflight bench flash-realism --json "$@" | sed "s/^{/{\"set\": \"$name\", /" >> "$tmp"
}
# issue 22: amplitude ratio and slope per band beside correlation and transfer gain, at 128 and 448 crops (the
# real pairs are 320 x 240: their "448" line measures the whole frame's largest square)
run kodak24 "synthetic=$DATA/kodak24" "real=$DATA/faid-samples" "crop=[128,448]"
run bsds500_val "synthetic=$DATA/bsds500-trainval/val" "crop=[128,448]"
mv "$tmp" "$OUT.jsonl"
{
  echo "# flash realism"
  echo
  echo "command: benchmarks/flash_realism.sh $DATA"
  echo "code: commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' + uncommitted changes')"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "machine: $(uname -srm), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
} > "$OUT.md"
echo "wrote $OUT.jsonl and $OUT.md"
