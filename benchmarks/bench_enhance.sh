#!/usr/bin/env bash
# Full-resolution tiled inference benchmark (fnflight bench enhance): one JSON line per case, written to
# benchmarks/results/bench_enhance.jsonl with the command, commit and machine in bench_enhance.txt.
# usage: benchmarks/bench_enhance.sh [key=value ...]   (e.g. cases=[sid_full_sony] repeats=3)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "benchmarks/bench_enhance.sh $*   (= .venv/bin/fnflight bench enhance --json $*)"
  echo "code: commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' + uncommitted changes')"
  echo "host: $(uname -srm), cpus: $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  .venv/bin/python -c "import torch; print('torch', torch.__version__, 'threads', torch.get_num_threads())"
} > "$OUT/bench_enhance.txt"
.venv/bin/fnflight bench enhance --json "$@" | tee "$OUT/bench_enhance.jsonl"
