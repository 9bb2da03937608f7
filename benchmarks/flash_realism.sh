#!/usr/bin/env bash
# How real is the synthetic flash? `fnflight bench flash-realism` for synthetic pairs made from Kodak24 (224
# and 448 centre crops) and from BSDS500 val (224; the set the synthesis parameters were chosen on), against
# the three REAL FAID pairs of faid-samples (224: they are 320 x 240). One JSON line per (source, dim):
# transfer_gain_db (an untrained flash detail transfer over the best plain blur) and detail_corr (the
# fine-detail correlation of ambient and flash).
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
run kodak24_224 "synthetic=$DATA/kodak24" "real=$DATA/faid-samples" crop=224
run kodak24_448 "synthetic=$DATA/kodak24" crop=448
run bsds500_val_224 "synthetic=$DATA/bsds500-trainval/val" crop=224
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
