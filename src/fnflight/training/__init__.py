"""fnflight.training: the training run behind ``fnflight train``.

- :mod:`~fnflight.training.run`: a composed config -> DataModule, task, loggers, callbacks (checkpoints, the
  optional EMA of the weights), Trainer; the run directory, resuming, and the after-fit summary.
"""
