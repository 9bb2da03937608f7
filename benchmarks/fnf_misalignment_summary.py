"""Summary table of ``benchmarks/fnf_misalignment.sh``: per shake level, the test set's mean flash
displacement (px, from the test set's manifest) and each method's PSNR / SSIM at dim 50 (paper 000 Fig. 3).

usage: .venv/bin/python benchmarks/fnf_misalignment_summary.py OUT_DIR RUNS_DIR LEVEL [LEVEL ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(out: Path, runs: Path, levels: list[str]) -> str:
    rows, methods = [], []
    for s in levels:
        samples = json.loads((runs / f"kodak24_dim50_shake{s}" / "manifest.json").read_text())["samples"]
        shift = sum(x["params"]["displacement"] for x in samples) / len(samples)
        records = json.loads((out / f"shake{s}" / "results.json").read_text())
        by_method = {r["method"]: r for r in records}
        methods += [m for m in by_method if m not in methods]
        rows.append((s, shift, by_method))
    head = "| shake level | mean displacement | " + " | ".join(f"{m} PSNR / SSIM" for m in methods) + " |"
    lines = [
        "# PSNR against flash misalignment, Kodak24 at dim 50 (paper 000 Fig. 3)",
        "",
        head,
        "|---:|---:|" + "---:|" * len(methods),
    ]
    for s, shift, by_method in rows:
        cells = [
            f"{by_method[m]['psnr']:.2f} dB / {by_method[m]['ssim']:.3f}" if m in by_method else "-"
            for m in methods
        ]
        lines.append(f"| {s} | {shift:.2f} px | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    print(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]))
