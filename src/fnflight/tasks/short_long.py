"""Short / long exposure fusion (paper 003, LSD2): a thin LightningModule around a short/long net.

Short/long nets take ``net(short, long) -> {"output"}`` (:class:`fnflight.nets.lsd2.LSD2UNet`; its
``inputs="short"`` / ``"long"`` variants see one image only). The paper's network sees and predicts
gamma-encoded images (sec. 3.1: linearised with gamma 2.2, degraded, gamma re-applied), so the batch images
are display images already (``encoding_gamma`` = 2.2) and :func:`display` only clips them; a linear batch
(``encoding_gamma`` = 1, a data option) is rendered with the sRGB curve like flash/no-flash images.

Loss: L2 between output and the sharp target (sec. 3.2). Optimisation: Adam at 5e-5, halved at fixed
steps (``drop_steps``, ``lr_drop_factor=0.5``; the paper halves every 10th of 50 epochs). Metrics: PSNR and
SSIM of the output against the sharp target (one bin: the paper's Table 1 has no levels). Pictures: short
(brightness-matched for display, as the paper shows it) | long | output | target.
"""

from __future__ import annotations

import torch
from torch import Tensor

from fnflight.data import batch as keys
from fnflight.data.sources import SUPPORTED_EXTENSIONS
from fnflight.metrics.image_quality import render_for_metrics
from fnflight.tasks.base import EnhancementTask
from fnflight.tasks.losses import MSELoss
from fnflight.tasks.spec import TaskSpec

__all__ = ["ShortLongTask", "display", "display_short"]


def _encoded(batch: dict[str, Tensor]) -> bool:
    gamma = batch.get(keys.ENCODING_GAMMA)
    return gamma is not None and float(gamma.reshape(-1)[0]) != 1.0


def display(batch: dict[str, Tensor], image: Tensor) -> Tensor:
    """A short/long batch's image as sRGB in [0, 1]: clipped when the batch is display-encoded (the paper),
    else rendered (``gain``, ``color_matrix``, sRGB curve).

    Example:
        >>> b = {"encoding_gamma": torch.tensor([2.2])}
        >>> display(b, torch.tensor([[[[-0.1, 0.5, 1.2]]]])).flatten().tolist()
        [0.0, 0.5, 1.0]
    """
    if _encoded(batch):
        return image.float().clamp(0.0, 1.0)
    return render_for_metrics(image, batch[keys.GAIN], batch[keys.COLOR_MATRIX])


def display_short(batch: dict[str, Tensor]) -> Tensor:
    """The short exposure brightness-matched to the long one (``short_gain``), for display only."""
    gain = batch.get(keys.SHORT_GAIN)
    short = batch[keys.SHORT]
    if gain is not None:
        short = short * gain.to(short).reshape(-1, 1, 1, 1)
    return display(batch, short)


SPEC = TaskSpec(
    name="shortlong",
    datamodule="fnflight.data.short_long.ShortLongDataModule",
    level_key=None,  # paper 003 Table 1: one column
    floors="fnflight.evaluation.floors.shortlong_floors",
    shown_as_input=("blurry_long",),
    enhance_mode="shortlong",
    enhance_keys=("short", "long", "tile", "bits"),
    enhance_files=("short", "long"),
    folder_roles={"short": ("_short",), "long": ("_long",)},
    folder_suffixes=SUPPORTED_EXTENSIONS,
    inputs="short/long exposure pair: short= long=",
)


class ShortLongTask(EnhancementTask):
    """Train / validate / test a short/long net (module docstring; :class:`EnhancementTask`).

    Args: see :class:`EnhancementTask`; ``loss`` defaults to :class:`~fnflight.tasks.losses.MSELoss` (L2),
    ``lr`` to 5e-5 and ``lr_drop_factor`` to 0.5 (the paper's halvings, at ``drop_steps``).
    """

    spec = SPEC  # what the command line knows of this task (fnflight.tasks.spec)

    default_loss = MSELoss
    # paper 003 sec. 3.2: Adam 5e-5, halved (at drop_steps); metrics in one bin
    defaults = {"lr": 5e-5, "lr_drop_factor": 0.5, "min_lr": 1e-7, "dims": (1.0,)}

    def predict(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.net(batch[keys.SHORT], batch[keys.LONG])

    def metric_levels(self, batch: dict[str, Tensor]) -> Tensor:
        return torch.full((len(batch[keys.TARGET]),), float(self.val_metrics.levels[0]))

    def to_srgb(self, batch: dict[str, Tensor], image: Tensor) -> Tensor:
        return display(batch, image)

    def export_inputs(self, height: int, width: int) -> dict[str, Tensor]:
        """The short and long exposures ``(1, 3, H, W)``, display-encoded as the net sees them."""
        return {"short": torch.rand(1, 3, height, width), "long": torch.rand(1, 3, height, width)}

    def input_preview(self, batch: dict[str, Tensor]) -> Tensor:
        """The short exposure, brightness-matched for display (the paper's Fig. 3 normalisation)."""
        return display_short(batch)

    def panels(self, batch: dict[str, Tensor], outputs: dict[str, Tensor]) -> tuple[list[Tensor], str]:
        shown = [display_short(batch), display(batch, batch[keys.LONG])]
        shown += [display(batch, outputs["output"]), display(batch, batch[keys.TARGET])]
        return shown, "short (brightness-matched for display) | long | output | target"
