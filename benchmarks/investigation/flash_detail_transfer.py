"""Session 4: how much a plain, untrained use of the flash gains on a test set (is the flash informative?).

Classical flash detail transfer (Petschnigg et al. 2004, simplified): the base is a Gaussian blur of the noisy
no-flash image, the detail the ratio of the flash luminance to its own blur at the same scale:
``out = G_s(noflash) * (L_flash + e) / (G_s(L_flash) + e)``, ``e = 1e-3``; ``gauss`` rows are the base alone.
Metrics as ``fnflight eval`` (clipped sRGB, PSNR per image, mean per dim).

usage: .venv/bin/python benchmarks/investigation/flash_detail_transfer.py TESTSET [SIGMA ...]
"""

import sys

import kornia
import torch

from fnflight.cli.evaluate import _batches, _levels
from fnflight.data import batch as K
from fnflight.data.testset import TestSet
from fnflight.tasks.metrics import DimMetrics, render_for_metrics

torch.set_grad_enabled(False)
ts = TestSet(sys.argv[1])
sigmas = [int(s) for s in sys.argv[2:]] or [2, 4, 8, 16]
metrics: dict[tuple[str, int], DimMetrics] = {}
for batch in _batches(ts, {"batch_size": 1, "limit": None}, torch.device("cpu"), "detail transfer"):
    gain, cm, dim = batch[K.GAIN], batch[K.COLOR_MATRIX], batch[K.DIM]
    target = render_for_metrics(batch[K.TARGET], gain, cm)
    luma = batch[K.FLASH].mean(1, keepdim=True)
    for s in sigmas:
        size = (4 * s + 1, 4 * s + 1)
        base = kornia.filters.gaussian_blur2d(batch[K.NOFLASH], size, (s, s), border_type="reflect")
        detail = (luma + 1e-3) / (kornia.filters.gaussian_blur2d(luma, size, (s, s), border_type="reflect") + 1e-3)
        for name, out in (("gauss", base), ("transfer", base * detail)):
            m = metrics.setdefault((name, s), DimMetrics(_levels(ts)))
            m.update(render_for_metrics(out, gain, cm), target, dim)
for (name, s), m in metrics.items():
    print(f"{name:8s} sigma {s:2d}: " + " ".join(f"{r['dim']:g}x {r['psnr']:.2f}" for r in m.records(name)))
