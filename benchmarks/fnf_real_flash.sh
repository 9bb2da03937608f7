#!/usr/bin/env bash
# Real flash (issue 15): the FnF benchmark checkpoints, trained on SYNTHETIC flash only, on the three REAL
# flash/ambient pairs of faid-samples, dimmed, noised and warped by the DeepFnF test protocol (dims 100 / 50 /
# 25 / 12.5, 224 centre crops: the samples are 320 x 240), with the classical floors and peers of the same
# run; one comparison picture per pair.
#
# usage: benchmarks/fnf_real_flash.sh DATA_DIR CKPT [CKPT ...]   (DATA_DIR holds faid-samples)
#   e.g. the seed-0 and seed-1 checkpoints of benchmarks/fnf_quality_cpu.sh (runs/fnf_protocol2[/seed1]).
# Results: benchmarks/results/fnf_real_flash[/TAG]/{results.json,results.md,command.txt,comparison_*.png}
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: $0 DATA_DIR CKPT [CKPT ...]}
shift
[ $# -gt 0 ] || { echo "usage: $0 DATA_DIR CKPT [CKPT ...]" >&2; exit 2; }
BIN=.venv/bin
OUT=benchmarks/results/fnf_real_flash${TAG:+/$TAG}
TESTSET=runs/fnf_protocol2/faid_testset
mkdir -p "$OUT"
CKPTS=()
for c in "$@"; do CKPTS+=("ckpt=$c"); done
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "TAG=${TAG:-} benchmarks/fnf_real_flash.sh $DATA $*"
  echo "code: commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src configs || echo ' + uncommitted changes')"
  echo "machine: $(uname -srm), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
} > "$OUT/command.txt"
[ -f "$TESTSET/manifest.json" ] || $BIN/fnflight testset task=fnf source.kind=faid "source.path=$DATA/faid-samples" \
  "out=$TESTSET" seed=0 crop=224
$BIN/fnflight eval "${CKPTS[@]}" "testset=$TESTSET" "out=$OUT" figures=3 figure_crop=0 overwrite=true
