#!/usr/bin/env bash
# Paper 000 Fig. 3 on our checkpoints: PSNR against the flash's misalignment. Kodak24 at dim 50 (as the
# paper), one test set per camera-shake level s (`shake=s`: the shake ranges of sec. 4.1 times s),
# every checkpoint evaluated on each; the summary gives each level's mean flash displacement in pixels.
#
# usage: benchmarks/fnf_misalignment.sh DATA_DIR CKPT [CKPT ...]
#   DATA_DIR holds kodak24 (e.g. ../shared/data); LEVELS="0 0.5 1 2" by default.
# Results: benchmarks/results/fnf_misalignment/{results.md,command.txt,machine.txt,shakeS/results.json}
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: $0 DATA_DIR CKPT [CKPT ...]}
shift
[ $# -gt 0 ] || { echo "usage: $0 DATA_DIR CKPT [CKPT ...]" >&2; exit 2; }
CKPTS=()
for c in "$@"; do CKPTS+=("ckpt=$c"); done
LEVELS=${LEVELS:-0 0.5 1 2}
BIN=.venv/bin
OUT=benchmarks/results/fnf_misalignment
RUNS=runs/fnf_protocol2/misalignment
mkdir -p "$OUT" "$RUNS"
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "LEVELS=\"$LEVELS\" benchmarks/fnf_misalignment.sh $DATA $*"
  echo "code: commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src configs || echo ' + uncommitted changes')"
} > "$OUT/command.txt"
{
  echo "host: $(uname -srm)"; echo "cpus: $(nproc)"; grep -m1 'model name' /proc/cpuinfo || true
  $BIN/python -c "import torch; print('torch', torch.__version__, 'threads', torch.get_num_threads())"
} > "$OUT/machine.txt"
for s in $LEVELS; do
  set_dir=$RUNS/kodak24_dim50_shake$s
  if [ ! -f "$set_dir/manifest.json" ]; then
    $BIN/fnflight testset task=fnf "source.path=$DATA/kodak24" "out=$set_dir" seed=0 crop=448 overwrite=true \
      "dm.test_dims=[50]" "dm.shake=$s"
  fi
  $BIN/fnflight eval "${CKPTS[@]}" "testset=$set_dir" "out=$OUT/shake$s" baselines=false overwrite=true
done
$BIN/python benchmarks/fnf_misalignment_summary.py "$OUT" "$RUNS" $LEVELS > "$OUT/results.md"
cat "$OUT/results.md"
