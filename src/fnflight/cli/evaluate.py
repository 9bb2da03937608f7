"""``fnflight eval ckpt=PATH [ckpt=PATH ...] testset=DIR [out=DIR] [key=value ...]``: paper 000 Table 1.

Every checkpoint (written by ``fnflight train``: its model config is inside) is run on a test set written by
``fnflight testset`` (:class:`fnflight.data.testset.TestSet`). Metrics as :mod:`fnflight.tasks.metrics`: PSNR
and SSIM of the rendered sRGB clipped to [0, 1], per image, averaged per dimming level. Two floor
references are added (``baselines=true``):

- ``noisy_input``: the noisy no-flash image itself, brightened by the gain;
- ``gaussian_denoise``: the noisy no-flash blurred with a Gaussian (kornia, reflect border) whose sigma is
  chosen per image from ``sigmas`` (default 0.5, 1, 1.5, 2, 3, 4 px) as the one with the best PSNR against
  the target. The choice uses the target, so this is an *oracle* Gaussian: an optimistic floor for any
  learned method.

Outputs (``out``, default ``runs/eval``): ``results.json``, a list of records
``{"method": str, "dim": float, "psnr": float, "ssim": float}`` (method = the model config's ``name``, e.g.
``deepfnf``, ``nfonly``, ``direct``, ``kpn``, ``bpn``; dim = the dimming factor, e.g. 50), and
``results.md``, the Table 1 layout (a row per method, PSNR and SSIM per dim), also printed; and
``comparison_<image>.png`` for the first ``figures`` test images: every method side by side with the inputs
and the target, a row per dimming level (:mod:`fnflight.cli.comparison_figure`).

Keys: ckpt (repeat for several), testset, out, batch_size (1), device (auto | cpu | cuda), baselines (true),
sigmas (comma list), limit (first N samples), verify (check test-set hashes, false), figures (2; 0 = none),
figure_crop (centre crop of the pictures in pixels, 192; 0 = whole image).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

VALID = (
    "ckpt",
    "testset",
    "out",
    "batch_size",
    "device",
    "baselines",
    "sigmas",
    "limit",
    "verify",
    "figures",
    "figure_crop",
)
DEFAULT_SIGMAS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)


class EvalError(ValueError):
    """A bad ``fnflight eval`` request."""


def parse(argv: list[str]) -> dict[str, Any]:
    """``key=value`` arguments -> options; ``ckpt`` may repeat. Unknown keys list the valid ones."""
    opts: dict[str, Any] = {
        "ckpt": [],
        "out": "runs/eval",
        "batch_size": 1,
        "device": "auto",
        "baselines": True,
        "sigmas": DEFAULT_SIGMAS,
        "limit": None,
        "verify": False,
        "testset": None,
        "figures": 2,
        "figure_crop": 192,
    }
    for item in argv:
        if "=" not in item:
            raise EvalError(f"argument {item!r} is not of the form key=value; valid keys: {', '.join(VALID)}")
        key, value = item.split("=", 1)
        if key not in VALID:
            raise EvalError(f"unknown key {key!r}; valid keys: {', '.join(VALID)}")
        try:
            if key == "ckpt":
                opts["ckpt"] += [v for v in value.split(",") if v]
            elif key in ("batch_size", "limit", "figures", "figure_crop"):
                opts[key] = int(value)
                if opts[key] < 0 or (key == "batch_size" and opts[key] == 0):
                    raise ValueError(value)
            elif key in ("baselines", "verify"):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                opts[key] = value.lower() in ("true", "1", "yes")
            elif key == "sigmas":
                opts[key] = tuple(float(v) for v in value.split(",") if v)
            else:
                opts[key] = value
        except ValueError:
            raise EvalError(f"bad value for {key}: {value!r}") from None
    if not opts["testset"]:
        raise EvalError(
            "no test set given: pass testset=DIR (write one with `fnflight testset task=fnf ...`)"
        )
    if opts["device"] not in ("auto", "cpu", "cuda") and not str(opts["device"]).startswith("cuda:"):
        raise EvalError(f"bad device {opts['device']!r}; valid: auto, cpu, cuda, cuda:N")
    return opts


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _levels(testset) -> tuple[float, ...]:
    from fnflight.tasks.metrics import PAPER_DIMS

    dims = (testset.manifest.get("protocol") or {}).get("test_dims")
    return tuple(float(d) for d in dims) if dims else (PAPER_DIMS if testset.task == "fnf" else (1.0,))


# Per-sample scalars: (B,) in batches. Stored samples may hold them as (1,), which batches to (B, 1).
_SCALARS = ("gain", "dim", "std_read", "std_shot", "white_level", "ratio", "index", "displacement")


def as_batch(batch: dict[str, Tensor], device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """Move a test-set batch to ``device`` and give per-sample scalars their ``(B,)`` shape."""
    out = {}
    for k, v in batch.items():
        v = v.to(device)
        if k in _SCALARS and v.ndim == 2 and v.shape[1] == 1:
            v = v.reshape(-1)
        out[k] = v
    return out


def _batches(testset, opts: dict[str, Any], device: torch.device, desc: str):
    from tqdm import tqdm

    loader = testset.loader(batch_size=int(opts["batch_size"]))
    total = len(loader)
    limit = opts.get("limit")
    seen = 0
    for batch in tqdm(loader, desc=desc, total=total, unit="batch", file=sys.stderr, leave=False):
        if limit is not None and seen >= limit:
            break
        batch = as_batch(batch, device)
        if limit is not None and seen + len(batch["index"]) > limit:
            keep = limit - seen
            batch = {k: v[:keep] for k, v in batch.items()}
        seen += len(batch["index"])
        yield batch


def gaussian_oracle(noisy: Tensor, target: Tensor, gain: Tensor, cm: Tensor, sigmas) -> Tensor:
    """Per image, the Gaussian blur of ``noisy`` (linear) whose rendering is closest (PSNR) to the
    target's."""
    from kornia.filters import gaussian_blur2d

    from fnflight.tasks.metrics import psnr_per_image, render_for_metrics

    ref = render_for_metrics(target, gain, cm)
    best = noisy.clone()
    best_psnr = psnr_per_image(render_for_metrics(noisy, gain, cm), ref)
    for sigma in sigmas:
        k = 2 * int(torch.ceil(torch.tensor(3.0 * sigma))) + 1
        blurred = gaussian_blur2d(noisy, (k, k), (sigma, sigma), border_type="reflect")
        psnr = psnr_per_image(render_for_metrics(blurred, gain, cm), ref)
        better = psnr > best_psnr
        best[better] = blurred[better]
        best_psnr = torch.where(better, psnr, best_psnr)
    return best


