"""fnflight.evaluation: scoring trained models against test sets and classical floors, and the pictures.

- :mod:`~fnflight.evaluation.engine`: the public batch iterator over a test set, a task's records, the
  floors' records (what ``fnflight eval`` runs).
- :mod:`~fnflight.evaluation.floors`: each task's classical floors and input panels (named by its
  :class:`~fnflight.tasks.spec.TaskSpec`).
- :mod:`~fnflight.evaluation.tables`: records -> the papers' table layouts.
- :mod:`~fnflight.evaluation.comparison_figure`: every method side by side per test image.
- :mod:`~fnflight.evaluation.pictures`: panels, grids, 8-bit conversion, logging pictures.
- :mod:`~fnflight.evaluation.validation_report`: after a training run, the model beside its input and the
  task's comparisons on the validation crops.

This package imports no Lightning at import time of its ``__init__`` (the CLI checks arguments first).
"""
