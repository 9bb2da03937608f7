"""The GPU check (``scripts/gpu_check.sh``): every GPU path of fnflight once, one JSON line per check.

Why: users train on GPU clusters, and no GPU path had ever run; a GPU machine is rare here, so the whole
check is one prepared script that finishes in minutes and whose CPU dry run is part of the test suite
(``tests/scripts/test_gpu_check.py``), so it cannot rot between the rare GPU sessions.

Checks (each one JSON line ``{"check", "ok", "seconds", "detail"}`` printed and appended to
``OUT/gpu_check.jsonl``; a failing check records its error and the others go on; a check that would start
after ``--budget`` seconds is recorded as skipped, not run):

- ``fast_dev_run/PRECISION/MODEL``: ``fnflight train model=MODEL trainer=gpu trainer.fast_dev_run=true``
  (the model's own default data) for every ``configs/model/*.yaml``, in ``bf16-mixed`` and ``16-mixed``;
- ``ddp``: ``fnflight train trainer=ddp trainer.fast_dev_run=true`` (every visible GPU) in a subprocess, as
  Lightning's DDP launcher needs;
- ``enhance/MODEL``: ``fnflight enhance model=MODEL device=cuda`` against ``device=cpu`` on inputs made from
  the bundled photographs (16-bit TIFF outputs; max |difference| <= 1e-3), every shipped model;
- ``bench_ops``: ``fnflight bench ops device=cuda``;
- ``bench_enhance``: ``fnflight bench enhance cases=[sid_tiny]`` (the command as shipped: it runs on the CPU)
  and ``bench_enhance_cuda/CASE``: the same measurement (:mod:`fnflight.bench.enhance` cases, tiled vs
  untiled, seconds, peak memory) on the GPU;
- ``bench_train`` (the six default cases, ``bf16-mixed``) and ``bench_train_deepfnf448`` (DeepFnF at paper
  width, 448 crops): ``fnflight bench train device=cuda``.

Dry run (``--dry-run`` or ``GPU_CHECK_DRY_RUN=1``): the same code paths on the CPU with tiny sizes, a
subset of the models, precisions ``32-true`` and ``bf16-mixed``, DDP on 2 CPU processes (gloo), and
``enhance`` CPU against CPU; it finishes in about a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# the console script beside this Python (Lightning's DDP launcher re-runs sys.argv, so no ``python -c``)
_SCRIPT = Path(sys.executable).parent / "fnflight"
FNFLIGHT = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "fnflight.cli.main"]


class Checker:
    """Runs checks, times them, writes one JSON line each; never lets one check stop the others."""

    def __init__(self, out: Path, budget_s: float, only: str | None) -> None:
        self.out, self.budget_s, self.only = out, budget_s, only
        self.path = out / "gpu_check.jsonl"
        self.start = time.perf_counter()
        self.results: list[dict[str, Any]] = []

    def run(self, name: str, fn, *args, **kwargs) -> dict[str, Any]:
        if self.only and not name.startswith(self.only):
            return {}
        t0 = time.perf_counter()
        if t0 - self.start > self.budget_s:
            row = {
                "check": name,
                "ok": False,
                "seconds": 0.0,
                "detail": f"skipped: past {self.budget_s:.0f} s",
            }
        else:
            try:
                detail = fn(*args, **kwargs)
                ok = True
            except Exception as err:  # one failing check must not stop the others
                ok, detail = False, f"{type(err).__name__}: {err}\n{traceback.format_exc()[-1500:]}"
            row = {"check": name, "ok": ok, "seconds": round(time.perf_counter() - t0, 2), "detail": detail}
        with self.path.open("a") as f:
            f.write(json.dumps(row, default=str) + "\n")
        print(json.dumps(row, default=str), flush=True)
        self.results.append(row)
        return row


def _cli(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> str:
    """Run ``fnflight ARGV`` in a subprocess; its output tail, or RuntimeError with it."""
    proc = subprocess.run(
        [*FNFLIGHT, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "WANDB_MODE": "offline", **(env or {})},
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {proc.stdout[-1500:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def _in_process(fn, argv: list[str]) -> str:
    """A CLI ``run(argv)`` in this process, its stdout captured; RuntimeError on a non-zero exit."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = fn(argv)
    if rc not in (0, None):
        raise RuntimeError(f"exit {rc}: {buf.getvalue()[-2000:]}")
    return buf.getvalue()


