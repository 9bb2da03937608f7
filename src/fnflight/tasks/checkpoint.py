"""Rebuild a trained task from a checkpoint alone.

Tasks save the ``model`` section of the run config (``name``, ``net``, ``loss``, ``task``: each
``class_path`` + ``init_args``) in their hyperparameters (``model_config``), so a checkpoint is
self-contained:
:func:`load_task` builds the net and loss from it, then the task with the saved hyperparameters, then loads
the
weights. Only load checkpoints you trust (they are pickles).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fnflight.config import ConfigError, import_class, instantiate

__all__ = ["CheckpointError", "load_task", "method_name"]


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, or does not hold what is needed to rebuild its model."""


def _read(path: str | Path, map_location: str | torch.device) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:
        raise CheckpointError(f"cannot read checkpoint {str(path)!r}: {type(err).__name__}: {err}") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{str(path)!r} is not a Lightning checkpoint (no state_dict)")
    return ckpt


def load_task(path: str | Path, map_location: str | torch.device = "cpu"):
    """Load a task (LightningModule, in eval mode) with its net from a fnflight checkpoint."""
    ckpt = _read(path, map_location)
    hparams = dict(ckpt.get("hyper_parameters") or {})
    model_config = hparams.get("model_config")
    if not isinstance(model_config, dict) or "net" not in model_config or "task" not in model_config:
        raise CheckpointError(
            f"{str(path)!r} has no model_config in its hyperparameters: it was not written by `fnflight "
            f"train`"
        )
    try:
        net = instantiate(model_config["net"])
        loss = instantiate(model_config["loss"]) if model_config.get("loss") else None
        cls = import_class(model_config["task"]["class_path"])
        task = cls(net=net, loss=loss, **hparams)
    except ConfigError as err:
        raise CheckpointError(f"cannot rebuild the model of {str(path)!r}: {err}") from None
    missing, unexpected = task.load_state_dict(ckpt["state_dict"], strict=False)
    missing = [k for k in missing if not k.startswith(("val_metrics.", "test_metrics."))]
    if missing or unexpected:
        raise CheckpointError(
            f"{str(path)!r} does not match its model config: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}"
        )
    task.eval()
    return task


def method_name(task) -> str:
    """The method name of a loaded task: the model config's ``name`` (``deepfnf``, ``nfonly``, ...)."""
    config = task.hparams.get("model_config") or {}
    return str(config.get("name") or type(task.net).__name__.lower())
