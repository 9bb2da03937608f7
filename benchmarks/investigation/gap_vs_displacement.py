"""Session 3: per test sample, PSNR of DeepFnF minus no-flash only, against the flash's mean displacement.
Does DeepFnF lose where the flash is most misaligned (training crops of 128 px saw ~3x smaller shifts)?

usage: .venv/bin/python benchmarks/investigation/gap_vs_displacement.py DEEPFNF_CKPT NFONLY_CKPT TESTSET
"""

import sys

import torch

from fnflight.cli.evaluate import _batches
from fnflight.data import batch as K
from fnflight.data.testset import TestSet
from fnflight.tasks.checkpoint import load_task
from fnflight.tasks.metrics import psnr_per_image

torch.set_grad_enabled(False)
tasks = [load_task(p, map_location="cpu").eval() for p in sys.argv[1:3]]
ts = TestSet(sys.argv[3])
rows = []
for batch in _batches(ts, {"batch_size": 1, "limit": None}, torch.device("cpu"), "gap"):
    psnrs = []
    for task in tasks:
        pred, target = task.metric_images(batch, task.predict(batch))
        psnrs.append(float(psnr_per_image(pred, target)[0]))
    rows.append((float(batch[K.DISPLACEMENT][0]), float(batch[K.DIM][0]), psnrs[0] - psnrs[1]))
rows.sort()
n = len(rows)
for name, part in (("smallest third", rows[: n // 3]), ("middle third", rows[n // 3 : 2 * n // 3]), ("largest third", rows[2 * n // 3 :])):
    disp = sum(r[0] for r in part) / len(part)
    gap = sum(r[2] for r in part) / len(part)
    print(f"{name}: mean displacement {disp:.2f} px, mean PSNR gap deepfnf - nfonly {gap:+.2f} dB ({len(part)} samples)")
xs, ys = torch.tensor([r[0] for r in rows]), torch.tensor([r[2] for r in rows])
print(f"correlation(displacement, gap) = {float(torch.corrcoef(torch.stack([xs, ys]))[0, 1]):+.2f}")
