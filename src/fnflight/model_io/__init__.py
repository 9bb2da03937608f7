"""fnflight.model_io: trained models in and out of files.

- :mod:`~fnflight.model_io.checkpoint`: rebuild a task from a checkpoint or a weights-only file alone
  (``load_task``), write weights-only files (``save_weights``).
- :mod:`~fnflight.model_io.onnx_export`: a task's net as ONNX, checked against PyTorch.
"""
