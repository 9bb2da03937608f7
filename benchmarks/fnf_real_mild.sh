#!/usr/bin/env bash
# "A real photo must not come out worse" (issue 16): the SHIPPED flash/no-flash models (fnflight models) on the
# three REAL FAID pairs of faid-samples with mild protocol noise (dims 12.5 / 8 / 5; noise, warp and 224 centre
# crops of the DeepFnF test protocol), against the noisy input and the classical peers of the same run; one
# before/after picture per pair (the README shows them).
#
# usage: benchmarks/fnf_real_mild.sh DATA_DIR [MODEL ...]   (default models: deepfnf nfonly)
# Results: benchmarks/results/fnf_real_mild/{results.json,results.md,command.txt,machine.txt,comparison_*.png}
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
DATA=${1:?usage: $0 DATA_DIR [MODEL ...]}
shift
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(deepfnf nfonly)
BIN=.venv/bin
OUT=benchmarks/results/fnf_real_mild
TESTSET=runs/fnf_protocol2/faid_mild_testset
mkdir -p "$OUT"
provenance "$OUT" benchmarks/fnf_real_mild.sh "benchmarks/fnf_real_mild.sh $DATA ${MODELS[*]}"
[ -f "$TESTSET/manifest.json" ] || $BIN/fnflight testset task=fnf source.kind=faid "source.path=$DATA/faid-samples" \
  "out=$TESTSET" seed=0 crop=224 "dm.test_dims=[12.5,8,5]"
ARGS=()
for m in "${MODELS[@]}"; do ARGS+=("model=$m"); done
$BIN/fnflight eval "${ARGS[@]}" "testset=$TESTSET" "out=$OUT" figures=3 figure_crop=0 overwrite=true
