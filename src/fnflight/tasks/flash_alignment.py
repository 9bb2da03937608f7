"""Training glue of the learned flash aligner (an fnflight extension, not in paper 000): a thin task around
:class:`fnflight.nets.flash_aligner.FlashAligner`, supervised by the homography the data engine warped the
flash with (:class:`fnflight.tasks.losses.HomographyResidualLoss`).

It is the FnF task (:class:`~fnflight.tasks.fnf.FlashNoFlashTask`: its data, input preparation, rendering,
optimiser and schedule) with another prediction, loss and metrics; it
reports residual displacements instead of image metrics:

- ``val/residual_px``: mean Manhattan displacement left after alignment (pixels; the checkpoint metric, lower
  is better), per dimming level ``val/residual_px_dim100``, ...; ``val/before_px``: the same before it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric

from fnflight.data import batch as keys
from fnflight.imaging.homography import mean_displacement, warp_image
from fnflight.metrics.image_quality import dim_label
from fnflight.tasks.fnf import FlashNoFlashTask, fnf_inputs
from fnflight.tasks.losses import HomographyResidualLoss

__all__ = ["FlashAlignmentTask"]


class FlashAlignmentTask(FlashNoFlashTask):
    """Train a flash aligner on the residual displacement of its homography (module docstring).

    Args: those of :class:`~fnflight.tasks.fnf.FlashNoFlashTask` (its input preparation, so the aligner sees
    the flash the FnF net will see; the FnF defaults: Adam at 1e-4, the plateau schedule, here on
    ``-val/residual_px``); the loss defaults to :class:`~fnflight.tasks.losses.HomographyResidualLoss`.
    Rendering, input preview and export inputs are the FnF task's.
    """

    default_loss = HomographyResidualLoss
    checkpoint_metric = ("val/residual_px", "min")
    predicts_images = False  # a homography: scored by its residual in pixels, not by PSNR
    summary_metrics = ("val/residual_px", "val/before_px")

    def __init__(self, net: nn.Module, loss: nn.Module | None = None, **options) -> None:
        super().__init__(net, loss, **options)
        levels = [float(d) for d in self.hparams["dims"]]
        self.residual_by_level = nn.ModuleDict({dim_label(d).replace(".", "_"): MeanMetric() for d in levels})
        self._level_names = {d: dim_label(d) for d in levels}
        self.residual = MeanMetric()
        self.before = MeanMetric()

    def predict(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        x = fnf_inputs(batch, self.input_preparation)
        out = self.net(x["noflash"], x["flash"], x["noflash_std"], x["flash_std"])
        back = torch.linalg.inv(out["homography"])
        return {**out, "aligned_flash": warp_image(x["flash"], back), "flash": x["flash"]}

    def _residuals(self, batch: dict[str, Tensor], homography: Tensor) -> tuple[Tensor, Tensor]:
        h, w = batch[keys.TARGET].shape[-2:]
        true = batch[keys.HOMOGRAPHY].to(homography.dtype)
        return (
            mean_displacement(torch.linalg.inv(true) @ homography, h, w),
            mean_displacement(torch.linalg.inv(true), h, w),
        )

    def _eval_step(self, batch: dict[str, Tensor], batch_idx: int, stage: str) -> dict[str, Tensor]:
        outputs = self.predict(batch)
        parts = self.loss(outputs, batch, step=int(self.global_step))
        self.log(f"{stage}/loss", parts["loss"], batch_size=self._batch_size(batch), sync_dist=True)
        after, before = self._residuals(batch, outputs["homography"])
        self.residual.update(after)
        self.before.update(before)
        for level, value in zip(self.metric_levels(batch).tolist(), after, strict=True):
            name = dim_label(float(level)).replace(".", "_")
            if name in self.residual_by_level:
                self.residual_by_level[name].update(value)
        return outputs

    def _log_residuals(self, stage: str) -> float:
        values = {
            f"{stage}/residual_px": self.residual.compute(),
            f"{stage}/before_px": self.before.compute(),
        }
        for label in self._level_names.values():
            metric = self.residual_by_level[label.replace(".", "_")]
            if metric.update_count:
                values[f"{stage}/residual_px_{label}"] = metric.compute()
            metric.reset()
        self.residual.reset()
        self.before.reset()
        self.log_dict(values)
        self.log(f"{stage}/px_pbar", values[f"{stage}/residual_px"], prog_bar=True, logger=False)
        return float(values[f"{stage}/residual_px"])

    def on_validation_epoch_end(self) -> None:
        residual = self._log_residuals("val")
        if self.trainer.sanity_checking:
            return
        self._validations += 1
        if self.trainer.state.fn == "fit" and self._plateau is not None:
            self._plateau.step(-residual)  # the plateau schedule maximises

    def on_test_epoch_end(self) -> None:
        self._log_residuals("test")

    def sample_panels(self, batch: dict[str, Tensor], outputs: dict[str, Tensor]) -> list[Tensor]:
        """``target | flash | aligned flash`` and the two flashes' differences to the target (x4): what the
        alignment removed is the misregistration the difference panels show."""
        target = self.to_srgb(batch, batch[keys.TARGET])
        flash, aligned = self.to_srgb(batch, outputs["flash"]), self.to_srgb(batch, outputs["aligned_flash"])
        return [
            target,
            flash,
            aligned,
            (4 * (flash - target).abs()).clamp(0, 1),
            (4 * (aligned - target).abs()).clamp(0, 1),
        ]

    def panels(self, batch: dict[str, Tensor], outputs: dict[str, Tensor]) -> tuple[list[Tensor], str]:
        names = "target | flash | aligned flash | |flash - target| x4 | |aligned - target| x4"
        return self.sample_panels(batch, outputs), names
