"""Flash / no-flash denoising (paper 000): a thin LightningModule around any FnF net.

Every FnF net of :mod:`fnflight.nets` has the signature ``net(noflash, flash, noflash_std, flash_std,
extra_noflash=None, extra_noflash_std=None) -> {"output", ...}``; what it uses of those inputs is its own
business (the no-flash-only baseline ignores the flash; the 2-frame burst BPN uses ``extra_noflash``). The
output is linear at the no-flash exposure and rendered with the batch's ``gain`` / ``color_matrix`` for loss,
metrics and pictures (sec. 3.3, 4.1).
"""

from __future__ import annotations

import torch
from torch import Tensor

from fnflight.data import batch as keys
from fnflight.imaging.color import render_srgb
from fnflight.tasks.base import EnhancementTask
from fnflight.tasks.image_logging import normalise_map
from fnflight.tasks.losses import DeepFnFLoss
from fnflight.tasks.metrics import render_for_metrics

__all__ = ["FlashNoFlashTask", "fnf_inputs"]


def fnf_inputs(batch: dict[str, Tensor]) -> dict[str, Tensor | None]:
    """The keyword arguments of an FnF net taken from a batch dict."""
    return {
        "noflash": batch[keys.NOFLASH],
        "flash": batch[keys.FLASH],
        "noflash_std": batch[keys.NOFLASH_STD],
        "flash_std": batch[keys.FLASH_STD],
        "extra_noflash": batch.get(keys.EXTRA_NOFLASH),
        "extra_noflash_std": batch.get(keys.EXTRA_NOFLASH_STD),
    }


class FlashNoFlashTask(EnhancementTask):
    """Train / validate / test an FnF net with paper 000's loss, metrics and schedule.

    Args: see :class:`fnflight.tasks.base.EnhancementTask` (paper 000's defaults); ``loss`` defaults to
    :class:`DeepFnFLoss` (eq. 6).

    Logged: ``train/loss`` (+ ``train/l2``, ``train/grad``, ``train/lr``), ``val/loss``, ``val/psnr``,
    ``val/ssim`` and per dimming level ``val/psnr_dim50``, ``val/ssim_dim50``, ...; the same under ``test/``.
    Pictures: noisy no-flash brightened | flash | output | target | filtered | scale map (the last two when
    the net returns them).
    """

    testset_task = "fnf"  # the `fnflight testset task=...` whose test sets it evaluates on

    default_loss = DeepFnFLoss

    def predict(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.net(**fnf_inputs(batch))

    def to_srgb(self, batch: dict[str, Tensor], image: Tensor) -> Tensor:
        """Linear camera RGB x ``gain`` -> ``color_matrix`` -> sRGB curve, clipped (paper 000 sec. 3.3)."""
        return render_for_metrics(image, batch[keys.GAIN], batch[keys.COLOR_MATRIX])

    def export_inputs(self, height: int, width: int) -> dict[str, Tensor]:
        """No-flash, flash and their noise std maps (the std maps positive, as the data makes them)."""
        images = {name: torch.rand(1, 3, height, width) for name in ("noflash", "flash")}
        return {**images, **{f"{n}_std": 0.01 + 0.05 * x.sqrt() for n, x in images.items()}}

    def input_preview(self, batch: dict[str, Tensor]) -> Tensor:
        """The noisy no-flash image brightened by the gain."""
        return self.to_srgb(batch, batch[keys.NOFLASH])

    def panels(self, batch: dict[str, Tensor], outputs: dict[str, Tensor]) -> tuple[list[Tensor], str]:
        gain, cm = batch[keys.GAIN], batch[keys.COLOR_MATRIX]

        def show(x: Tensor, g: Tensor | float = gain) -> Tensor:
            return render_srgb(x.float(), g, cm, clip=True)

        panels = [show(batch[keys.NOFLASH]), show(batch[keys.FLASH], 1.0), show(outputs["output"])]
        panels.append(show(batch[keys.TARGET]))
        names = ["noisy no-flash (x gain)", "flash", "output", "target"]
        if "filtered" in outputs:
            panels.append(show(outputs["filtered"]))
            names.append("filtered")
        if "scale_map" in outputs:
            scale = outputs["scale_map"].float()
            panels.append(normalise_map(scale.expand(-1, 3, -1, -1) if scale.shape[1] == 1 else scale))
            names.append("scale map (/ p99)")
        return panels, " | ".join(names)