def _add_inputs(figure, batch: dict[str, Tensor], target: Tensor) -> None:
    """The flash/no-flash inputs as pictures: noisy no-flash brightened by the gain, flash as captured."""
    from fnflight.data import batch as K
    from fnflight.tasks.metrics import render_for_metrics

    if not figure or K.NOFLASH not in batch:
        return
    gain, cm = batch[K.GAIN], batch[K.COLOR_MATRIX]
    figure.add("noisy input", batch, render_for_metrics(batch[K.NOFLASH], gain, cm), target)
    if K.FLASH in batch:
        figure.add("flash", batch, render_for_metrics(batch[K.FLASH], torch.ones_like(gain), cm))
    figure.add("target", batch, target)


@torch.no_grad()
def evaluate_baselines(
    testset, opts: dict[str, Any], device: torch.device, figure=None
) -> list[dict[str, Any]]:
    from fnflight.data import batch as K
    from fnflight.tasks.metrics import DimMetrics, render_for_metrics

    if K.NOFLASH not in testset.manifest.get("keys", {}):
        return []
    levels = _levels(testset)
    noisy_m, gauss_m = DimMetrics(levels).to(device), DimMetrics(levels).to(device)
    for batch in _batches(testset, opts, device, "baselines"):
        gain, cm, dim = batch[K.GAIN], batch[K.COLOR_MATRIX], batch[K.DIM]
        target = render_for_metrics(batch[K.TARGET], gain, cm)
        noisy_m.update(render_for_metrics(batch[K.NOFLASH], gain, cm), target, dim)
        den = render_for_metrics(
            gaussian_oracle(batch[K.NOFLASH], batch[K.TARGET], gain, cm, opts["sigmas"]), gain, cm
        )
        gauss_m.update(den, target, dim)
        if figure:
            _add_inputs(figure, batch, target)
            figure.add("gaussian_denoise", batch, den, target)
    return noisy_m.records("noisy_input") + gauss_m.records("gaussian_denoise")


