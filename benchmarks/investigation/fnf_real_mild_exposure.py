"""How does the exposure cap of the FnF task (`fnflight.tasks.fnf.cap_exposure`: an image brighter than the
cap is scaled down to it before the net, images and std maps alike, and the output back) change a DeepFnF on
the real FAID pairs at mild noise? (the figures quoted in benchmarks/results/fnf_real_mild/README.md and in
fnflight.tasks.fnf).

For each sample of the test set of benchmarks/fnf_real_mild.sh: the model's PSNR (clipped sRGB, as `fnflight
eval`) with no cap and with caps of 0.18 / 16, 0.18 / 8, 0.18 / 5 (the default, TRAINED_MEAN) and 0.25 / 5.

usage: .venv/bin/python benchmarks/investigation/fnf_real_mild_exposure.py [TESTSET] [WEIGHTS] > OUT.txt
   (WEIGHTS: a checkpoint or weights file; default the shipped deepfnf)
"""

from __future__ import annotations

import statistics as st
import sys

import torch

from fnflight.data.testset import TestSet
from fnflight.models import resolve
from fnflight.tasks.checkpoint import load_task
from fnflight.tasks.metrics import psnr_per_image, render_for_metrics


def main(path: str, weights: str) -> None:
    task = load_task(weights).eval()
    testset = TestSet(path)
    caps = {"no cap": None, "0.18/16": 0.18 / 16, "0.18/8": 0.18 / 8, "0.18/5": 0.18 / 5, "0.25/5": 0.25 / 5}
    scores: dict[tuple[str, float], list[float]] = {}
    for i in range(len(testset)):
        b = {k: v[None] if torch.is_tensor(v) else v for k, v in testset[i].items()}
        target = render_for_metrics(b["target"], b["gain"], b["color_matrix"])
        for name, cap in caps.items():
            task.exposure_cap = cap
            with torch.no_grad():
                out = task.predict(b)["output"]
            psnr = float(psnr_per_image(render_for_metrics(out, b["gain"], b["color_matrix"]), target))
            scores.setdefault((name, float(b["dim"])), []).append(psnr)
    dims = sorted({d for _, d in scores}, reverse=True)
    print(f"model: {weights}")
    print("| exposure cap | " + " | ".join(f"{d:g}x" for d in dims) + " |")
    print("|---|" + "---:|" * len(dims))
    for name in caps:
        print(f"| {name} | " + " | ".join(f"{st.mean(scores[(name, d)]):.2f} dB" for d in dims) + " |")


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "runs/fnf_protocol2/faid_mild_testset",
        sys.argv[2] if len(sys.argv) > 2 else str(resolve("deepfnf")),
    )
