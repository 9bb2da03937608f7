"""fnflight.tasks: the training glue only: thin LightningModules (loss + metrics + logging around a plain
net), their losses, and each task's :class:`~fnflight.tasks.spec.TaskSpec`.

- :mod:`~fnflight.tasks.base`: shared glue (Adam + schedules, per-level metrics, pictures).
- :mod:`~fnflight.tasks.losses`: DeepFnF eq. 6, KPN annealed, L1 (SID), MSE (LSD2), paper 001's loss.
- :mod:`~fnflight.tasks.fnf`, :mod:`~fnflight.tasks.burst`, :mod:`~fnflight.tasks.short_long`,
  :mod:`~fnflight.tasks.raw_lowlight`, :mod:`~fnflight.tasks.flash_alignment`: one task each.
- :mod:`~fnflight.tasks.spec`: what the CLI needs to know of a task (test sets, table levels, floors,
  enhance inputs), stated once next to each LightningModule.

Metrics, model files, the training run and evaluation live in :mod:`fnflight.metrics`,
:mod:`fnflight.model_io`, :mod:`fnflight.training` and :mod:`fnflight.evaluation`.
"""