def _json_rows(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# ------------------------------------------------------------------------------------------ fast_dev_run
def tiny_overrides(model: str) -> list[str]:
    """Dry-run sizes: the net at 1/16 width (4 basis elements where it has one), tiny crops, no workers."""
    import inspect

    from fnflight.config import compose, import_class

    cfg = compose("train", [f"model={model}"])
    args = ["data.init_args.num_workers=0", "data.init_args.batch_size=2", "data.init_args.limit_val=1"]
    takes = inspect.signature(import_class(str(cfg.model.net.class_path))).parameters
    for key, value in (("width", 0.0625), ("num_basis", 4), ("depth", 2)):
        if key in takes:
            args.append(f"model.net.init_args.{key}={value}")
    crop = 16 if "raw" in str(cfg.data.class_path) else 32
    args += [f"data.init_args.crop={crop}"]
    if "eval_crop" in cfg.data.init_args:
        args.append(f"data.init_args.eval_crop={crop}")
    return args


def fast_dev_run(model: str, precision: str, dry: bool, out: Path) -> dict[str, Any]:
    import gc

    import torch

    from fnflight.config import compose
    from fnflight.training.run import train

    args = [
        f"model={model}",
        "logger=csv",
        f"out_dir={out / 'runs' / precision}",
        f"name={model}",
        "overwrite=true",
        "trainer.fast_dev_run=true",
        f"trainer.precision={precision}",
        "trainer.enable_progress_bar=false",
    ]
    args += tiny_overrides(model) + ["trainer.accelerator=cpu"] if dry else ["trainer=gpu"]
    result = train(compose("train", args))
    steps, device = result.global_step, str(result.trainer.strategy.root_device)
    del result  # 44 runs in one process: free each run's loaders (and their workers) and GPU memory
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if steps != 1:
        raise RuntimeError(f"fast_dev_run ran {steps} steps, expected 1")
    return {"steps": steps, "device": device, "precision": precision}


# ------------------------------------------------------------------------------------------ ddp
def ddp(dry: bool, out: Path) -> dict[str, Any]:
    args = [
        "train",
        "model=deepfnf_small",
        "logger=csv",
        f"out_dir={out / 'runs' / 'ddp'}",
        "overwrite=true",
        "trainer=ddp",
        "trainer.fast_dev_run=true",
        "trainer.enable_progress_bar=false",
    ]
    env = None
    if dry:  # two CPU processes (gloo), tiny
        args += tiny_overrides("deepfnf_small") + [
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            "trainer.precision=32-true",
            "trainer.num_sanity_val_steps=0",
        ]
        env = {"OMP_NUM_THREADS": "1"}
    text = _cli(args, timeout=300, env=env)
    import torch

    devices = 2 if dry else torch.cuda.device_count()
    return {"devices": devices, "tail": text.strip().splitlines()[-1][-300:] if text.strip() else ""}


# ------------------------------------------------------------------------------------------ enhance
def _photo(size: int) -> np.ndarray:
    """A bundled photograph (scikit-image's, as fnflight's embedded data), linear, cropped to ``size``."""
    from fnflight.data.sources import EmbeddedPhotos

    source = EmbeddedPhotos("val", min_side=0)
    image = source.read(0)["ambient"].astype(np.float32)
    return np.ascontiguousarray(image[:size, :size])


def _write_rgb(path: Path, linear: np.ndarray) -> Path:
    """A 16-bit PNG, which ``fnflight enhance`` reads as linear."""
    from fnflight.data.image_writer import write_image

    write_image(path, np.clip(linear, 0, 1), bits=16)
    return path


def _write_dng(path: Path, linear: np.ndarray) -> Path:
    """A dark RGGB Bayer DNG of the photo (pidng, as the tests write raws), for the SID model."""
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import CalibrationIlluminant, DNGVersion, Orientation, PhotometricInterpretation

    black, white = 512, 16383
    h, w = linear.shape[0] // 2 * 2, linear.shape[1] // 2 * 2
    mosaic = np.empty((h, w), np.float32)
    mosaic[0::2, 0::2], mosaic[0::2, 1::2] = linear[0:h:2, 0:w:2, 0], linear[0:h:2, 1:w:2, 1]
    mosaic[1::2, 0::2], mosaic[1::2, 1::2] = linear[1:h:2, 0:w:2, 1], linear[1:h:2, 1:w:2, 2]
    values = (black + (white - black) * np.clip(mosaic * 0.01, 0, 1)).astype(np.uint16)
    tags = DNGTags()
    for tag, value in (
        (Tag.ImageWidth, w),
        (Tag.ImageLength, h),
        (Tag.TileWidth, w),
        (Tag.TileLength, h),
        (Tag.Orientation, Orientation.Horizontal),
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
        (Tag.SamplesPerPixel, 1),
        (Tag.BitsPerSample, 16),
        (Tag.CFARepeatPatternDim, [2, 2]),
        (Tag.CFAPattern, [0, 1, 1, 2]),
        (Tag.BlackLevel, black),
        (Tag.WhiteLevel, white),
        (Tag.CalibrationIlluminant1, CalibrationIlluminant.D65),
        (Tag.AsShotNeutral, [[1, 2], [1, 1], [1, 2]]),
        (Tag.Make, "fnflight"),
        (Tag.Model, "gpu_check"),
        (Tag.DNGVersion, DNGVersion.V1_4),
        (Tag.DNGBackwardVersion, DNGVersion.V1_2),
    ):
        tags.set(tag, value)
    ident = [[10000, 10000], [0, 10000], [0, 10000], [0, 10000], [10000, 10000], [0, 10000]]
    tags.set(Tag.ColorMatrix1, ident + [[0, 10000], [0, 10000], [10000, 10000]])
    writer = RAW2DNG()
    writer.options(tags, path="", compress=False)
    path.write_bytes(bytes(writer.convert(np.ascontiguousarray(values))))
    return path


def enhance_inputs(model: str, folder: Path, size: int) -> list[str]:
    """``fnflight enhance`` input arguments for a shipped model, made from a bundled photo."""
    from fnflight.model_io.checkpoint import load_task
    from fnflight.models import resolve

    folder.mkdir(parents=True, exist_ok=True)
    photo = _photo(size)
    rng = np.random.default_rng(0)
    dim = photo * 0.05
    noisy = dim + rng.normal(0, 1, dim.shape).astype(np.float32) * np.sqrt(1e-5 + 1e-3 * dim)
    task = type(load_task(resolve(model))).__name__
    if task == "RawLowLightTask":
        return [f"raw={_write_dng(folder / 'raw.dng', photo)}", "ratio=100"]
    if task == "ShortLongTask":
        long = photo.copy()
        for shift in range(1, 4):  # a short horizontal motion blur
            long[:, shift:] += photo[:, :-shift]
        return [
            f"short={_write_rgb(folder / 'short.png', noisy * 10)}",
            f"long={_write_rgb(folder / 'long.png', long / 4)}",
        ]
    if task == "BurstTask":
        frames = folder / "burst"
        frames.mkdir(exist_ok=True)
        for i in range(8):
            frame = np.roll(noisy, (i % 3 - 1, i // 3 - 1), axis=(0, 1))
            _write_rgb(frames / f"frame{i}.png", frame + rng.normal(0, 0.005, frame.shape).astype(np.float32))
        return [f"burst={frames}", "std_read=0.005", "std_shot=0.03"]
    return [
        f"noflash={_write_rgb(folder / 'noflash.png', noisy)}",
        f"flash={_write_rgb(folder / 'flash.png', photo)}",
    ]


def enhance_equal(model: str, dry: bool, out: Path) -> dict[str, Any]:
    from fnflight.cli.enhance import run as enhance_run
    from fnflight.data.sources import read_linear

    folder = out / "enhance" / model
    inputs = enhance_inputs(model, folder, 96 if dry else 768)
    devices = ("cpu", "cpu") if dry else ("cpu", "cuda")
    images = []
    for i, device in enumerate(devices):
        path = folder / f"out_{device}_{i}.tif"
        _in_process(enhance_run, [f"model={model}", *inputs, f"out={path}", "bits=16", f"device={device}"])
        images.append(read_linear(path))
    diff = float(np.abs(images[0] - images[1]).max())
    if not diff <= 1e-3:
        raise RuntimeError(f"{devices[1]} differs from {devices[0]} by {diff:.3g} > 1e-3")
    return {"max_abs_diff": float(f"{diff:.3g}"), "devices": list(devices), "shape": list(images[0].shape)}


# ------------------------------------------------------------------------------------------ benchmarks
def bench_ops(dry: bool) -> list[dict[str, Any]]:
    from fnflight.bench import ops

    dry_args = ["cases=[deepfnf_train]", "size=36", "j=2", "repeats=1", "memory=false"]
    args = dry_args if dry else ["device=cuda", "repeats=3"]
    return _json_rows(_in_process(ops.run, args))


def bench_enhance_cli(dry: bool) -> list[dict[str, Any]]:
    from fnflight.bench import enhance

    return _json_rows(_in_process(enhance.run, ["cases=[sid_tiny]"]))


def bench_enhance_device(case: str, dry: bool) -> dict[str, Any]:
    """A :mod:`fnflight.bench.enhance` case on the check's device: tiled forward time, peak memory, and the
    tiled output against the untiled one on a crop of 2 x 2 tiles."""
    import torch

    from fnflight.bench.enhance import CASES
    from fnflight.nets.tiling import default_tile, split_level, tiled_forward, tiling_halo

    device = torch.device("cpu" if dry else "cuda")
    net, inputs = CASES[case](0)
    net = net.to(device).eval()
    inputs = [x.to(device) for x in inputs]
    split = split_level(net, None)
    tile = default_tile(net, split=split)
    halo, _ = tiling_halo(net, split)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    with torch.no_grad():
        tiled_forward(net, *[x[..., :64, :64] for x in inputs], tile=tile, split=split)  # warm-up
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        sync()
        t0 = time.perf_counter()
        tiled_forward(net, *inputs, tile=tile, split=split)
        sync()
        seconds = time.perf_counter() - t0
        c = (tile - 2 * halo) + tile // 2
        crop = [x[..., :c, :c] for x in inputs]
        diff = float((tiled_forward(net, *crop, tile=tile, split=split) - net(*crop)["output"]).abs().max())
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    if not diff <= 1e-3:
        raise RuntimeError(f"tiled differs from untiled by {diff:.3g}")
    return {
        "seconds": round(seconds, 3),
        "peak_mb": None if peak is None else round(peak, 1),
        "max_abs_diff_vs_untiled": float(f"{diff:.3g}"),
        "input": list(inputs[0].shape),
        "device": str(device),
    }


def bench_train(args: list[str]) -> list[dict[str, Any]]:
    from fnflight.bench import train

    rows = _json_rows(_in_process(train.run, args))
    if not rows:
        raise RuntimeError("no rows")
    return rows


# ------------------------------------------------------------------------------------------ main
def plan(dry: bool) -> dict[str, Any]:
    """What runs: the GPU plan, or the dry run's smaller one (the same functions, so the same code paths)."""
    from fnflight.config import available
    from fnflight.models import available as shipped

    if dry:
        return {
            "precisions": ["32-true", "bf16-mixed"],
            "models": ["deepfnf_small", "sid_small"],
            "shipped": ["deepfnf", "sid"] if _has_pidng() else ["deepfnf"],
            "enhance_cases": ["sid_tiny"],
            "bench_train": {
                "bench_train": ["cases=[deepfnf_tiny]", "steps=2", "warmup=1", "repeats=1", "sgemm_n=256"],
            },
        }
    return {
        "precisions": ["bf16-mixed", "16-mixed"],
        "models": available("model"),
        "shipped": sorted(shipped()),
        "enhance_cases": ["sid_tiny", "sid_12mp", "lsd2_12mp", "deepfnf_12mp"],
        "bench_train": {
            "bench_train": ["device=cuda", "precision=bf16-mixed"],
            "bench_train_deepfnf448": ["cases=[deepfnf]", "crop=448", "device=cuda", "precision=bf16-mixed"],
        },
    }


def _has_pidng() -> bool:
    try:
        import pidng  # noqa: F401
    except ImportError:
        return False
    return True


def _no_cuda() -> None:
    raise RuntimeError("no CUDA device visible to torch: run on a GPU machine, or pass --dry-run")


def machine(dry: bool) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "mode": "dry-run (cpu)" if dry else "gpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "host": platform.platform(),
        "python": platform.python_version(),
    }
    with contextlib.suppress(Exception):
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False
        ).stdout.strip()
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="the CPU dry run (also GPU_CHECK_DRY_RUN=1)")
    parser.add_argument(
        "--out", default=os.environ.get("OUT") or "gpu_check_out", help="output folder ($OUT)"
    )
    parser.add_argument("--budget", type=float, default=450.0, help="start no check after this many seconds")
    parser.add_argument("--only", default=None, help="run only the checks whose name starts with this")
    opts = parser.parse_args(argv)
    dry = opts.dry_run or os.environ.get("GPU_CHECK_DRY_RUN", "") not in ("", "0")
    out = Path(opts.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.jsonl").unlink(missing_ok=True)
    os.environ.setdefault("WANDB_MODE", "offline")
    import warnings

    warnings.filterwarnings("ignore")
    import torch

    checker = Checker(out, opts.budget, opts.only)
    checker.run("machine", machine, dry)
    if not dry and not torch.cuda.is_available():
        checker.run("cuda_available", _no_cuda)
        return 1
    todo = plan(dry)
    for precision in todo["precisions"]:
        for model in todo["models"]:
            checker.run(f"fast_dev_run/{precision}/{model}", fast_dev_run, model, precision, dry, out)
    checker.run("ddp", ddp, dry, out)
    for model in todo["shipped"]:
        checker.run(f"enhance/{model}", enhance_equal, model, dry, out)
    checker.run("bench_ops", bench_ops, dry)
    checker.run("bench_enhance", bench_enhance_cli, dry)
    for case in todo["enhance_cases"]:
        checker.run(f"bench_enhance_device/{case}", bench_enhance_device, case, dry)
    for name, args in todo["bench_train"].items():
        checker.run(name, bench_train, args)
    failed = [r["check"] for r in checker.results if not r["ok"]]
    summary = {
        "checks": len(checker.results),
        "failed": failed,
        "seconds": round(time.perf_counter() - checker.start, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({"summary": summary}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
