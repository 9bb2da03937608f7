#!/usr/bin/env bash
# Writes the Kodak24 flash/no-flash test set twice (two processes) and compares every file's SHA-256.
# usage: benchmarks/testset_reproducibility.sh KODAK_DIR
# Result: benchmarks/results/testset_reproducibility.md (command, machine, digest of the file list)
set -euo pipefail
cd "$(dirname "$0")/.."
KODAK=${1:?usage: $0 KODAK_DIR}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for run in a b; do
  .venv/bin/fnflight testset task=fnf "source.path=$KODAK" "out=$TMP/$run" seed=0 crop=448 > /dev/null 2>&1
  (cd "$TMP/$run" && find . -type f | sort | xargs sha256sum) > "$TMP/$run.sha256"
done
OUT=benchmarks/results/testset_reproducibility.md
mkdir -p "$(dirname "$OUT")"
if cmp -s "$TMP/a.sha256" "$TMP/b.sha256"; then verdict="byte-identical"; else verdict="DIFFERENT"; fi
{
  echo "# Kodak24 test set written twice: $verdict"
  echo
  echo "- command: \`benchmarks/testset_reproducibility.sh $KODAK\` ($(date -u +%Y-%m-%d))"
  echo "- machine: $(uname -srm), $(nproc) cores"
  echo "- files: $(wc -l < "$TMP/a.sha256") (manifest + samples), digest of the sorted SHA-256 list:"
  echo "  \`$(sha256sum < "$TMP/a.sha256" | cut -d' ' -f1)\` (run a) / \`$(sha256sum < "$TMP/b.sha256" | cut -d' ' -f1)\` (run b)"
} > "$OUT"
cat "$OUT"
[ "$verdict" = byte-identical ]
