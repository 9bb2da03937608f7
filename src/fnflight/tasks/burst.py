"""Burst denoising (paper 002, KPN): a thin LightningModule around a burst net.

Burst nets take ``net(burst, noise_std) -> {"output", "per_frame"}`` (frame 0 is the reference); the loss is
:class:`~fnflight.tasks.losses.KPNAnnealedLoss` by default (basic L2 + gradient loss on sRGB after dividing by
the white level, i.e. ``gain = 1 / white_level``, plus the annealed per-frame term). Metrics are reported per
noise level of paper 002's protocol (``level``: the gains 1, 2, 4, 8 of the validation / test data,
``val/psnr_level1`` ... ``val/psnr_level8``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from fnflight.data import batch as keys
from fnflight.data.burst import TEST_LEVELS
from fnflight.imaging.color import render_srgb
from fnflight.tasks.base import EnhancementTask
from fnflight.tasks.losses import KPNAnnealedLoss
from fnflight.tasks.metrics import render_for_metrics

__all__ = ["BurstTask"]


class BurstTask(EnhancementTask):
    """Train / validate / test a burst net (see the module docstring and :class:`EnhancementTask`)."""

    testset_task = "burst"  # the `fnflight testset task=...` whose test sets it evaluates on
    level_key = keys.LEVEL

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module | None = None,
        lr: float = 1e-4,
        lr_drop_factor: float = 10**-0.5,
        min_lr: float = 1e-5,
        patience: int = 5,
        plateau_threshold: float = 0.01,
        adam_eps: float = 1e-8,
        drop_steps: Sequence[int] | None = None,
        log_images_every_n: int = 1,
        max_logged_images: int = 4,
        dims: Sequence[float] = TEST_LEVELS,
        model_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            net,
            loss if loss is not None else KPNAnnealedLoss(),
            lr=lr,
            lr_drop_factor=lr_drop_factor,
            min_lr=min_lr,
            patience=patience,
            plateau_threshold=plateau_threshold,
            adam_eps=adam_eps,
            drop_steps=drop_steps,
            log_images_every_n=log_images_every_n,
            max_logged_images=max_logged_images,
            dims=dims,
            model_config=model_config,
        )

    def predict(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.net(batch[keys.BURST], batch[keys.NOISE_STD])

    def to_srgb(self, batch: dict[str, Tensor], image: Tensor) -> Tensor:
        """Linear RGB x ``gain`` (``1 / white_level``) -> ``color_matrix`` -> sRGB curve, clipped."""
        return render_for_metrics(image, batch[keys.GAIN], batch[keys.COLOR_MATRIX])

    def input_preview(self, batch: dict[str, Tensor]) -> Tensor:
        """The noisy reference frame (frame 0)."""
        return self.to_srgb(batch, batch[keys.BURST][:, 0])

    def panels(self, batch: dict[str, Tensor], outputs: dict[str, Tensor]) -> tuple[list[Tensor], str]:
        gain, cm = batch[keys.GAIN], batch[keys.COLOR_MATRIX]

        def show(x: Tensor) -> Tensor:
            return render_srgb(x.float(), gain, cm, clip=True)

        burst = batch[keys.BURST]
        panels = [show(burst[:, 0]), show(burst[:, -1]), show(outputs["output"]), show(batch[keys.TARGET])]
        return panels, "noisy reference frame | last frame | output | target"
