"""How far does the protocol's camera shake move the flash? The mean per-pixel displacement of the
flash homographies of FlashNoFlashDataModule, for training (128 px crops as windows of the 448 frame) and for
validation / test (448 px), with the scale about the source image's origin (the authors' code, default) and
about the frame's centre, against the paper's "average per-pixel displacement ranges up to 20 pixels"
(Manhattan, sec. 4.1).

usage: .venv/bin/python benchmarks/fnf_displacement.py [DRAWS]
Writes benchmarks/results/fnf_displacement.json: per (scale_centre, stage, crop) the Euclidean and
Manhattan mean displacement over each crop's pixels, their percentiles over DRAWS draws (default 2048).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from fnflight.data import FlashNoFlashDataModule

OUT = Path("benchmarks/results/fnf_displacement.json")


def displacement(homs: torch.Tensor, size: int, step: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean Euclidean and Manhattan ``|H p - p|`` over a grid of a ``size`` crop's pixel centres, per draw."""
    c = torch.arange(step / 2 - 0.5, size, step, dtype=torch.float64)
    ys, xs = torch.meshgrid(c, c, indexing="ij")
    p = torch.stack([xs.flatten(), ys.flatten(), torch.ones(xs.numel(), dtype=torch.float64)])  # (3, N)
    q = homs.double() @ p
    d = q[:, :2] / q[:, 2:] - p[None, :2]
    return d.norm(dim=1).mean(1), d.abs().sum(1).mean(1)


def main(argv: list[str]) -> int:
    draws = int(argv[0]) if argv else 2048
    rows = []
    for centre in ("origin", "centre"):
        for stage, crop in (("train", 128), ("test", 448)):
            dm = FlashNoFlashDataModule(crop=crop, num_workers=0, scale_centre=centre)
            homs = dm._camera_shake(1, draws, crop, crop, torch.Generator().manual_seed(0), stage=stage)[0]
            euclid, manhattan = displacement(homs, crop)
            q = torch.tensor([0.5, 0.9, 0.99])
            rows.append(
                {
                    "scale_centre": centre,
                    "stage": stage,
                    "crop": crop,
                    "draws": draws,
                    "mean_px": round(float(euclid.mean()), 3),
                    "manhattan_mean_px": round(float(manhattan.mean()), 3),
                    "manhattan_p50_p90_p99_px": [round(float(v), 2) for v in manhattan.quantile(q.double())],
                    "manhattan_max_px": round(float(manhattan.max()), 2),
                }
            )
            print(json.dumps(rows[-1]))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    result = {
        "command": f"benchmarks/fnf_displacement.py {draws}",
        "commit": commit,
        "paper": "sec. 4.1: the average per-pixel displacement ranges up to 20 px (Manhattan) in training",
        "rows": rows,
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
