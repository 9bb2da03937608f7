"""Raw low-light imaging (paper 004, SID): a thin LightningModule around a raw-to-sRGB net.

Raw nets take ``net(raw) -> {"output"}``: the packed, black-level-subtracted and amplified raw in, sRGB at
full resolution out (:class:`fnflight.nets.sid.SIDUNet`). Loss: L1 between output and the sRGB reference
(sec. 3.4). Optimisation: Adam at 1e-4, dropped once to 1e-5 (sec. 3.4: "reduced to 10^-5 after 2000
epochs" of 4000), here at fixed global steps (``drop_steps``, factor 0.1) because a step budget is what a
config can state for any data size.

Metrics as SID computes them: the output clipped to [0, 1] and quantised to 16 bits (SID writes 16-bit-style
sRGB; its references are LibRaw's 16-bit renderings) against the reference, PSNR over the whole image and
SSIM, per amplification ratio (``val/psnr_ratio100``, ``val/psnr_ratio250``, ``val/psnr_ratio300``).
Pictures: the amplified input through the classical forward ISP (:func:`fnflight.classical.traditional_isp`,
with the capture's white balance and colour matrix) | output | reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from fnflight.classical import traditional_isp
from fnflight.data import batch as keys
from fnflight.data.raw_sources import RAW_SUFFIXES
from fnflight.tasks.base import EnhancementTask
from fnflight.tasks.losses import L1Loss
from fnflight.tasks.spec import TaskSpec

__all__ = ["SID_RATIOS", "RawLowLightTask", "sid_quantize"]

SID_RATIOS: tuple[float, ...] = (100.0, 250.0, 300.0)  # paper 004 Table 1


def sid_quantize(image: Tensor) -> Tensor:
    """Clip to [0, 1] and round to 16-bit levels, the sRGB images SID scores.

    Example:
        >>> import torch
        >>> sid_quantize(torch.tensor([-0.5, 0.5, 1.5])).tolist()
        [0.0, 0.5000076293945312, 1.0]
    """
    return (image.float().clamp(0.0, 1.0) * 65535.0).round() / 65535.0


SPEC = TaskSpec(
    name="raw",
    datamodule="fnflight.data.raw_lowlight.RawLowLightDataModule",
    level_key=keys.RATIO,  # paper 004: a column per amplification ratio
    floors="fnflight.evaluation.floors.raw_floors",
    enhance_mode="raw",
    enhance_keys=("raw", "ratio", "tile", "bits"),
    enhance_files=("raw",),
    folder_layout="files",  # in=DIR: every raw file (ratio= applies to all)
    folder_suffixes=RAW_SUFFIXES,
    inputs="raw low-light capture: raw= ratio=",
)


class RawLowLightTask(EnhancementTask):
    """Train / validate / test a raw low-light net (module docstring; :class:`EnhancementTask`).

    Args:
        net, loss (default :class:`~fnflight.tasks.losses.L1Loss`): see :class:`EnhancementTask`.
        bayer_order: packed channel order of the data (``"raster"`` or ``"sid"``), for the pictures'
            classical ISP.
        ratios: the amplification ratios the metrics are reported at (default SID's; the base's ``dims``).
        options: every other :class:`EnhancementTask` argument; SID's defaults: ``lr`` 1e-4,
            ``lr_drop_factor`` 0.1 (1e-4 -> 1e-5 at ``drop_steps``; without them the plateau schedule,
            floored at ``min_lr``).
    """

    spec = SPEC  # what the command line knows of this task (fnflight.tasks.spec)

    level_key = SPEC.level_key

    default_loss = L1Loss
    # sec. 3.4: Adam 1e-4 dropped once to 1e-5; metrics per amplification ratio
    defaults = {"lr": 1e-4, "lr_drop_factor": 0.1, "min_lr": 1e-5, "dims": SID_RATIOS}

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module | None = None,
        bayer_order: str = "raster",
        ratios: Sequence[float] | None = None,
        **options: Any,
    ) -> None:
        if bayer_order not in ("raster", "sid"):
            raise ValueError(f"bayer_order must be 'raster' or 'sid', got {bayer_order!r}")
        if ratios is not None:  # the levels by their raw name (``dims`` of the base class)
            options["dims"] = tuple(ratios)
        super().__init__(net, loss, **options)

    def predict(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.net(batch[keys.RAW])

    def to_srgb(self, batch: dict[str, Tensor], image: Tensor) -> Tensor:
        """The net's output is sRGB already: clipped and quantised to 16 bits as SID scores it."""
        return sid_quantize(image)

    def export_inputs(self, height: int, width: int) -> dict[str, Tensor]:
        """The amplified packed raw ``(1, C, H, W)`` (C = 4 Bayer, 9 X-Trans; H, W: the packed size)."""
        return {"raw": torch.rand(1, int(self.net.in_channels), height, width)}

    def input_preview(self, batch: dict[str, Tensor]) -> Tensor:
        """The amplified raw through the classical ISP (SID's "traditional pipeline", no denoising)."""
        return traditional_isp(
            batch[keys.RAW],
            batch[keys.WB_GAINS],
            batch[keys.COLOR_MATRIX],
            batch.get(keys.TONE_CURVE, False),
            str(self.hparams.get("bayer_order", "raster")),
        )

    def panels(self, batch: dict[str, Tensor], outputs: dict[str, Tensor]) -> tuple[list[Tensor], str]:
        return self.sample_panels(batch, outputs), "amplified input (classical ISP) | output | reference"
