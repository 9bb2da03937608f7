"""Tiny settings for the CLI tests: tiny nets, tiny crops, no workers, no network."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

# Tiny everything: 64-px crops, one validation image (x 4 dims), width 1/16, few basis elements.
TINY = [
    "logger=csv",
    "data.init_args.crop=64",
    "data.init_args.batch_size=2",
    "data.init_args.val_batch_size=4",
    "data.init_args.num_workers=0",
    "data.init_args.limit_val=1",
    "model.net.init_args.width=0.0625",
    "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
]
HAS_BASIS = ("deepfnf", "deepfnf_small", "nfonly", "bpn", "bpn_burst", "saecnn")


def tiny(model: str, out_dir, *extra: str) -> list[str]:
    args = [f"model={model}", f"out_dir={out_dir}", *TINY]
    if model in HAS_BASIS:
        args.append("model.net.init_args.num_basis=4")
    if model == "deepfnf_aligned":  # a composed net: the widths are its parts'
        args.remove("model.net.init_args.width=0.0625")
        args += [
            "model.net.init_args.net.init_args.width=0.0625",
            "model.net.init_args.net.init_args.num_basis=4",
            "model.net.init_args.aligner.init_args.width=0.125",
        ]
    return [*args, *extra]


# Tiny SID (paper 004): 16 packed px crops (32 px targets), a 2-level 1/16-width U-Net, one validation image.
RAW_TINY = [
    "model=sid_small",
    "data=raw_synthetic",
    "logger=csv",
    "data.init_args.crop=16",
    "data.init_args.eval_crop=16",
    "data.init_args.batch_size=2",
    "data.init_args.val_batch_size=3",
    "data.init_args.num_workers=0",
    "data.init_args.limit_val=1",
    "model.net.init_args.width=0.0625",
    "model.net.init_args.depth=2",
    "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
]


def tiny_raw(out_dir, *extra: str) -> list[str]:
    """``fnflight train`` arguments of a tiny SID run into ``out_dir`` (run name ``sid_small``)."""
    return [*RAW_TINY, f"out_dir={out_dir}", *extra]


def raw_helpers(name: str = "_cli_dng_helpers") -> ModuleType:
    """tests/data/test_raw_sources.py (pidng DNG writer, test mosaics), loaded by path under ``name``: the
    CLI tests write their raw files with the same helpers as the decoder's tests."""
    path = Path(__file__).resolve().parents[1] / "data" / "test_raw_sources.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
