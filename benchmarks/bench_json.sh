#!/usr/bin/env bash
# Runs `fnflight bench WHAT --json [key=value ...]` and commits-ready output:
# benchmarks/results/bench_WHAT.jsonl (one JSON object per case) + bench_WHAT.md (command, machine, load).
# usage: benchmarks/bench_json.sh ops|data|enhance|train [key=value ...]
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:?usage: $0 ops|data|enhance|train [key=value ...]}
shift
OUT=benchmarks/results
mkdir -p "$OUT"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
.venv/bin/fnflight bench "$WHAT" --json "$@" | tee "$OUT/bench_$WHAT.jsonl"
{
  echo "# fnflight bench $WHAT"
  echo
  echo "- command: \`.venv/bin/fnflight bench $WHAT --json $*\` (via \`benchmarks/bench_json.sh $WHAT $*\`)"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- code: commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' + uncommitted changes')"
  echo "- machine: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "- load average before / after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- results: \`bench_$WHAT.jsonl\` (one JSON object per case)"
} > "$OUT/bench_$WHAT.md"
