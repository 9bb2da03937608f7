"""Shared LightningModule glue: loss, per-dim metrics, the paper's learning-rate drops, image logging.

A task wraps a plain ``nn.Module`` net (built from the config and passed in) and a loss from
:mod:`fnflight.tasks.losses`. Every subclass states four things, and nothing else here assumes what a batch
holds:

- :meth:`EnhancementTask.predict`: how a batch feeds the net;
- :meth:`EnhancementTask.to_srgb`: how its prediction and target (images in the prediction's space) become
  the sRGB images in ``[0, 1]`` that metrics, pictures and samples see (flash/no-flash: linear camera RGB x
  gain -> colour matrix -> sRGB curve; raw: the net already outputs sRGB);
- :meth:`EnhancementTask.input_preview`: the degraded input as a person would look at it (sRGB), the first
  panel of ``sample.png`` and of ``fnflight eval``'s pictures;
- :meth:`EnhancementTask.panels`: the columns of the validation pictures.

Metrics are reported per level of ``level_key`` (``"dim"`` for paper 000's dimming factors, ``"ratio"`` for
SID's amplification ratios): :meth:`EnhancementTask.metric_levels` gives each sample's level.

Optimisation (paper 000 sec. 3.3): Adam at ``lr`` with a plateau schedule on the validation PSNR: when
``val/psnr`` has not improved by ``plateau_threshold`` dB for ``patience`` validations, the rate is multiplied
by ``lr_drop_factor`` (``10**-0.5``), never below ``min_lr`` (``1e-5``): 1e-4 -> 1e-4/sqrt(10) -> 1e-5, the
paper's "two learning rate drops every time validation loss saturates". The paper watches the validation loss;
validation PSNR is used here because it is also what checkpoints are chosen by (it falls as the L2 term
rises).
The schedule is stepped by the task itself after each validation (not by Lightning, whose epoch/step intervals
do not match "every validation") and its state travels in the checkpoint, so a resume continues it.

Alternatively ``drop_steps`` gives the drops at fixed global steps (each multiplies the rate by
``lr_drop_factor``; the plateau schedule is then off). The authors' code drops late at fixed iterations; short
budgets need this too: with a few validations the plateau rule never fires, and a run evaluated at its last
step while the rate is still high lands anywhere in a +-0.5 dB band (benchmarks/results/fnf_quality_cpu).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from fnflight.data import batch as keys
from fnflight.evaluation.pictures import grid, log_grid
from fnflight.metrics.image_quality import PAPER_DIMS, DimMetrics

__all__ = ["SCHEDULES", "EnhancementTask", "cosine_rate"]

SCHEDULES = ("plateau", "cosine")


def cosine_rate(step: int, total: int, warmup: int = 0, floor: float = 0.0) -> float:
    """The learning-rate factor of the cosine schedule at ``step``: ``(step + 1) / warmup`` during the
    warm-up, then ``floor + (1 - floor) (1 + cos(pi t)) / 2`` with ``t`` going from 0 after the warm-up to 1
    at ``total`` (and ``floor`` after it).

    >>> [round(cosine_rate(s, 100, 10, 0.1), 3) for s in (0, 9, 10, 55, 100, 200)]
    [0.1, 1.0, 1.0, 0.55, 0.1, 0.1]
    """
    if step < warmup:
        return (step + 1) / warmup
    t = min(max(step - warmup, 0) / max(total - warmup, 1), 1.0)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


def _check_drop_steps(drop_steps: Any) -> None:
    if drop_steps is None:
        return
    ok = isinstance(drop_steps, Sequence) and not isinstance(drop_steps, str)
    if not ok or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in drop_steps):
        raise ValueError(f"drop_steps must be a list of positive integer steps or null, got {drop_steps!r}")


class EnhancementTask(pl.LightningModule):
    """Base class of the image-enhancement tasks (see the module docstring).

    A subclass states its paper's defaults in :attr:`default_loss` and :attr:`defaults` (used where an
    argument is left ``None``) instead of repeating this signature.

    Args:
        net: the network (``nn.Module``).
        loss: a loss of :mod:`fnflight.tasks.losses` (called ``loss(outputs, batch, step)``); ``None``: the
            task's :attr:`default_loss`.
        lr: Adam learning rate (``None``: the task's default; paper 000: 1e-4).
        lr_drop_factor: factor of each drop (``None``: the task's default; paper 000: ``10**-0.5``).
        min_lr: floor of the plateau drops (``None``: the task's default; paper 000: 1e-5).
        patience: validations without improvement before a drop.
        plateau_threshold: improvement of ``val/psnr`` in dB that counts as progress.
        adam_eps: Adam's epsilon (torch default 1e-8, as the authors' TensorFlow code uses Adam's default).
        drop_steps: global steps at which the rate is multiplied by ``lr_drop_factor`` (``min_lr`` is not
            applied); ``None`` (default) uses the plateau schedule instead.
        schedule: ``"plateau"`` (default: the paper's drops on plateaus, or ``drop_steps``) or ``"cosine"``
            (:func:`cosine_rate`: a linear warm-up over ``warmup_steps``, then a cosine from ``lr`` to
            ``min_lr`` at the run's last step, ``trainer.max_steps``). Cosine is for short fixed budgets (the
            default ``make train``): the rate is small when the run ends, so the last checkpoint is the best
            one, instead of a sample of the +-0.5 dB band a constant rate leaves.
        warmup_steps: steps of the cosine schedule's linear warm-up.
        log_images_every_n: log a picture of the first validation batch every n validations (0: never).
        max_logged_images: rows of that picture.
        dims: the levels (of ``level_key``) the metrics are reported at (``None``: the task's default;
            paper 000's dimming factors).
        model_config: the ``model`` section of the run config (name, net, loss, task); saved in the
        checkpoint's
            hyperparameters so that :func:`fnflight.model_io.checkpoint.load_task` can rebuild the net.
    """

    #: the batch key whose values the metrics are binned by (``val/psnr_dim50``, ``val/psnr_ratio100``, ...)
    level_key = "dim"
    #: the metric the best checkpoint is chosen by and whether higher or lower is better
    #: (``checkpoint.monitor`` / ``checkpoint.mode`` of the run config override it)
    checkpoint_metric: tuple[str, str] = ("val/psnr", "max")
    #: whether the task's prediction is an image scored by PSNR / SSIM per level (``fnflight train`` then
    #: writes ``results.json`` beside the input and the :meth:`comparisons`); the flash aligner's is a warp
    predicts_images: bool = True
    #: the prefixes of the validation metrics ``fnflight train`` prints in its summary
    summary_metrics: tuple[str, ...] = ("val/psnr", "val/ssim")
    #: the loss used when none is given (a class of :mod:`fnflight.tasks.losses`)
    default_loss: type[nn.Module] | None = None
    #: the values of ``lr``, ``lr_drop_factor``, ``min_lr`` and ``dims`` left ``None`` (paper 000's here)
    defaults: dict[str, Any] = {"lr": 1e-4, "lr_drop_factor": 10**-0.5, "min_lr": 1e-5, "dims": PAPER_DIMS}

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module | None = None,
        lr: float | None = None,
        lr_drop_factor: float | None = None,
        min_lr: float | None = None,
        patience: int = 5,
        plateau_threshold: float = 0.01,
        adam_eps: float = 1e-8,
        drop_steps: Sequence[int] | None = None,
        schedule: str = "plateau",
        warmup_steps: int = 0,
        log_images_every_n: int = 1,
        max_logged_images: int = 4,
        dims: Sequence[float] | None = None,
        model_config: dict[str, Any] | None = None,
    ) -> None:
        # the task's defaults, resolved before save_hyperparameters reads these locals into the checkpoint
        lr = float(self.defaults["lr"] if lr is None else lr)
        lr_drop_factor = float(self.defaults["lr_drop_factor"] if lr_drop_factor is None else lr_drop_factor)
        min_lr = float(self.defaults["min_lr"] if min_lr is None else min_lr)
        dims = tuple(self.defaults["dims"] if dims is None else dims)
        if loss is None:
            if self.default_loss is None:
                raise ValueError(f"{type(self).__name__} needs a loss (it has no default_loss)")
            loss = self.default_loss()
        super().__init__()
        if lr <= 0 or min_lr < 0 or not 0 < lr_drop_factor <= 1:
            raise ValueError(
                f"need lr > 0, min_lr >= 0, 0 < lr_drop_factor <= 1; got {lr}, {min_lr}, {lr_drop_factor}"
            )
        _check_drop_steps(drop_steps)
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
        if schedule == "cosine" and drop_steps:
            raise ValueError("drop_steps and schedule=cosine exclude each other: pick one")
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an integer >= 0, got {warmup_steps!r}")
        self.save_hyperparameters(ignore=["net", "loss"])
        # a subclass's **kwargs frame may hold the unresolved Nones: the checkpoint keeps the values used
        self.hparams.update(lr=lr, lr_drop_factor=lr_drop_factor, min_lr=min_lr, dims=dims)
        self.net = net
        self.loss = loss
        self.val_metrics = DimMetrics(dims, key=self.level_key)
        self.test_metrics = DimMetrics(dims, key=self.level_key)
        # the degraded input itself (input_preview) on the validation data: what the model improved on
        self.val_input_metrics = DimMetrics(dims, key=self.level_key)
        self._plateau: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None
        self._pending_plateau_state: dict[str, Any] | None = None
        self._validations = 0

    # ---------------------------------------------------------------- what subclasses provide
    def predict(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Run the net on a batch; returns the net's output dict."""
        raise NotImplementedError

    def panels(self, batch: dict[str, Tensor], outputs: dict[str, Tensor]) -> tuple[list[Tensor], str]:
        """sRGB panels ``(B, 3, H, W)`` in ``[0, 1]`` for the picture, and a caption naming them."""
        raise NotImplementedError

    def to_srgb(self, batch: dict[str, Tensor], image: Tensor) -> Tensor:
        """``image`` (the prediction, the target, or an input in their space) ``(B, 3, H, W)`` as the sRGB in
        ``[0, 1]`` that metrics, pictures and samples see."""
        raise NotImplementedError

    def input_preview(self, batch: dict[str, Tensor]) -> Tensor:
        """The degraded input as a person would look at it: sRGB ``(B, 3, H, W)`` in ``[0, 1]``, the size of
        the target."""
        raise NotImplementedError

    def export_inputs(self, height: int, width: int) -> dict[str, Tensor]:
        """Example inputs of the net for export (``fnflight export ... out=FILE.onnx``): ``{argument name:
        (1, ..., height, width) tensor}`` in the order of the net's ``forward``, at the size its images come
        in (raw nets: the packed size)."""
        raise NotImplementedError

    def comparisons(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Classical results on the same batch that a user should see the model's beside, ``{name: sRGB
        (B, 3, H, W) in [0, 1]}`` (``fnflight train``'s summary and ``sample.png``): what a method without
        the task's key idea gets (flash/no-flash: a no-flash-only denoiser). None by default."""
        return {}

    def metric_images(self, batch: dict[str, Tensor], outputs: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Prediction and target as the metrics see them (:meth:`to_srgb`)."""
        return self.to_srgb(batch, outputs["output"]), self.to_srgb(batch, batch[keys.TARGET])

    def sample_panels(self, batch: dict[str, Tensor], outputs: dict[str, Tensor]) -> list[Tensor]:
        """``input preview | output | target`` in sRGB: the columns of ``sample.png``."""
        pred, target = self.metric_images(batch, outputs)
        return [self.input_preview(batch), pred, target]

    def metric_levels(self, batch: dict[str, Tensor]) -> Tensor:
        """Each sample's level ``(B,)`` (its ``level_key`` value; the first level when the batch has none)."""
        target = batch[keys.TARGET]
        default = torch.full((len(target),), float(self.val_metrics.levels[0]), device=target.device)
        return batch.get(self.level_key, default)

    # ---------------------------------------------------------------- Lightning hooks
    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.predict(batch)

    def _batch_size(self, batch: dict[str, Tensor]) -> int:
        return len(batch[keys.TARGET])

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        outputs = self.predict(batch)
        parts = self.loss(outputs, batch, step=int(self.global_step))
        n = self._batch_size(batch)
        self.log("train/loss", parts["loss"], prog_bar=True, batch_size=n)
        for name, value in parts.items():
            if name != "loss":
                self.log(f"train/{name}", value, batch_size=n)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"], batch_size=n)  # type: ignore[union-attr]
        return parts["loss"]

    def _eval_step(self, batch: dict[str, Tensor], batch_idx: int, stage: str) -> dict[str, Tensor]:
        outputs = self.predict(batch)
        parts = self.loss(outputs, batch, step=int(self.global_step))
        self.log(f"{stage}/loss", parts["loss"], batch_size=self._batch_size(batch), sync_dist=True)
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        pred, target = self.metric_images(batch, outputs)
        metrics.update(pred, target, self.metric_levels(batch))
        if stage == "val":
            self.val_input_metrics.update(
                self.input_preview(batch).float(), target, self.metric_levels(batch)
            )
        return outputs

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        outputs = self._eval_step(batch, batch_idx, "val")
        every = int(self.hparams.get("log_images_every_n", 1))
        if (
            batch_idx == 0
            and every > 0
            and not self.trainer.sanity_checking
            and self._validations % every == 0
        ):
            self.log_picture(batch, outputs, "val/images")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        outputs = self._eval_step(batch, batch_idx, "test")
        if batch_idx == 0:
            self.log_picture(batch, outputs, "test/images")

    def log_picture(self, batch: dict[str, Tensor], outputs: dict[str, Tensor], key: str) -> None:
        with torch.no_grad():
            panels, caption = self.panels(batch, outputs)
            picture = grid(panels, max_rows=int(self.hparams.get("max_logged_images", 4)))
        log_grid(self, picture, key, caption)

    def _log_metrics(self, metrics: DimMetrics, stage: str) -> dict[str, Tensor]:
        values = metrics.compute()
        metrics.reset()
        logged = {f"{stage}/{k}": v for k, v in values.items() if not k.startswith("count")}
        # Already summed over processes by torchmetrics: every rank logs the same values.
        self.log_dict(logged, prog_bar=False)
        self.log(f"{stage}/psnr_pbar", values["psnr"], prog_bar=True, logger=False)
        return values

    def on_validation_epoch_end(self) -> None:
        values = self._log_metrics(self.val_metrics, "val")
        inputs = self.val_input_metrics.compute()
        self.val_input_metrics.reset()
        self.log_dict({"val/input_psnr": inputs["psnr"], "val/input_ssim": inputs["ssim"]})
        if self.trainer.sanity_checking:
            return
        self._validations += 1
        fitting = self.trainer.state.fn == "fit"
        if fitting and self._plateau is not None and float(values["count"]) > 0:
            psnr = float(values["psnr"])
            if math.isfinite(psnr):
                self._plateau.step(psnr)

    def on_test_epoch_end(self) -> None:
        self._log_metrics(self.test_metrics, "test")

    def on_fit_start(self) -> None:
        # a loss whose schedule is stated as a fraction of the run (KPNAnnealedLoss.anneal_until) learns
        # the run's length here
        if hasattr(self.loss, "run_steps"):
            self.loss.run_steps = int(self.trainer.max_steps) if self.trainer.max_steps > 0 else None

    # ---------------------------------------------------------------- optimisation
    def configure_optimizers(self) -> torch.optim.Optimizer | dict[str, Any]:
        hp = self.hparams
        # fused: one kernel for every parameter tensor instead of torch's per-tensor loop, which on a CPU is
        # the default and cost ~5% of deepfnf_small's step (about 900 small ops a step;
        # benchmarks/investigation/train_step_profile.txt); same update rule (Adam, the papers' optimiser)
        params = list(self.parameters())
        fused = bool(params) and all(p.device.type in ("cpu", "cuda") for p in params)
        optimizer = torch.optim.Adam(
            params, lr=float(hp["lr"]), eps=float(hp.get("adam_eps", 1e-8)), fused=fused or None
        )
        if hp.get("schedule", "plateau") == "cosine":
            total = int(self.trainer.max_steps) if self._trainer is not None else -1
            if total <= 0:
                raise ValueError(
                    "schedule=cosine needs trainer.max_steps > 0 (the step the rate reaches min_lr)"
                )
            lr, floor, warmup = float(hp["lr"]), float(hp["min_lr"]), int(hp.get("warmup_steps", 0))
            cosine = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: cosine_rate(step, total, warmup, floor / lr)
            )
            self._plateau = None
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": cosine, "interval": "step"}}
        if hp.get("drop_steps"):
            # fixed drops, stepped by Lightning after every optimizer step; its state is in the checkpoint
            steps = torch.optim.lr_scheduler.MultiStepLR(
                optimizer, milestones=sorted(hp["drop_steps"]), gamma=float(hp["lr_drop_factor"])
            )
            self._plateau = None
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": steps, "interval": "step"}}
        self._plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="max",
            factor=float(hp["lr_drop_factor"]),
            patience=int(hp["patience"]),
            threshold=float(hp["plateau_threshold"]),
            threshold_mode="abs",
            min_lr=float(hp["min_lr"]),
            eps=0.0,
        )
        if self._pending_plateau_state is not None:
            self._plateau.load_state_dict(self._pending_plateau_state)
            self._pending_plateau_state = None
        return optimizer

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self._plateau is not None:
            checkpoint["lr_plateau"] = self._plateau.state_dict()
        checkpoint["validations"] = self._validations

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._validations = int(checkpoint.get("validations", 0))
        state = checkpoint.get("lr_plateau")
        if state is None:
            return
        if self._plateau is not None:
            self._plateau.load_state_dict(state)
        else:
            self._pending_plateau_state = state
