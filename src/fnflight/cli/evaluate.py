"""``fnflight eval ckpt=PATH [ckpt=PATH ...] testset=DIR [out=DIR] [key=value ...]``: the paper's table.

Every checkpoint (written by ``fnflight train``: its model config is inside) is run on a test set written by
``fnflight testset`` (:class:`fnflight.data.testset.TestSet`). Metrics as :mod:`fnflight.tasks.metrics`: PSNR
and SSIM of each image as its task renders it to sRGB (:meth:`~fnflight.tasks.base.EnhancementTask.to_srgb`),
averaged per level: the dimming level for flash/no-flash test sets (paper 000 Table 1), the amplification
ratio for raw test sets (paper 004, with the mean over all images as a last column). Classical floors are
computed in the same run (``baselines=true``), one set per test-set task (:data:`FLOORS`).

Flash/no-flash (``task=fnf``):

- ``noisy_input``: the noisy no-flash image itself, brightened by the gain;
- ``gaussian_denoise``: the noisy no-flash blurred with a Gaussian (kornia, reflect border) whose sigma is
  chosen per image from ``sigmas`` (default 0.5, 1, 1.5, 2, 3, 4 px) as the one with the best PSNR against
  the target. The choice uses the target, so this is an *oracle* Gaussian: an optimistic floor for any
  learned method;
- ``petschnigg``: Petschnigg et al. 2004, the no-flash image joint-bilateral filtered with the flash as the
  guide, plus flash detail transfer (:mod:`fnflight.classical.petschnigg`; sigmas per dim chosen on BSDS500
  val);
- ``nlmeans_noflash``: scikit-image's non-local means of the no-flash image alone, given its true noise
  level (a variance-stabilising transform first: :func:`fnflight.classical.vst_denoise`).

Outputs (``out``, default ``runs/eval``): ``results.json``, a list of records
``{"method": str, "dim": float, "psnr": float, "ssim": float}`` (method = the model config's ``name``, e.g.
``deepfnf``, ``nfonly``, ``direct``, ``kpn``, ``bpn``, ``sid``; dim = the dimming factor, e.g. 50; raw test
sets have ``"ratio"`` instead of ``"dim"``, short/long sets no level), and ``results.md``, the paper's
layout (a row per method, PSNR and SSIM per level), also printed; and
``comparison_<image>.png`` for the first ``figures`` test images: every method side by side with the inputs
and the target, a row per dimming level (:mod:`fnflight.cli.comparison_figure`).

Keys (:data:`SCHEMA`, listed by ``--help``): lpips is a LOCAL weights file for an LPIPS column
(:mod:`fnflight.tasks.lpips`; never downloaded. Without it, paper 001's one-column layout shows the LPIPS
column as not available). Options, the device and the output folder are checked before any model runs; an
earlier evaluation in ``out`` is replaced only with ``overwrite=true`` (every command's rule).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from fnflight.cli.arguments import ArgumentError, Key, Schema, check_output_dir, guarded, show_progress

DEFAULT_SIGMAS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
# what an evaluation writes into out= (an earlier evaluation there is replaced only with overwrite=true)
OUTPUTS = ("results.json", "results.md")
SCHEMA = Schema(
    "eval",
    [
        Key("ckpt", str, None, "a checkpoint or exported .pt (repeat, or a comma list)", repeat=True),
        Key("model", str, None, "a shipped model (fnflight models; repeat, or a comma list)", repeat=True),
        Key("testset", str, None, "a test-set folder written by fnflight testset (required)"),
        Key("out", str, "runs/eval", "the output folder"),
        Key("batch_size", int, 1, "samples per batch", low=1),
        Key("device", str, "auto", "auto, cpu, cuda or cuda:N"),
        Key("baselines", bool, True, "also the test-set task's classical floors"),
        Key(
            "sigmas",
            float,
            DEFAULT_SIGMAS,
            "blur sigmas of the Gaussian oracle, px",
            low=0,
            low_open=True,
            items=True,
        ),
        Key("limit", int, None, "evaluate the first N samples only", low=1),
        Key("verify", bool, False, "check every sample's SHA-256 against the manifest"),
        Key("figures", int, 2, "side-by-side pictures of the first N test images (0: none)", low=0),
        Key("figure_crop", int, 192, "centre crop of the pictures, px (0: whole image)", low=0),
        Key("lpips", str, None, "a LOCAL LPIPS weights file for an LPIPS column (never downloaded)"),
        Key("overwrite", bool, False, "replace the results of an earlier evaluation in out="),
    ],
    usage="fnflight eval ckpt=PATH|model=NAME [ckpt=PATH ...] testset=DIR [out=DIR] [key=value ...]",
    examples=(
        "fnflight eval model=deepfnf testset=TESTSET out=runs/eval",
        "fnflight eval ckpt=runs/deepfnf_small/checkpoints/best.ckpt ckpt=other.pt testset=TESTSET figures=0",
        "fnflight eval baselines=true testset=TESTSET limit=8 overwrite=true",
    ),
)


class EvalError(ArgumentError):
    """A bad ``fnflight eval`` request (one line, exit 2)."""


def parse(argv: list[str]) -> dict[str, Any]:
    """``key=value`` arguments -> options (:data:`SCHEMA`); ``ckpt`` and ``model`` may repeat (shipped
    models join ``ckpt`` as their weights files). The device, the test set and the output folder are
    checked here, before any model runs."""
    opts = SCHEMA.parse(argv)
    if opts["model"]:  # shipped models (fnflight models), evaluated like checkpoints
        from fnflight.models import ModelNotFoundError, resolve

        try:
            opts["ckpt"] = [*opts["ckpt"], *(str(resolve(v)) for v in opts["model"])]
        except ModelNotFoundError as err:
            raise EvalError(str(err)) from None
    if not opts["testset"]:
        raise EvalError(
            "no test set given: pass testset=DIR (write one with `fnflight testset task=fnf ...`)"
        )
    _device(str(opts["device"]))
    check_output_dir(opts["out"], "out", overwrite=opts["overwrite"], holds=OUTPUTS)
    return opts


def _device(name: str) -> torch.device:
    """``device=`` -> :class:`torch.device`; a bad name, or CUDA on a machine without it, is an
    :class:`EvalError` (before any model runs)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not re.fullmatch(r"cuda:\d+", name):
        raise EvalError(f"bad device={name}: must be one of auto, cpu, cuda, cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise EvalError(f"device={name}: no CUDA device is available here (use device=cpu or auto)")
    return torch.device(name)


# the per-sample level each test-set task's table is laid out by; None: one column (paper 003 Table 1)
LEVEL_KEYS: dict[str, str | None] = {"fnf": "dim", "burst": "level", "raw": "ratio", "shortlong": None}


def level_key(testset) -> str | None:
    """The per-sample level a test set's table is laid out by (:data:`LEVEL_KEYS`); a flash/no-flash set
    drawn like training (paper 001's protocol: ``test_dims`` null) has no levels: one column."""
    protocol = testset.manifest.get("protocol") or {}
    if testset.task == "fnf" and "test_dims" in protocol and protocol["test_dims"] is None:
        return None
    return LEVEL_KEYS.get(testset.task, "dim")


def _levels(testset) -> tuple[float, ...]:
    from fnflight.tasks.metrics import PAPER_DIMS

    if level_key(testset) is None:
        return (1.0,)
    protocol = testset.manifest.get("protocol") or {}
    if testset.task == "raw":  # synthetic: the protocol's ratios; real captures: the ratios present
        ratios = protocol.get("test_ratios") or sorted(
            {float(s["params"]["ratio"]) for s in testset.samples if "ratio" in s.get("params", {})}
        )
        return tuple(float(r) for r in ratios) or (1.0,)
    values = protocol.get("test_dims") or protocol.get("test_levels")
    return tuple(float(d) for d in values) if values else (PAPER_DIMS if testset.task == "fnf" else (1.0,))


# Per-sample scalars: (B,) in batches. Stored samples may hold them as (1,), which batches to (B, 1).
_SCALARS = (
    "gain",
    "dim",
    "std_read",
    "std_shot",
    "white_level",
    "ratio",
    "index",
    "displacement",
    "tone_curve",
)


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
    bar = tqdm(
        loader,
        desc=desc,
        total=total,
        unit="batch",
        file=sys.stderr,
        leave=False,
        disable=not show_progress(),
    )
    for batch in bar:
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


def _fnf_floors(batch: dict[str, Tensor], testset, opts: dict[str, Any]) -> tuple[Tensor, dict, dict]:
    """Flash/no-flash: target, input panels ``{name: (image, comparable)}`` (noisy no-flash x gain, flash
    as captured) and the floors ``noisy_input`` and ``gaussian_denoise``, all rendered sRGB."""
    from fnflight.data import batch as K
    from fnflight.tasks.metrics import render_for_metrics

    gain, cm = batch[K.GAIN], batch[K.COLOR_MATRIX]
    target = render_for_metrics(batch[K.TARGET], gain, cm)
    noisy = render_for_metrics(batch[K.NOFLASH], gain, cm)
    inputs = {"noisy input": (noisy, True)}  # (panel, labelled with its PSNR against the target)
    if K.FLASH in batch:  # as captured: another exposure, no PSNR
        inputs["flash"] = (render_for_metrics(batch[K.FLASH], torch.ones_like(gain), cm), False)
    if not opts.get("_floors", True):
        return target, inputs, {}
    den = gaussian_oracle(batch[K.NOFLASH], batch[K.TARGET], gain, cm, opts["sigmas"])
    floors = {"noisy_input": noisy, "gaussian_denoise": render_for_metrics(den, gain, cm)}
    return target, inputs, {**floors, **_fnf_peers(batch)}


def _fnf_peers(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    """The classical flash/no-flash peers, rendered sRGB: ``petschnigg`` (joint bilateral + detail transfer,
    sigmas per dim from the validation set) and ``nlmeans_noflash`` (non-local means of the no-flash image
    alone given its true noise level, through a variance-stabilising transform)."""
    from fnflight.classical import petschnigg
    from fnflight.classical.petschnigg import params_for_dim
    from fnflight.data import batch as K
    from fnflight.tasks.fnf import nlmeans_noflash
    from fnflight.tasks.metrics import render_for_metrics

    gain, cm = batch[K.GAIN], batch[K.COLOR_MATRIX]
    peers: dict[str, Tensor] = {}
    if K.FLASH in batch:
        dims = batch.get(K.DIM, gain).reshape(-1)
        out = torch.cat(
            [
                petschnigg(
                    batch[K.NOFLASH][i : i + 1],
                    batch[K.FLASH][i : i + 1],
                    gain[i : i + 1],
                    *params_for_dim(float(dims[i])),
                )
                for i in range(len(gain))
            ]
        )
        peers["petschnigg"] = render_for_metrics(out, gain, cm)
    den = nlmeans_noflash(batch)
    if den is not None:
        peers["nlmeans_noflash"] = render_for_metrics(den, gain, cm)
    return peers


def _raw_floors(batch: dict[str, Tensor], testset, opts: dict[str, Any]) -> tuple[Tensor, dict, dict]:
    """Raw: target (16-bit-quantised sRGB, as SID scores) and the floors ``traditional`` and
    ``traditional_denoise`` (true noise level of synthetic sets; estimated from the capture for real ones)."""
    from fnflight.classical import traditional_denoise, traditional_isp
    from fnflight.data import batch as K
    from fnflight.tasks.raw_lowlight import sid_quantize

    target = sid_quantize(batch[K.TARGET])
    if not opts.get("_floors", True):
        return target, {}, {}
    order = str((testset.manifest.get("protocol") or {}).get("bayer_order", "raster"))
    isp = (batch[K.WB_GAINS], batch[K.COLOR_MATRIX], batch.get(K.TONE_CURVE, False), order)
    floors = {"traditional": sid_quantize(traditional_isp(batch[K.RAW], *isp))}
    ratio = batch[K.RATIO]
    if K.STD_READ in batch and K.STD_SHOT in batch:
        std_read, std_shot = batch[K.STD_READ], batch[K.STD_SHOT]
    else:  # a real capture: Poisson-Gaussian levels of the amplified raw, back to the dark capture's units
        from fnflight.imaging import estimate_noise_levels

        try:
            read_amp, shot_amp = estimate_noise_levels(batch[K.RAW])
        except ValueError:  # too small or too clipped to estimate: no denoised floor for this batch
            return target, {}, floors
        std_read, std_shot = read_amp / ratio, shot_amp / ratio.sqrt()
    den = traditional_denoise(batch[K.RAW], ratio, std_read, std_shot, *isp)
    floors["traditional_denoise"] = sid_quantize(den)
    return target, {}, floors


def _shortlong_floors(batch: dict[str, Tensor], testset, opts: dict[str, Any]) -> tuple[Tensor, dict, dict]:
    """Short/long: target, input panels (short brightness-matched for display, long) and the floors
    ``noisy_short``, ``blurry_long`` and ``short_denoise`` (:mod:`fnflight.classical.short_long`)."""
    from fnflight.classical import denoise_short, match_brightness
    from fnflight.data import batch as K
    from fnflight.tasks.short_long import _encoded, display, display_short

    target = display(batch, batch[K.TARGET])
    inputs = {"short (display)": (display_short(batch), False), "long": (display(batch, batch[K.LONG]), True)}
    if not opts.get("_floors", True):
        return target, inputs, {}
    gamma = 2.2 if _encoded(batch) else 1.0
    matched = display(batch, match_brightness(batch[K.SHORT], batch[K.TARGET], gamma))
    floors = {"noisy_short": matched, "blurry_long": display(batch, batch[K.LONG])}
    floors["short_denoise"] = denoise_short(matched)
    return target, inputs, floors


def _burst_floors(batch: dict[str, Tensor], testset, opts: dict[str, Any]) -> tuple[Tensor, dict, dict]:
    """Bursts (paper 002): target, the noisy reference frame as input panel, and the floors
    ``reference_frame`` (frame 0 alone), ``average`` (the mean of the frames, as jittered) and
    ``reference_denoise`` (non-local means on frame 0 given the true noise level,
    :func:`fnflight.classical.vst_denoise`), all rendered like the burst task (``gain`` = 1 / white level)."""
    from fnflight.classical import vst_denoise
    from fnflight.data import batch as K
    from fnflight.tasks.metrics import render_for_metrics

    gain, cm = batch[K.GAIN], batch[K.COLOR_MATRIX]
    target = render_for_metrics(batch[K.TARGET], gain, cm)
    reference = render_for_metrics(batch[K.BURST][:, 0], gain, cm)
    inputs = {"reference frame": (reference, True)}
    if not opts.get("_floors", True):
        return target, inputs, {}
    floors = {"reference_frame": reference, "average": render_for_metrics(batch[K.BURST].mean(1), gain, cm)}
    if K.STD_READ in batch and K.STD_SHOT in batch:
        frame = batch[K.BURST][:, 0]
        den = vst_denoise(frame, torch.ones_like(gain), batch[K.STD_READ], batch[K.STD_SHOT])
        floors["reference_denoise"] = render_for_metrics(den, gain, cm)
    return target, inputs, floors


# floors that are an input panel already ("noisy input", "long"): not repeated in the pictures
_SHOWN_AS_INPUT = ("noisy_input", "blurry_long", "reference_frame")

# test-set task -> its floors: fn(batch, testset, opts) -> (target sRGB, input panels, floor outputs)
FLOORS = {"fnf": _fnf_floors, "burst": _burst_floors, "raw": _raw_floors, "shortlong": _shortlong_floors}


def _add_inputs(figure, batch: dict[str, Tensor], testset, opts: dict[str, Any]) -> Tensor | None:
    """The task's input panels and the target into ``figure``; returns the target (None: no floors)."""
    floors = FLOORS.get(testset.task)
    if floors is None:
        return None
    target, inputs, _ = floors(batch, testset, {**opts, "_floors": False})
    for name, (image, comparable) in inputs.items():
        figure.add(name, batch, image, target if comparable else None)
    figure.add("target", batch, target)
    return target


@torch.no_grad()
def evaluate_baselines(
    testset, opts: dict[str, Any], device: torch.device, figure=None
) -> list[dict[str, Any]]:
    """Records of the test-set task's classical floors (:data:`FLOORS`), in the order they are made."""
    from fnflight.tasks.metrics import DimMetrics

    floors = FLOORS.get(testset.task)
    if floors is None:
        return []
    key, levels = level_key(testset), _levels(testset)
    metrics: dict[str, DimMetrics] = {}
    for batch in _batches(testset, opts, device, "baselines"):
        target, inputs, outputs = floors(batch, testset, opts)
        level = batch.get(key or "", torch.ones(len(target), device=device))
        for name, image in outputs.items():
            metric = metrics.setdefault(
                name, DimMetrics(levels, key=key or "_one", lpips=opts.get("_lpips")).to(device)
            )
            metric.update(image, target, level)
        if figure:
            for name, (image, comparable) in inputs.items():
                figure.add(name, batch, image, target if comparable else None)
            figure.add("target", batch, target)
            for name, image in outputs.items():
                if name not in _SHOWN_AS_INPUT:
                    figure.add(name, batch, image, target)
    return [r for name, m in metrics.items() for r in m.records(name)]


@torch.no_grad()
def evaluate_checkpoint(task, testset, opts: dict[str, Any], device: torch.device, method: str, figure=None):
    """Records of one loaded task on the test set; its outputs go into ``figure`` (a
    :class:`~fnflight.cli.comparison_figure.ComparisonFigure`) when one is given."""
    from fnflight.tasks.metrics import DimMetrics

    task = task.to(device).eval()
    key = level_key(testset)
    metrics = DimMetrics(_levels(testset), key=key or "_one", lpips=opts.get("_lpips")).to(device)
    for batch in _batches(testset, opts, device, method):
        outputs = task.predict(batch)
        pred, target = task.metric_images(batch, outputs)
        metrics.update(pred, target, batch.get(key or "", task.metric_levels(batch)))
        if figure:
            _add_inputs(figure, batch, testset, opts)
            figure.add(method, batch, pred, target)
    return metrics.records(method)


def _fmt_level(value: float, key: str) -> str:
    """A column's level: ``100x`` (dimming, amplification ratio), ``gain 4`` (burst noise level)."""
    return f"gain {value:g}" if key == "level" else f"{value:g}x"


NOT_AVAILABLE = "n/a"


def table(
    records: list[dict[str, Any]], key: str | None = "dim", mean: bool = False, lpips_column: bool = False
) -> str:
    """Markdown table in the paper's layout: a row per method, PSNR / SSIM per level of ``key`` (highest
    first; ``None``: one PSNR / SSIM pair per method); ``mean`` adds the mean over all images (weighted by
    each level's ``count`` when records carry one). An LPIPS column follows each SSIM when records carry
    ``lpips`` or ``lpips_column`` asks for one (cells without a value: ``n/a``)."""
    with_lpips = lpips_column or any("lpips" in r for r in records)
    if key is None:
        key, records = "_one", [{**r, "_one": 1.0} for r in records]
        names_only = True
    else:
        names_only = False
    levels = sorted({float(r[key]) for r in records}, reverse=True)
    methods: list[str] = []
    for r in records:
        if r["method"] not in methods:
            methods.append(r["method"])
    names = [_fmt_level(d, key) for d in levels] + (["mean"] if mean else [])
    metrics = ("PSNR", "SSIM", "LPIPS") if with_lpips else ("PSNR", "SSIM")
    head = "| Method | " + " | ".join(f"{n} {m}" for n in names for m in metrics) + " |"
    if names_only:
        head = "| Method | " + " | ".join(metrics) + " |"
    rule = "|---|" + "---:|" * (len(metrics) * len(names))

    def lpips_cell(rows: list[dict[str, Any]]) -> list[str]:
        if not with_lpips:
            return []
        if not rows or any("lpips" not in r for r in rows):
            return [NOT_AVAILABLE]
        n = sum(float(r.get("count", 1)) for r in rows)
        return [f"{sum(float(r['lpips']) * float(r.get('count', 1)) for r in rows) / n:.3f}"]

    lines = [head, rule]
    for m in methods:
        cells = []
        rows = [r for r in records if r["method"] == m]
        for d in levels:
            hit = [r for r in rows if float(r[key]) == d]
            cells += [f"{hit[0]['psnr']:.2f} dB", f"{hit[0]['ssim']:.3f}"] if hit else ["-", "-"]
            cells += lpips_cell(hit[:1])
        if mean:
            n = sum(float(r.get("count", 1)) for r in rows)
            psnr = sum(float(r["psnr"]) * float(r.get("count", 1)) for r in rows) / n
            ssim = sum(float(r["ssim"]) * float(r.get("count", 1)) for r in rows) / n
            cells += [f"{psnr:.2f} dB", f"{ssim:.3f}"] + lpips_cell(rows)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _clean(record: dict[str, Any], key: str | None = "dim") -> dict[str, Any]:
    out: dict[str, Any] = {"method": str(record["method"])}
    if key is not None:
        level = float(record[key])
        out[key] = int(level) if level.is_integer() else level
    out = {**out, "psnr": round(float(record["psnr"]), 4), "ssim": round(float(record["ssim"]), 5)}
    if "lpips" in record:
        out["lpips"] = round(float(record["lpips"]), 5)
    return out


def _write_text(path: Path, text: str) -> None:
    """Write a small text file through a hidden temporary renamed into place: an interrupt or a full disk
    leaves the old file or none, never half of one."""
    tmp = path.with_name(f".{path.name}.part")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _run(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        print(SCHEMA.help(__doc__))
        return 0
    opts = parse(list(argv))  # values, device and output folder first: a bad request fails in a second
    from fnflight.data.testset import TestSet, TestSetError  # imports Lightning: seconds
    from fnflight.tasks.checkpoint import load_task, method_name
    from fnflight.tasks.lpips import load_lpips

    if not opts["ckpt"] and not opts["baselines"]:
        raise EvalError("nothing to evaluate: pass ckpt=PATH (several allowed) or baselines=true")
    testset = TestSet(opts["testset"], verify=bool(opts["verify"]))
    if len(testset) == 0:
        raise EvalError(f"test set {opts['testset']} has no samples")
    device = _device(str(opts["device"]))
    if opts["lpips"]:
        opts["_lpips"] = load_lpips(opts["lpips"])
    tasks = []
    names: set[str] = set()
    for path in opts["ckpt"]:
        task = load_task(path, map_location="cpu")
        name = method_name(task)
        if name in names:
            name = f"{name}:{Path(path).stem}"
        names.add(name)
        tasks.append((name, task, path))

    from fnflight.cli.comparison_figure import ComparisonFigure

    names = {int(s["index"]): str(s.get("name", "")) for s in testset.manifest.get("samples", [])}
    key = level_key(testset)
    figure = ComparisonFigure(names, opts["figures"], opts["figure_crop"], level_key=key or "_one")
    records: list[dict[str, Any]] = []
    failed = 0
    for name, task, path in tasks:
        wants = getattr(task, "testset_task", testset.task)
        if wants != testset.task:
            failed += 1
            print(
                f"fnflight eval: {name} ({path}) is a {wants!r} model and cannot run on {opts['testset']}, "
                f"a {testset.task!r} test set (make one with `fnflight testset task={wants} ...`)",
                file=sys.stderr,
            )
            continue
        try:
            records += evaluate_checkpoint(task, testset, opts, device, name, figure)
        except TestSetError:  # a damaged test set stops every method: one line, exit 2
            raise
        except (ValueError, TypeError, KeyError) as err:
            failed += 1
            print(
                f"fnflight eval: {name} ({path}) cannot run on {opts['testset']} "
                f"(test set task {testset.task!r}): {type(err).__name__}: {err}",
                file=sys.stderr,
            )
    if opts["baselines"]:
        records += evaluate_baselines(testset, opts, device, figure)
    # paper 001's layout (flash/no-flash drawn like training) reports LPIPS: say when it cannot be computed
    lpips_column = testset.task == "fnf" and key is None
    md = (
        table(records, key, mean=testset.task == "raw", lpips_column=lpips_column)
        if records
        else "(no results)"
    )
    if lpips_column and not opts["lpips"]:
        md += (
            "\n\nLPIPS: not available (no local weights; pass lpips=PATH, see fnflight.tasks.lpips: "
            "fnflight never downloads them)"
        )
    records = [_clean(r, key) for r in records]

    out = Path(opts["out"]).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    _write_text(out / "results.json", json.dumps(records, indent=2) + "\n")
    header = (
        f"# fnflight eval\n\ntest set: {opts['testset']} ({len(testset)} samples, task {testset.task})\n\n"
    )
    _write_text(out / "results.md", header + md + "\n")
    pictures = figure.save(out)
    print(md)
    print(f"\nfnflight eval: wrote {out / 'results.json'} and {out / 'results.md'}")
    if pictures:
        print(f"fnflight eval: side-by-side pictures in {', '.join(str(p) for p in pictures)}")
    return 1 if failed else 0


def run(argv: list[str]) -> int:
    """``fnflight eval``: one line and exit 2 for a bad request, 130 / 143 when interrupted."""
    return guarded("eval", _run, list(argv))
