"""A 2-process DDP run (CPU, gloo) through the real `fnflight train` agrees with 1 process of the same batch.

Data: the test-local :class:`fnflight_fixed_data.FixedFnFData` (fixed samples, no shuffling), found through
``FNFLIGHT_CONFIG_PATH`` (a data/fixed.yaml written here) and ``PYTHONPATH``. With DistributedSampler (no
shuffle) rank r takes samples r, r+2, ...: two ranks with batch 2 see, step by step, the same 4 samples as one
process with batch 4, and DDP averages the gradients of the (mean) loss, so the parameters must match.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from cli_helpers import tiny

from fnflight.config import compose
from fnflight.training.run import build_task, train

HERE = Path(__file__).parent
FNFLIGHT = Path(sys.executable).parent / "fnflight"


def _args(out_dir, batch_size: int, *extra: str) -> list[str]:
    base = [a for a in tiny("deepfnf_small", out_dir) if not a.startswith("data.")]
    return [
        *base,
        "data=fixed",
        f"data.init_args.batch_size={batch_size}",
        "trainer.max_steps=3",
        "trainer.limit_val_batches=0",
        "trainer.accelerator=cpu",
        "after_fit.evaluate=false",
        "after_fit.sample=false",
        "optim.lr=1e-3",
        *extra,
    ]


@pytest.mark.slow
def test_ddp_two_processes_match_one(tmp_path, monkeypatch):
    (tmp_path / "configs" / "data").mkdir(parents=True)
    (tmp_path / "configs" / "data" / "fixed.yaml").write_text(
        "class_path: fnflight_fixed_data.FixedFnFData\n"
        "init_args: {count: 12, val_count: 4, size: 32, batch_size: 2, seed: 0}\n"
    )
    env = {
        **os.environ,
        "FNFLIGHT_CONFIG_PATH": str(tmp_path / "configs"),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "WANDB_MODE": "offline",
        "OMP_NUM_THREADS": "1",
    }
    cmd = [str(FNFLIGHT), "train", *_args(tmp_path / "ddp", 2, "trainer.devices=2", "trainer.strategy=ddp")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]

    monkeypatch.setenv("FNFLIGHT_CONFIG_PATH", str(tmp_path / "configs"))
    single = train(compose("train", _args(tmp_path / "one", 4, "trainer.devices=1")))
    assert single.global_step == 3

    a = torch.load(tmp_path / "ddp" / "deepfnf_small" / "checkpoints" / "last.ckpt", weights_only=False)
    b = torch.load(tmp_path / "one" / "deepfnf_small" / "checkpoints" / "last.ckpt", weights_only=False)
    assert a["global_step"] == b["global_step"] == 3
    keys = [k for k in b["state_dict"] if k.startswith("net.")]
    worst = max(float((a["state_dict"][k] - b["state_dict"][k]).abs().max()) for k in keys)
    assert worst < 2e-5, f"DDP and single-process parameters differ by up to {worst}"
    pl.seed_everything(0, verbose=False)
    init = build_task(compose("train", _args(tmp_path / "x", 4))).state_dict()
    moved = max(float((init[k] - b["state_dict"][k]).abs().max()) for k in keys)
    assert moved > 1e-3  # three Adam steps at lr 1e-3 did move the parameters
