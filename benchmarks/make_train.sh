#!/usr/bin/env bash
# The first run a newcomer makes (issue 26): `make train` on a FRESH clone of this repository (the venv
# bootstrapped by the Makefile, then the default run, timed without the bootstrap), its outputs committed:
# summary.txt (what it printed), sample.jpg (its sample.png as JPEG, quality 90), metrics.csv, results.json ({"records": [{"method", "dim",
# "psnr", "ssim", "count"}]}: the trained net, the noisy input and the no-flash-only comparison on the
# validation crops), and command.txt (command, commit, machine, wall time).
#
# usage: benchmarks/make_train.sh [CLONE_DIR]     (default /tmp/fnflight_make_train; it is replaced)
# Results: benchmarks/results/make_train/
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
CLONE=${1:-/tmp/fnflight_make_train}
OUT=$REPO/benchmarks/results/make_train
rm -rf "$CLONE"
git clone -q "$REPO" "$CLONE"
mkdir -p "$OUT"
(cd "$CLONE" && make venv > /dev/null)
start=$(date +%s)
(cd "$CLONE" && make train ARGS="trainer.enable_progress_bar=false") 2>&1 | tee "$CLONE/make_train.log"
wall=$(( $(date +%s) - start ))
RUN=$CLONE/runs/first_run  # named after its experiment
sed -n '/fnflight train: done/,$p' "$CLONE/make_train.log" > "$OUT/summary.txt"
cp "$RUN/results.json" "$RUN/metrics.json" "$OUT/"
# the picture as JPEG (quality 90): results stay small (the PNG is 2 MB)
"$CLONE/.venv/bin/python" -c "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2], quality=90)" "$RUN/sample.png" "$OUT/sample.jpg"
cp "$(ls "$RUN"/logs/version_*/metrics.csv | tail -1)" "$OUT/metrics.csv"
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "benchmarks/make_train.sh (make train on a fresh clone; the venv bootstrap not timed)"
  echo "code: commit $(git -C "$CLONE" rev-parse --short HEAD)"
  echo "machine: $(uname -srm), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "make train wall time: ${wall} s"
} > "$OUT/command.txt"
cat "$OUT/command.txt"
