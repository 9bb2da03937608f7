"""Choose the sigmas of the ``petschnigg`` peer (fnflight.classical.petschnigg.PARAMS) on a validation set.

A flash/no-flash test set is written from BSDS500 val with the Kodak protocol (dims 100 / 50 / 25 / 12.5, the
protocol's noise and shake; 256 px crops, the val photos being 481 x 321), then for every dim the
(sigma_space, sigma_color) pair of the grid with the best mean PSNR (the eval's rendering) wins. Kodak24,
the test set, is never looked at.

usage: .venv/bin/python benchmarks/tune_petschnigg.py DATA_DIR [LIMIT]
  DATA_DIR holds bsds500-trainval/val (e.g. ../shared/data); LIMIT: validation photos (default 24)
Writes benchmarks/results/petschnigg_tuning.json: the grid, the mean PSNR of every point per dim, the winners.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from fnflight.classical.petschnigg import petschnigg
from fnflight.evaluation.engine import as_batch
from fnflight.data import batch as K
from fnflight.data.testset import TestSet
from fnflight.metrics.image_quality import psnr_per_image, render_for_metrics

SIGMA_SPACE = (1.0, 2.0, 3.0, 4.0)
SIGMA_COLOR = (0.05, 0.1, 0.2, 0.4)
OUT = Path("benchmarks/results/petschnigg_tuning.json")


def main(argv: list[str]) -> int:
    data = Path(argv[0])
    limit = int(argv[1]) if len(argv) > 1 else 24
    root = Path("runs/petschnigg_tuning/bsds500_val_testset")
    if not (root / "manifest.json").is_file():
        exe = str(Path(sys.executable).with_name("fnflight"))
        cmd = [
            exe,
            "testset",
            "task=fnf",
            f"source.path={data}/bsds500-trainval/val",
            f"out={root}",
            "seed=0",
            "crop=256",
            f"limit={limit}",
            "overwrite=true",
        ]
        subprocess.run(cmd, check=True)
    testset = TestSet(root)
    scores: dict[float, dict[str, list[float]]] = {}
    for i in range(len(testset)):
        b = as_batch({k: v[None] for k, v in testset[i].items()})
        dim = float(b[K.DIM][0])
        target = render_for_metrics(b[K.TARGET], b[K.GAIN], b[K.COLOR_MATRIX])
        for ss in SIGMA_SPACE:
            for sc in SIGMA_COLOR:
                out = petschnigg(b[K.NOFLASH], b[K.FLASH], b[K.GAIN], ss, sc)
                psnr = float(psnr_per_image(render_for_metrics(out, b[K.GAIN], b[K.COLOR_MATRIX]), target)[0])
                scores.setdefault(dim, {}).setdefault(f"{ss},{sc}", []).append(psnr)
        print(f"sample {i + 1}/{len(testset)} (dim {dim:g})", file=sys.stderr)
    result = {
        "grid": {"sigma_space": SIGMA_SPACE, "sigma_color": SIGMA_COLOR},
        "testset": str(root),
        "samples_per_dim": {f"{d:g}": len(next(iter(v.values()))) for d, v in scores.items()},
        "mean_psnr": {},
        "best": {},
    }
    for dim, table in sorted(scores.items(), reverse=True):
        means = {k: sum(v) / len(v) for k, v in table.items()}
        best = max(means, key=means.get)
        ss, sc = (float(x) for x in best.split(","))
        result["mean_psnr"][f"{dim:g}"] = {k: round(v, 4) for k, v in means.items()}
        result["best"][f"{dim:g}"] = {"sigma_space": ss, "sigma_color": sc, "psnr": round(means[best], 4)}
        print(f"dim {dim:g}: sigma_space {ss:g}, sigma_color {sc:g} -> {means[best]:.2f} dB")
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main(sys.argv[1:]))
