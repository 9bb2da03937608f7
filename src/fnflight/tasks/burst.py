"""Burst denoising (paper 002, KPN): a thin LightningModule around a burst net.

Burst nets take ``net(burst, noise_std) -> {"output", "per_frame"}`` (frame 0 is the reference); the loss is
:class:`~fnflight.tasks.losses.KPNAnnealedLoss` by default (basic L2 + gradient loss on sRGB after dividing by
the white level, i.e. ``gain = 1 / white_level``, plus the annealed per-frame term). Metrics are reported per
noise level of paper 002's protocol (``level``: the gains 1, 2, 4, 8 of the validation / test data,
``val/psnr_level1`` ... ``val/psnr_level8``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from fnflight.data import batch as keys
from fnflight.data.burst import TEST_LEVELS
from fnflight.imaging.color import render_srgb
from fnflight.metrics.image_quality import render_for_metrics
from fnflight.tasks.base import EnhancementTask
from fnflight.tasks.losses import KPNAnnealedLoss
from fnflight.tasks.spec import TaskSpec

__all__ = ["BurstTask"]


SPEC = TaskSpec(
    name="burst",
    datamodule="fnflight.data.burst.BurstDataModule",
    level_key=keys.LEVEL,  # paper 002 Table 1: a column per noise gain
    floors="fnflight.evaluation.floors.burst_floors",
    shown_as_input=("reference_frame",),
    enhance_mode="burst",
    enhance_keys=("burst", "std_read", "std_shot", "noise", "tile", "bits"),
    folder_layout="subfolders",  # in=DIR: a sub-folder of frames per burst
    inputs="burst: burst=DIR_OR_GLOB",
)


class BurstTask(EnhancementTask):
    """Train / validate / test a burst net (see the module docstring and :class:`EnhancementTask`)."""

    spec = SPEC  # what the command line knows of this task (fnflight.tasks.spec)
    level_key = SPEC.level_key

    default_loss = KPNAnnealedLoss
    defaults = {**EnhancementTask.defaults, "dims": TEST_LEVELS}  # metrics per test noise level

    def predict(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        # a net of N frames sees the first N of a longer burst (frame 0 the reference): paper 002's 1-frame
        # variant is evaluated on the same 8-frame test bursts as the others, reduced to their reference
        frames = int(getattr(self.net, "frames", batch[keys.BURST].shape[1]))
        return self.net(batch[keys.BURST][:, :frames], batch[keys.NOISE_STD])

    def to_srgb(self, batch: dict[str, Tensor], image: Tensor) -> Tensor:
        """Linear RGB x ``gain`` (``1 / white_level``) -> ``color_matrix`` -> sRGB curve, clipped."""
        return render_for_metrics(image, batch[keys.GAIN], batch[keys.COLOR_MATRIX])

    def export_inputs(self, height: int, width: int) -> dict[str, Tensor]:
        """The burst ``(1, N, 3, H, W)`` (frame 0 the reference) and its noise map ``(1, 1, H, W)``."""
        return {
            "burst": torch.rand(1, int(self.net.frames), 3, height, width),
            "noise_std": torch.full((1, 1, height, width), 0.02),
        }

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
