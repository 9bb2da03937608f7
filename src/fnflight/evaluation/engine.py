"""The evaluation engine behind ``fnflight eval``: a test set's batches, a task's records on them and the
records of the task's classical floors, with the comparison pictures filled on the way.

Each test set names its task; the task's :class:`~fnflight.tasks.spec.TaskSpec` gives the level its table
is laid out by and its floors (:mod:`fnflight.evaluation.floors`). Metrics as
:mod:`fnflight.metrics.image_quality`: PSNR and SSIM of each image as its task renders it to sRGB,
averaged per level.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
from torch import Tensor

from fnflight.cli.arguments import show_progress

__all__ = ["as_batch", "batches", "evaluate_baselines", "evaluate_checkpoint", "level_key", "levels"]


def _spec(testset):
    """The test set's task spec (None for a task this install does not know: no floors, dims)."""
    from fnflight.tasks.spec import UnknownTaskError, spec_for

    try:
        return spec_for(testset.task)
    except UnknownTaskError:
        return None


def level_key(testset) -> str | None:
    """The per-sample level a test set's table is laid out by (its task spec's ``level_key``); a
    flash/no-flash set drawn like training (paper 001's protocol: ``test_dims`` null) has none: one column."""
    protocol = testset.manifest.get("protocol") or {}
    if testset.task == "fnf" and "test_dims" in protocol and protocol["test_dims"] is None:
        return None
    spec = _spec(testset)
    return "dim" if spec is None else spec.level_key


def levels(testset) -> tuple[float, ...]:
    """The levels of a test set's table columns, from its protocol (raw real captures: the ratios present)."""
    from fnflight.metrics.image_quality import PAPER_DIMS

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


def batches(testset, opts: dict[str, Any], device: torch.device, desc: str):
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


def _floors(testset):
    spec = _spec(testset)
    return (None, ()) if spec is None else (spec.floors_fn(), spec.shown_as_input)


def add_inputs(figure, batch: dict[str, Tensor], testset, opts: dict[str, Any]) -> Tensor | None:
    """The task's input panels and the target into ``figure``; returns the target (None: no floors)."""
    floors, _ = _floors(testset)
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
    """Records of the test-set task's classical floors (its spec's ``floors``), in the order they are made."""
    from fnflight.metrics.image_quality import DimMetrics

    floors, shown_as_input = _floors(testset)
    if floors is None:
        return []
    key, values = level_key(testset), levels(testset)
    metrics: dict[str, DimMetrics] = {}
    for batch in batches(testset, opts, device, "baselines"):
        target, inputs, outputs = floors(batch, testset, opts)
        level = batch.get(key or "", torch.ones(len(target), device=device))
        for name, image in outputs.items():
            metric = metrics.setdefault(
                name, DimMetrics(values, key=key or "_one", lpips=opts.get("_lpips")).to(device)
            )
            metric.update(image, target, level)
        if figure:
            for name, (image, comparable) in inputs.items():
                figure.add(name, batch, image, target if comparable else None)
            figure.add("target", batch, target)
            for name, image in outputs.items():
                if name not in shown_as_input:  # an input panel already
                    figure.add(name, batch, image, target)
    return [r for name, m in metrics.items() for r in m.records(name)]


@torch.no_grad()
def evaluate_checkpoint(task, testset, opts: dict[str, Any], device: torch.device, method: str, figure=None):
    """Records of one loaded task on the test set; its outputs go into ``figure`` (a
    :class:`~fnflight.evaluation.comparison_figure.ComparisonFigure`) when one is given."""
    from fnflight.metrics.image_quality import DimMetrics

    task = task.to(device).eval()
    key = level_key(testset)
    metrics = DimMetrics(levels(testset), key=key or "_one", lpips=opts.get("_lpips")).to(device)
    floors, _ = _floors(testset)
    chroma: dict[float, list[float]] = {}  # level -> per-image chroma_off shares
    for batch in batches(testset, opts, device, method):
        outputs = task.predict(batch)
        pred, target = task.metric_images(batch, outputs)
        level = batch.get(key or "", task.metric_levels(batch))
        metrics.update(pred, target, level)
        if floors is not None:
            _, inputs, _ = floors(batch, testset, {**opts, "_floors": False})
            one_bin = torch.ones(len(pred)) if key is None else level  # a table without levels: one bin
            _chroma_update(chroma, pred, [image for image, _ in inputs.values()], one_bin)
        if figure:
            add_inputs(figure, batch, testset, opts)
            figure.add(method, batch, pred, target)
    records = metrics.records(method)
    for record in records:  # the share of output pixels whose colour no input has, per level
        shares = chroma.get(float(record[key or "_one"]))
        if shares:
            record["chroma_off"] = sum(shares) / len(shares)
    return records


def _chroma_update(chroma: dict[float, list[float]], pred: Tensor, inputs: list[Tensor], level) -> None:
    """Per image, :func:`~fnflight.metrics.color_artifacts.chroma_off` of the output against the task's
    input panels (the colours it may take: FnF both images, burst the reference frame, short/long both
    exposures), binned by level. A task without input panels (raw: the net makes the colours) has none."""
    from fnflight.metrics.color_artifacts import chroma_off

    inputs = [image for image in inputs if image.shape == pred.shape]
    if not inputs:
        return
    shares = chroma_off(pred.float().clamp(0, 1), [image.float().clamp(0, 1) for image in inputs])
    values = torch.as_tensor(level).reshape(-1).expand(len(shares)).tolist()
    for value, share in zip(values, shares.tolist()):
        chroma.setdefault(float(value), []).append(float(share))
