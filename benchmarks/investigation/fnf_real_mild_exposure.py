"""Does the exposure scaling of `fnflight enhance` change the shipped deepfnf on the real FAID pairs at mild
noise? (the figures quoted in benchmarks/results/fnf_real_mild/README.md and in fnflight.cli.enhance).

For each sample of the test set of benchmarks/fnf_real_mild.sh: the shipped model's PSNR (clipped sRGB, as
`fnflight eval`) on the input as it is, and with the input scaled down (images and std maps) to a mean of
0.18 / 16 and of 0.18 / 5 linear before the net and the output scaled back (`fnflight.cli.enhance._fnf_output`
with each target mean).

usage: .venv/bin/python benchmarks/investigation/fnf_real_mild_exposure.py [TESTSET] > OUT.txt
"""

from __future__ import annotations

import statistics as st
import sys

import torch

from fnflight.cli import enhance
from fnflight.data.testset import TestSet
from fnflight.models import resolve
from fnflight.tasks.checkpoint import load_task
from fnflight.tasks.metrics import psnr_per_image, render_for_metrics


def main(path: str) -> None:
    task = load_task(resolve("deepfnf"))
    testset = TestSet(path)
    means = {"unscaled": None, "to 0.18/16": 0.18 / 16, "to 0.18/5": 0.18 / 5}
    scores: dict[tuple[str, float], list[float]] = {}
    for i in range(len(testset)):
        b = {k: v[None] if torch.is_tensor(v) else v for k, v in testset[i].items()}
        target = render_for_metrics(b["target"], b["gain"], b["color_matrix"])
        for name, mean in means.items():
            with torch.no_grad():
                if mean is None:
                    out = task.predict(b)["output"]
                else:
                    enhance.TRAINED_MEAN = mean
                    out = enhance._fnf_output(task, b, None)
            psnr = float(psnr_per_image(render_for_metrics(out, b["gain"], b["color_matrix"]), target))
            scores.setdefault((name, float(b["dim"])), []).append(psnr)
    dims = sorted({d for _, d in scores}, reverse=True)
    print("| input | " + " | ".join(f"{d:g}x" for d in dims) + " |")
    print("|---|" + "---:|" * len(dims))
    for name in means:
        print(f"| {name} | " + " | ".join(f"{st.mean(scores[(name, d)]):.2f} dB" for d in dims) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/fnf_protocol2/faid_mild_testset")
