"""Session 3: does a trained DeepFnF checkpoint use its flash input? Evaluate it on the test set with the
flash as given, replaced by the noisy no-flash copy (no extra information), and by another scene's flash.

usage: .venv/bin/python benchmarks/investigation/flash_use.py CKPT TESTSET
"""

import sys

import torch

from fnflight.cli.evaluate import _batches, _levels
from fnflight.data import batch as K
from fnflight.data.testset import TestSet
from fnflight.tasks.checkpoint import load_task
from fnflight.tasks.metrics import DimMetrics

torch.set_grad_enabled(False)
task = load_task(sys.argv[1], map_location="cpu").eval()
ts = TestSet(sys.argv[2])
variants = {"flash": DimMetrics(_levels(ts)), "noflash_copy": DimMetrics(_levels(ts)), "other_flash": DimMetrics(_levels(ts))}
history = []
for batch in _batches(ts, {"batch_size": 1, "limit": None}, torch.device("cpu"), "flash_use"):
    for name, m in variants.items():
        b = dict(batch)
        if name == "noflash_copy":
            b[K.FLASH], b[K.FLASH_STD] = b[K.NOFLASH].clone(), b[K.NOFLASH_STD].clone()
        elif name == "other_flash":
            if len(history) < 4:
                continue
            b[K.FLASH], b[K.FLASH_STD] = history[-4]
        out = task.predict(b)
        pred, target = task.metric_images(b, out)
        m.update(pred, target, task.metric_levels(b))
    history.append((batch[K.FLASH], batch[K.FLASH_STD]))
for name, m in variants.items():
    print(name, " ".join(f"{r['dim']:g}x {r['psnr']:.2f}/{r['ssim']:.3f}" for r in m.records(name)))
