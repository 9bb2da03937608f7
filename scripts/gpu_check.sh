#!/usr/bin/env bash
# The GPU check of fnflight (issue 23 part 5): every GPU path once in under 8 minutes on one GPU.
# Writes one JSON line per check, {"check", "ok", "seconds", "detail"}, to $OUT/gpu_check.jsonl (and stdout),
# plus $OUT/summary.json; a failing check does not stop the others. The checks live in scripts/gpu_check.py.
#
# usage: [OUT=DIR] scripts/gpu_check.sh [--dry-run] [--only PREFIX] [--budget SECONDS]
#   OUT                  output folder (default ./gpu_check_out)
#   --dry-run            (or GPU_CHECK_DRY_RUN=1) the same code paths on the CPU, tiny and fast: the test suite
#                        runs it (tests/scripts/test_gpu_check.py) so that the script cannot rot
#   PYTHON               the interpreter (default: .venv/bin/python of this checkout, else python3)
# Exit status: 0 when every check passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export OUT=${OUT:-gpu_check_out}
exec "$PY" scripts/gpu_check.py "$@"