@torch.no_grad()
def evaluate_checkpoint(task, testset, opts: dict[str, Any], device: torch.device, method: str, figure=None):
    """Records of one loaded task on the test set; its outputs go into ``figure`` (a
    :class:`~fnflight.cli.comparison_figure.ComparisonFigure`) when one is given."""
    from fnflight.tasks.metrics import DimMetrics

    task = task.to(device).eval()
    metrics = DimMetrics(_levels(testset)).to(device)
    for batch in _batches(testset, opts, device, method):
        outputs = task.predict(batch)
        pred, target = task.metric_images(batch, outputs)
        metrics.update(pred, target, task.metric_dims(batch))
        if figure:
            _add_inputs(figure, batch, target)
            figure.add(method, batch, pred, target)
    return metrics.records(method)


def _fmt_dim(dim: float) -> str:
    return f"{dim:g}x"


def table(records: list[dict[str, Any]]) -> str:
    """Markdown table in paper 000 Table 1 layout: a row per method, PSNR / SSIM per dimming level."""
    dims = sorted({float(r["dim"]) for r in records}, reverse=True)
    methods: list[str] = []
    for r in records:
        if r["method"] not in methods:
            methods.append(r["method"])
    head = "| Method | " + " | ".join(f"{_fmt_dim(d)} PSNR | {_fmt_dim(d)} SSIM" for d in dims) + " |"
    rule = "|---|" + "---:|---:|" * len(dims)
    lines = [head, rule]
    for m in methods:
        cells = []
        for d in dims:
            hit = [r for r in records if r["method"] == m and float(r["dim"]) == d]
            cells += [f"{hit[0]['psnr']:.2f} dB", f"{hit[0]['ssim']:.3f}"] if hit else ["-", "-"]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    dim = float(record["dim"])
    return {
        "method": str(record["method"]),
        "dim": int(dim) if dim.is_integer() else dim,
        "psnr": round(float(record["psnr"]), 4),
        "ssim": round(float(record["ssim"]), 5),
    }


def run(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        print(__doc__)
        return 0
    from fnflight.data.testset import TestSet, TestSetError
    from fnflight.tasks.checkpoint import CheckpointError, load_task, method_name

    try:
        opts = parse(list(argv))
        if not opts["ckpt"] and not opts["baselines"]:
            raise EvalError("nothing to evaluate: pass ckpt=PATH (several allowed) or baselines=true")
        testset = TestSet(opts["testset"], verify=bool(opts["verify"]))
        if len(testset) == 0:
            raise EvalError(f"test set {opts['testset']} has no samples")
        device = _device(str(opts["device"]))
        tasks = []
        names: set[str] = set()
        for path in opts["ckpt"]:
            task = load_task(path, map_location="cpu")
            name = method_name(task)
            if name in names:
                name = f"{name}:{Path(path).stem}"
            names.add(name)
            tasks.append((name, task, path))
    except (EvalError, TestSetError, CheckpointError) as err:
        print(f"fnflight eval: {err}", file=sys.stderr)
        return 2

    from fnflight.cli.comparison_figure import ComparisonFigure

    names = {int(s["index"]): str(s.get("name", "")) for s in testset.manifest.get("samples", [])}
    figure = ComparisonFigure(names, opts["figures"], opts["figure_crop"])
    records: list[dict[str, Any]] = []
    failed = 0
    for name, task, path in tasks:
        try:
            records += evaluate_checkpoint(task, testset, opts, device, name, figure)
        except (ValueError, TypeError, KeyError) as err:
            failed += 1
            print(
                f"fnflight eval: {name} ({path}) cannot run on {opts['testset']} "
                f"(test set task {testset.task!r}): {type(err).__name__}: {err}",
                file=sys.stderr,
            )
    if opts["baselines"]:
        records += evaluate_baselines(testset, opts, device, figure)
    records = [_clean(r) for r in records]

    out = Path(opts["out"])
    out.mkdir(parents=True, exist_ok=True)
    md = table(records) if records else "(no results)"
    (out / "results.json").write_text(json.dumps(records, indent=2) + "\n")
    header = (
        f"# fnflight eval\n\ntest set: {opts['testset']} ({len(testset)} samples, task {testset.task})\n\n"
    )
    (out / "results.md").write_text(header + md + "\n")
    pictures = figure.save(out)
    print(md)
    print(f"\nfnflight eval: wrote {out / 'results.json'} and {out / 'results.md'}")
    if pictures:
        print(f"fnflight eval: side-by-side pictures in {', '.join(str(p) for p in pictures)}")
    return 1 if failed else 0
