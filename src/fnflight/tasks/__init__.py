"""fnflight.tasks: thin LightningModules (loss + metrics + logging around a plain net).

- :mod:`~fnflight.tasks.losses`: DeepFnF eq. 6, KPN annealed, L1 (SID), MSE (LSD2), paper 001's loss.
- :mod:`~fnflight.tasks.metrics`: per-image PSNR / SSIM on clipped sRGB, aggregated per dimming level.
- :mod:`~fnflight.tasks.base`: shared glue (Adam + plateau drops, per-dim metrics, pictures).
- :mod:`~fnflight.tasks.fnf`: :class:`FlashNoFlashTask`; :mod:`~fnflight.tasks.burst`: :class:`BurstTask`.
- :mod:`~fnflight.tasks.checkpoint`: rebuild a task from a checkpoint alone.
"""
