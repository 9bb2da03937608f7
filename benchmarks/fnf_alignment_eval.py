"""Residual flash misalignment after the learned aligner, on FnF test sets whose manifests hold the warps.

For every sample: the mean Manhattan displacement of the flash's true homography (``before_px``) and of the
residual after alignment (``after_px``, :class:`fnflight.tasks.flash_alignment.FlashAlignmentTask`), averaged
per (set, dim). Two rows to compare with: ``classical_lk``, plain coarse-to-fine Lucas-Kanade on hand-made
features (the high-pass of the log luminance; 8-parameter homography at every level, no search), and
``untrained_aligner``, the aligner's pipeline (translation search, then translation / affine / homography
levels) at its initialisation (seed 0), where the learned feature channels are near zero: what training adds.

usage: .venv/bin/python benchmarks/fnf_alignment_eval.py CKPT OUT_DIR NAME=TESTSET [NAME=TESTSET ...]
Writes OUT_DIR/results.json (records {"set", "method", "dim", "before_px", "after_px", "samples"}) and
OUT_DIR/results.md.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from statistics import mean

import torch
import torch.nn.functional as F

from fnflight.data import batch as keys
from fnflight.data.testset import TestSet
from fnflight.imaging import mean_displacement
from fnflight.nets.flash_aligner import log_highpass
from fnflight.ops.lucas_kanade import lucas_kanade_homography, pixel_homography
from fnflight.model_io.checkpoint import load_task
from fnflight.tasks.fnf import fnf_inputs


def classical_homography(x: dict[str, torch.Tensor]) -> torch.Tensor:
    # the aligner's own classical channel (fnflight.nets.flash_aligner.log_highpass), at full resolution
    moving, fixed = log_highpass(x["flash"]), log_highpass(x["noflash"])
    a = None
    for factor, steps in ((16, 10), (8, 8), (4, 6), (2, 4), (1, 4)):
        m, f = (F.avg_pool2d(moving, factor), F.avg_pool2d(fixed, factor)) if factor > 1 else (moving, fixed)
        if min(f.shape[-2:]) >= 3:
            a = lucas_kanade_homography(m, f, a, steps)
    return pixel_homography(a, *fixed.shape[-2:])


def _aligner_args(path: str) -> dict:
    """The constructor arguments of the checkpoint's aligner (its model config)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)  # a weights-only file of fnflight export
    return dict(json.loads(ckpt["model_config"])["net"].get("init_args") or {})


def main(argv: list[str]) -> int:
    if len(argv) < 3 or not all("=" in a for a in argv[2:]):
        print(__doc__, file=sys.stderr)
        return 2
    task = load_task(argv[0]).eval()
    torch.manual_seed(0)
    untrained = type(task.net)(**_aligner_args(argv[0])).eval()
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[tuple[str, str, float], list[tuple[float, float]]] = defaultdict(list)
    for spec in argv[2:]:
        name, path = spec.split("=", 1)
        testset = TestSet(path)
        for i in range(len(testset)):
            batch = {k: v[None] if torch.is_tensor(v) else v for k, v in testset[i].items()}
            h, w = batch[keys.TARGET].shape[-2:]
            back = torch.linalg.inv(batch[keys.HOMOGRAPHY].float())
            before = float(mean_displacement(back, h, w))
            with torch.no_grad():
                learned = task.predict(batch)["homography"]
                x = fnf_inputs(batch, task.input_preparation)
                classical = classical_homography(x)
                start = untrained(x["noflash"], x["flash"], x["noflash_std"], x["flash_std"])["homography"]
            dim = float(batch[keys.DIM])
            for method, a in (
                ("learned_aligner", learned),
                ("untrained_aligner", start),
                ("classical_lk", classical),
            ):
                rows[(name, method, dim)].append((before, float(mean_displacement(back @ a, h, w))))
            print(f"{name} {i + 1}/{len(testset)}", end="\r", file=sys.stderr)
        print(file=sys.stderr)
    records = [
        {
            "set": s,
            "method": m,
            "dim": d,
            "before_px": round(mean(b for b, _ in v), 3),
            "after_px": round(mean(a for _, a in v), 3),
            "max_after_px": round(max(a for _, a in v), 3),
            "samples": len(v),
        }
        for (s, m, d), v in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[0][2]))
    ]
    (out / "results.json").write_text(json.dumps(records, indent=1) + "\n")
    lines = [
        "| set | method | dim | before (px) | after (px) | max after (px) | samples |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['set']} | {r['method']} | {r['dim']:g} | {r['before_px']:.2f} | {r['after_px']:.2f} | "
            f"{r['max_after_px']:.2f} | {r['samples']} |"
        )
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
