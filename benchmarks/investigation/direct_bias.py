"""The direct-prediction baseline's constant offset (benchmarks/results/fnf_quality_cpu/README.md): the mean
signed error (output - target, linear) per sample and per channel, on the Kodak24 protocol test set and on
training batches, for the seed-0 checkpoint of benchmarks/fnf_quality_cpu.sh.

usage: .venv/bin/python benchmarks/investigation/direct_bias.py DATA_DIR CKPT TESTSET > OUT.txt
"""

from __future__ import annotations

import sys

import torch

from fnflight.config import compose
from fnflight.data.testset import TestSet
from fnflight.tasks.checkpoint import load_task
from fnflight.tasks.training import build_datamodule


def main(data: str, ckpt: str, testset: str) -> None:
    task = load_task(ckpt)
    ts = TestSet(testset)
    print("Kodak24 test set, first image, per dim: mean error per channel (R, G, B) | target mean")
    for i in range(4):
        b = {k: v[None] if torch.is_tensor(v) else v for k, v in ts[i].items()}
        with torch.no_grad():
            err = task.predict(b)["output"] - b["target"]
        print(
            f"  dim {float(b['dim']):5g}: "
            + ", ".join(f"{v:+.4f}" for v in err.mean((0, 2, 3)).tolist())
            + f" | {float(b['target'].mean()):.4f}"
        )
    cfg = compose(
        "train",
        [
            "model=direct",
            "data=fnf_folder",
            f"data.init_args.source.init_args.path={data}/bsds500-trainval/train",
            "data.init_args.source.init_args.val_count=0",
            "data.init_args.source.init_args.split=all",
            "data.init_args.crop=128",
            "data.init_args.batch_size=8",
            "data.init_args.num_workers=0",
        ],
    )
    dm = build_datamodule(cfg)
    dm.setup("fit")
    b = dm.degrade(next(iter(dm.train_dataloader())), torch.Generator().manual_seed(0), "train")
    with torch.no_grad():
        err = (task.predict(b)["output"] - b["target"]).mean((1, 2, 3))
    print("training batch (8 crops): dim | mean error | target mean")
    for d, e, t in zip(b["dim"].tolist(), err.tolist(), b["target"].mean((1, 2, 3)).tolist(), strict=True):
        print(f"  {d:5.1f} | {e:+.4f} | {t:.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
