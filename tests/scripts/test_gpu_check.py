"""``scripts/gpu_check.sh --dry-run``: the GPU check's every code path on the CPU, so that the script a GPU
session runs once in a while has not rotted in between (no timing assertions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_dry_run(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable, "OMP_NUM_THREADS": "2"}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    rows = [json.loads(line) for line in (tmp_path / "out" / "gpu_check.jsonl").read_text().splitlines()]
    failed = [r for r in rows if not r["ok"]]
    assert proc.returncode == 0 and not failed, (failed, proc.stderr[-3000:])
    names = [r["check"] for r in rows]
    for prefix in (
        "machine",
        "fast_dev_run/32-true/",
        "fast_dev_run/bf16-mixed/",
        "ddp",
        "enhance/",
        "bench_ops",
        "bench_enhance",
        "bench_enhance_device/",
        "bench_train",
    ):
        assert any(n.startswith(prefix) for n in names), (prefix, names)
    for row in rows:
        assert set(row) == {"check", "ok", "seconds", "detail"} and row["seconds"] >= 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["failed"] == [] and summary["checks"] == len(rows)
