"""Why the flash aligner starts with a global translation search (the figures quoted in
fnflight.ops.lucas_kanade.translation_search and benchmarks/results/fnf_alignment/README.md).

32 training pairs (4 batches of 8, 224-px crops of BSDS500 train with the DeepFnF training shake, seed 0),
aligned on the aligner's classical feature (log_highpass, pooled to half resolution) by coarse-to-fine
Lucas-Kanade from the identity, with and without the translation search first; for the flash/no-flash pair
and for a clean same-modality pair (the target warped by the true homography).

usage: .venv/bin/python benchmarks/investigation/aligner_convergence.py DATA_DIR > OUT.txt
"""

from __future__ import annotations

import statistics as st
import sys

import torch
import torch.nn.functional as F

from fnflight.config import compose
from fnflight.imaging import mean_displacement, warp_image
from fnflight.nets.flash_aligner import log_highpass
from fnflight.ops.lucas_kanade import lucas_kanade_homography, pixel_homography, translation_search
from fnflight.tasks.fnf import fnf_inputs
from fnflight.tasks.training import build_datamodule

SCHEDULES = {  # (pooling of the half-resolution features, iterations, motion), coarse to fine
    "homography at every level": [
        (8, 10, "homography"),
        (4, 8, "homography"),
        (2, 6, "homography"),
        (1, 4, "homography"),
    ],
    "translation, translation, affine, homography": [
        (8, 10, "translation"),
        (4, 8, "translation"),
        (2, 6, "affine"),
        (1, 4, "homography"),
    ],
    "search (1/4 res, 8 px) + translation, affine, homography": "search",
}


def align(moving, fixed, schedule):
    a = None
    if schedule == "search":
        a = translation_search(F.avg_pool2d(moving, 2), F.avg_pool2d(fixed, 2), 8)
        schedule = [(4, 8, "translation"), (2, 6, "affine"), (1, 4, "homography")]
    for factor, steps, motion in schedule:
        m, f = (moving, fixed) if factor == 1 else (F.avg_pool2d(moving, factor), F.avg_pool2d(fixed, factor))
        a = lucas_kanade_homography(m, f, a, steps, 1e-3, motion)
    return a


def main(data: str) -> None:
    cfg = compose(
        "train",
        [
            "model=flash_aligner",
            "data=fnf_folder",
            f"data.init_args.source.init_args.path={data}/bsds500-trainval/train",
            "data.init_args.source.init_args.val_count=0",
            "data.init_args.source.init_args.split=all",
            "data.init_args.crop=224",
            "data.init_args.batch_size=8",
            "data.init_args.num_workers=0",
        ],
    )
    dm = build_datamodule(cfg)
    dm.setup("fit")
    g = torch.Generator().manual_seed(0)
    it = iter(dm.train_dataloader())
    batches = [dm.degrade(next(it), g, "train") for _ in range(4)]

    def feat(x):
        return F.avg_pool2d(log_highpass(x), 2, ceil_mode=True)

    pairs = {
        "flash / noisy no-flash": lambda b, x: (feat(x["flash"]), feat(x["noflash"])),
        "clean, same modality": lambda b, x: (
            feat(warp_image(b["target"], b["homography"])),
            feat(b["target"]),
        ),
    }
    for pair, make in pairs.items():
        for name, schedule in SCHEDULES.items():
            rows = []
            for b in batches:
                x = fnf_inputs(b)
                h, w = b["target"].shape[-2:]
                m, f = make(b, x)
                a = pixel_homography(align(m, f, schedule), h, w)
                back = torch.linalg.inv(b["homography"])
                rows += zip(
                    mean_displacement(back, h, w).tolist(), mean_displacement(back @ a, h, w).tolist()
                )
            print(
                f"{pair:24s} | {name:56s} | before {st.mean(r[0] for r in rows):5.2f} px | after mean "
                f"{st.mean(r[1] for r in rows):5.2f} median {st.median(r[1] for r in rows):5.2f} px | "
                f"> 5 px: {sum(r[1] > 5 for r in rows)}/{len(rows)}"
            )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
