#!/usr/bin/env bash
# Do the shipped flash/no-flash nets invent colour (issue 22)? `fnflight bench color-artifacts --json` on
# deterministic light-source pairs from Kodak24 and BSDS500 val (LIMIT photos each, 448 crops, paper 000's test
# dims) and on the three REAL faid-samples pairs at full size, for the shipped models.
#
# usage: [LIMIT=8] benchmarks/color_artifacts.sh DATA_DIR [MODEL ...]   (default models: deepfnf nfonly)
# Results: benchmarks/results/color_artifacts.jsonl (+ .md: command, commit, machine)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: $0 DATA_DIR [MODEL ...]}
shift
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(deepfnf nfonly)
LIMIT=${LIMIT:-8}
OUT=benchmarks/results/color_artifacts
list=$(IFS=,; echo "${MODELS[*]}")
.venv/bin/fnflight bench color-artifacts --json "models=[$list]" "kodak=$DATA/kodak24" \
  "bsds=$DATA/bsds500-trainval/val" "faid=$DATA/faid-samples" "limit=$LIMIT" | tee "$OUT.jsonl"
{
  echo "# color artifacts"
  echo
  echo "command: LIMIT=$LIMIT benchmarks/color_artifacts.sh $DATA ${MODELS[*]}"
  echo "code: commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' + uncommitted changes')"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "machine: $(uname -srm), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "chroma_off: percent of output pixels whose 5x5 rg-chromaticity is > 0.4 from both inputs'"
} > "$OUT.md"
