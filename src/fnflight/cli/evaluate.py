"""``fnflight eval ckpt=PATH [ckpt=PATH ...] testset=DIR [out=DIR] [key=value ...]``: the paper's table.

Every checkpoint (written by ``fnflight train``: its model config is inside) is run on a test set written by
``fnflight testset`` (:class:`fnflight.data.testset.TestSet`). Metrics as
:mod:`fnflight.metrics.image_quality`: PSNR and SSIM of each image as its task renders it to sRGB
(:meth:`~fnflight.tasks.base.EnhancementTask.to_srgb`), averaged per level: the dimming level for
flash/no-flash test sets (paper 000 Table 1), the amplification ratio for raw test sets (paper 004, with the
mean over all images as a last column). Classical floors are computed in the same run (``baselines=true``),
one set per test-set task (its :class:`~fnflight.tasks.spec.TaskSpec` names them;
:mod:`fnflight.evaluation.floors`). This module parses the arguments and writes the files; the work is
:mod:`fnflight.evaluation`'s.

Outputs (``out``, default ``runs/eval``): ``results.json``, a list of records
``{"method": str, "dim": float, "psnr": float, "ssim": float}`` (method = the model config's ``name``, e.g.
``deepfnf``, ``nfonly``, ``direct``, ``kpn``, ``bpn``, ``sid``; dim = the dimming factor, e.g. 50; raw test
sets have ``"ratio"`` instead of ``"dim"``, short/long sets no level), and ``results.md``, the paper's
layout (a row per method, PSNR and SSIM per level), also printed; and
``comparison_<image>.png`` for the first ``figures`` test images: every method side by side with the inputs
and the target, a row per dimming level (:mod:`fnflight.evaluation.comparison_figure`).

Keys (:data:`SCHEMA`, listed by ``--help``): lpips is a LOCAL weights file for an LPIPS column
(:mod:`fnflight.metrics.lpips`; never downloaded. Without it, paper 001's one-column layout shows the LPIPS
column as not available). Options, the device and the output folder are checked before any model runs; an
earlier evaluation in ``out`` is replaced only with ``overwrite=true`` (every command's rule).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

from fnflight.cli.arguments import ArgumentError, Key, Schema, check_output_dir, guarded, parse_device

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
    """``device=`` -> :class:`torch.device`, or an :class:`EvalError` (before any model runs)."""
    return parse_device(name, EvalError)


def _run(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        print(SCHEMA.help(__doc__))
        return 0
    opts = parse(list(argv))  # values, device and output folder first: a bad request fails in a second
    from fnflight.data.testset import TestSet, TestSetError  # imports Lightning: seconds
    from fnflight.evaluation.engine import evaluate_baselines, evaluate_checkpoint, level_key
    from fnflight.evaluation.tables import clean_record, table, write_text
    from fnflight.metrics.lpips import load_lpips
    from fnflight.model_io.checkpoint import load_task, method_name

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

    from fnflight.evaluation.comparison_figure import ComparisonFigure

    names = {int(s["index"]): str(s.get("name", "")) for s in testset.manifest.get("samples", [])}
    key = level_key(testset)
    figure = ComparisonFigure(names, opts["figures"], opts["figure_crop"], level_key=key or "_one")
    records: list[dict[str, Any]] = []
    failed = 0
    for name, task, path in tasks:
        wants = task.spec.name if hasattr(task, "spec") else testset.task
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
            "\n\nLPIPS: not available (no local weights; pass lpips=PATH, see fnflight.metrics.lpips: "
            "fnflight never downloads them)"
        )
    records = [clean_record(r, key) for r in records]

    out = Path(opts["out"]).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "results.json", json.dumps(records, indent=2) + "\n")
    header = (
        f"# fnflight eval\n\ntest set: {opts['testset']} ({len(testset)} samples, task {testset.task})\n\n"
    )
    write_text(out / "results.md", header + md + "\n")
    pictures = figure.save(out)
    print(md)
    print(f"\nfnflight eval: wrote {out / 'results.json'} and {out / 'results.md'}")
    if pictures:
        print(f"fnflight eval: side-by-side pictures in {', '.join(str(p) for p in pictures)}")
    return 1 if failed else 0


def run(argv: list[str]) -> int:
    """``fnflight eval``: one line and exit 2 for a bad request, 130 / 143 when interrupted."""
    return guarded("eval", _run, list(argv))
