"""Session 4: per-image PSNR and per-channel mean of output / target at dim 100, for the first 12 dim-100
samples of a test set, one column per checkpoint (why an aligned-trained DeepFnF has high SSIM but low PSNR).

usage: .venv/bin/python benchmarks/investigation/channel_means.py TESTSET CKPT [CKPT ...]
"""

import sys

import torch

from fnflight.cli.evaluate import _batches
from fnflight.data import batch as K
from fnflight.data.testset import TestSet
from fnflight.tasks.checkpoint import load_task
from fnflight.tasks.metrics import psnr_per_image

torch.set_grad_enabled(False)
ts = TestSet(sys.argv[1])
tasks = [load_task(c, map_location="cpu").eval() for c in sys.argv[2:]]
print("sample | " + " | ".join(f"{c}: PSNR, R/G/B mean ratio" for c in sys.argv[2:]))
for i, b in enumerate(_batches(ts, {"batch_size": 1, "limit": 48}, torch.device("cpu"), "channel means")):
    if float(b[K.DIM]) != 100:
        continue
    cells = []
    for task in tasks:
        out = task.predict(b)
        pred, target = task.metric_images(b, out)
        ratio = (out["output"].mean((2, 3)) / b[K.TARGET].mean((2, 3))).flatten().tolist()
        cells.append(f"{float(psnr_per_image(pred, target)):.2f} dB, " + "/".join(f"{r:.2f}" for r in ratio))
    print(f"{i} | " + " | ".join(cells), flush=True)
