"""How the flash enters an FnF network on a CPU budget (the ablation behind ``tasks.fnf.INPUT_PREPARATIONS``).

A plain Adam loop (no Lightning) over BSDS500 train crops, validation PSNR (clipped sRGB, per dim) on fixed
degraded BSDS500 val crops. Variants, all with the deepfnf_small net (width 1/8, J=16) and identical data:

- ``flash_none``: the flash as captured (authors' code);
- ``flash_noflash``: the flash scaled to the no-flash exposure (fnflight's default);
- ``flash_zeroed``: flash and its std map set to zero (what the net can do without the flash);
- ``nfonly``: the no-flash-only baseline (same width and J).

usage: .venv/bin/python benchmarks/fnf_input_ablation.py DATA_DIR [STEPS] [VARIANT ...]
Prints one JSON object per variant: ``{"variant", "steps", "lr", "log": [[step, mean, dim100, dim50, dim25,
dim12.5], ...], "seconds"}``.
"""

from __future__ import annotations

import json
import sys
import time

import torch

from fnflight.config import compose, instantiate, to_container
from fnflight.data import batch as keys
from fnflight.tasks.fnf import fnf_inputs
from fnflight.tasks.losses import DeepFnFLoss
from fnflight.metrics.image_quality import psnr_per_image, render_for_metrics
from fnflight.training.run import build_datamodule

VARIANTS = {
    # (model, overrides, flash zeroed, input preparation: fnflight.tasks.fnf.INPUT_PREPARATIONS)
    "flash_none": ("deepfnf_small", [], False, "as_captured"),
    "flash_noflash": ("deepfnf_small", [], False, "exposure_matched"),
    "flash_zeroed": ("deepfnf_small", [], True, "as_captured"),
    "nfonly": (
        "nfonly",
        ["model.net.init_args.width=0.125", "model.net.init_args.num_basis=16"],
        False,
        "exposure_matched",
    ),
}
LR, CROP, BATCH = 5e-4, 96, 4


def zero_flash(batch: dict) -> dict:
    return {
        **batch,
        keys.FLASH: torch.zeros_like(batch[keys.FLASH]),
        keys.FLASH_STD: torch.zeros_like(batch[keys.FLASH_STD]),
    }


def run(data: str, variant: str, steps: int) -> dict:
    model, overrides, zeroed, preparation = VARIANTS[variant]
    folder = "{class_path: fnflight.data.sources.ImageFolder, init_args: {path: %s, split: all}}"
    val_src = folder % f"{data}/bsds500-trainval/val"
    cfg = compose(
        "train",
        [
            f"model={model}",
            "data=fnf_folder",
            f"data.init_args.source.init_args.path={data}/bsds500-trainval/train",
            "data.init_args.source.init_args.val_count=0",
            "data.init_args.source.init_args.split=all",
            f"data.init_args.val_source={val_src}",
            f"data.init_args.crop={CROP}",
            f"data.init_args.batch_size={BATCH}",
            f"data.init_args.val_batch_size={BATCH}",
            "data.init_args.limit_val=16",
            "data.init_args.num_workers=0",
            *overrides,
        ],
    )
    torch.manual_seed(0)
    dm = build_datamodule(cfg)
    dm.setup("fit")
    net = instantiate(to_container(cfg.model)["net"])
    loss, opt = DeepFnFLoss(), torch.optim.Adam(net.parameters(), lr=LR)
    prep = zero_flash if zeroed else (lambda b: b)
    val = [prep(dm.degrade_seeded(b, 0, "val")) for b in dm.val_dataloader()]  # 4 dims per batch

    def evaluate() -> list[float]:
        net.eval()
        with torch.no_grad():
            ps = torch.stack(
                [
                    psnr_per_image(
                        render_for_metrics(
                            net(**fnf_inputs(b, preparation))["output"], b[keys.GAIN], b[keys.COLOR_MATRIX]
                        ),
                        render_for_metrics(b[keys.TARGET], b[keys.GAIN], b[keys.COLOR_MATRIX]),
                    )
                    for b in val
                ]
            )
        net.train()
        return [round(float(ps.mean()), 2)] + [round(float(v), 2) for v in ps.mean(0)]

    gen, it, t0 = torch.Generator().manual_seed(1), iter(dm.train_dataloader()), time.time()
    log = [[0, *evaluate()]]
    for step in range(1, steps + 1):
        try:
            clean = next(it)
        except StopIteration:
            it = iter(dm.train_dataloader())
            clean = next(it)
        b = prep(dm.degrade(clean, gen, "train"))
        value = loss(net(**fnf_inputs(b, preparation)), b)["loss"]
        opt.zero_grad()
        value.backward()
        opt.step()
        if step % max(1, steps // 4) == 0:
            log.append([step, *evaluate()])
    return {"variant": variant, "steps": steps, "lr": LR, "log": log, "seconds": round(time.time() - t0)}


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    for name in sys.argv[3:] or list(VARIANTS):
        if name not in VARIANTS:
            sys.exit(f"unknown variant {name!r}; valid: {', '.join(VARIANTS)}")
        print(json.dumps(run(sys.argv[1], name, steps)), flush=True)
