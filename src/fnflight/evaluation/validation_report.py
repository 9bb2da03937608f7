"""After a training: the model beside its input and the task's classical comparisons on the validation data.

``fnflight train`` ends with a summary a newcomer reads first. A PSNR alone does not say whether the model
learnt the method: a flash/no-flash net that ignores the flash still beats its noisy input by 10 dB. So the
summary puts, per level, the trained model next to the noisy input and next to what the task states as its
comparison (:meth:`fnflight.tasks.base.EnhancementTask.comparisons`; flash/no-flash: non-local means of the
no-flash image alone), all on the same validation crops, and measures how much of the target's detail the
output kept (:func:`detail_ratio`): a blurred output scores well below 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from fnflight.metrics.image_quality import DimMetrics

__all__ = ["detail_ratio", "mean_gradient_magnitude", "validation_batches", "validation_records"]


def mean_gradient_magnitude(image: Tensor) -> Tensor:
    """Mean over pixels and channels of ``sqrt(dx^2 + dy^2)`` (forward differences), per image ``(B,)``.

    >>> x = torch.zeros(1, 3, 4, 4); x[..., 2:] = 1.0
    >>> round(float(mean_gradient_magnitude(x)), 3)
    0.333
    """
    if image.dim() != 4:
        raise ValueError(f"image must have shape (B, C, H, W), got {tuple(image.shape)}")
    x = image.float()
    dx = x[..., :-1, 1:] - x[..., :-1, :-1]
    dy = x[..., 1:, :-1] - x[..., :-1, :-1]
    return (dx.square() + dy.square()).sqrt().mean(dim=(1, 2, 3))


def detail_ratio(output: Tensor, target: Tensor) -> float:
    """How much of the target's detail the output holds: the mean gradient magnitude of ``output`` over
    that of ``target`` (sRGB ``(B, 3, H, W)``, all images pooled). 1: as sharp as the target; a blur: well
    below 1; residual noise: above 1.

    >>> t = torch.zeros(1, 3, 8, 8); t[..., ::2] = 1.0
    >>> detail_ratio(t, t), detail_ratio(0.5 * t, t)
    (1.0, 0.5)
    """
    if output.shape != target.shape:
        raise ValueError(
            f"output and target must have one shape, got {tuple(output.shape)}, {tuple(target.shape)}"
        )
    den = float(mean_gradient_magnitude(target).sum())
    return float(mean_gradient_magnitude(output).sum()) / max(den, 1e-12)


def validation_batches(datamodule, device: torch.device) -> Iterator[dict[str, Tensor]]:
    """The validation batches on ``device``, degraded as validation degrades them (deterministic per
    sample: the DataModule's ``on_after_batch_transfer`` outside a Trainer)."""
    for batch in datamodule.val_dataloader():
        batch = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in batch.items()}
        yield datamodule.on_after_batch_transfer(batch, 0)


@torch.no_grad()
def validation_records(task, datamodule, method: str) -> list[dict[str, Any]]:
    """``[{"method", <level key>, "psnr", "ssim", "count"}]`` of the model (as ``method``), the noisy input
    (``noisy_input``) and each of the task's :meth:`comparisons`, over the whole validation data (degraded
    as in validation: deterministic per sample)."""
    device = next(task.parameters()).device
    task = task.eval()
    levels = task.val_metrics.levels
    metrics: dict[str, DimMetrics] = {}

    def add(name: str, pred: Tensor, target: Tensor, level: Tensor) -> None:
        if name not in metrics:
            metrics[name] = DimMetrics(levels, key=task.level_key).to(device)
        metrics[name].update(pred.float(), target.float(), level)

    for batch in validation_batches(datamodule, device):
        pred, target = task.metric_images(batch, task.predict(batch))
        level = task.metric_levels(batch)
        add(method, pred, target, level)
        add("noisy_input", task.input_preview(batch), target, level)
        for name, image in task.comparisons(batch).items():
            add(name, image, target, level)
    return [record for name, m in metrics.items() for record in m.records(name)]
