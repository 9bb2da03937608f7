"""Rebuild a trained task from a checkpoint alone, and the weights-only files that results ship.

Tasks save the ``model`` section of the run config (``name``, ``net``, ``loss``, ``task``: each
``class_path`` + ``init_args``) in their hyperparameters (``model_config``), so a checkpoint is
self-contained: :func:`load_task` builds the net and loss from it, then the task with the saved
hyperparameters, then loads the weights. Every file is read with ``torch.load(weights_only=True)``: a
Lightning checkpoint of ``fnflight train`` holds only tensors and plain values and loads that way, and a file
that would need code unpickled (a checkpoint from elsewhere) is refused, never executed.

:func:`save_weights` writes the net's weights with the model config and task hyperparameters as JSON text:
a file of tensors and strings only (``FORMAT = "fnflight-weights"``, a few MB for the CPU presets) that
:func:`load_task` reads with ``torch.load(weights_only=True)``, which unpickles no code. Committed results
keep such a file beside their table so anyone can re-evaluate a row without training
(``fnflight eval ckpt=FILE.pt ...``).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from fnflight.config import ConfigError, import_class, instantiate

__all__ = [
    "WEIGHTS_FORMAT",
    "CheckpointError",
    "check_checkpoint",
    "load_task",
    "method_name",
    "save_weights",
]

WEIGHTS_FORMAT = "fnflight-weights"


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, or does not hold what is needed to rebuild its model."""


def _torch_load(path: Path, map_location: str | torch.device) -> Any:
    """``torch.load(weights_only=True)`` without its warnings (a text file makes the unpickler warn)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(path, map_location=map_location, weights_only=True)


def _read_weights(path: Path, map_location: str | torch.device) -> dict[str, Any] | None:
    """A weights-only file as a checkpoint-like dict, or None when ``path`` is not one."""
    try:
        data = _torch_load(path, map_location)
    except Exception:
        return None
    if not isinstance(data, dict) or data.get("format") != WEIGHTS_FORMAT:
        return None
    try:
        hparams = json.loads(data["hparams"])
        hparams["model_config"] = json.loads(data["model_config"])
        state = {f"net.{k}": v for k, v in data["net"].items()}
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{str(path)!r} is a damaged fnflight weights file ({err})") from None
    return {"state_dict": state, "hyper_parameters": hparams}


REFUSED = (
    "reading it would need code executed, so fnflight refuses it (checkpoints of `fnflight train` and files "
    "of `fnflight export` hold only tensors and plain values)"
)


def why_unreadable(path: Path, err: BaseException) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, as one line for the user. Torch's own message is
    never passed on: it suggests ``weights_only=False`` or ``add_safe_globals``, i.e. running the file's
    code, which a file of unknown origin must never get.

    Example:
        >>> import pickle, tempfile
        >>> path = Path(tempfile.mkdtemp()) / "plain.pkl"
        >>> _ = path.write_bytes(pickle.dumps({"a": 1}))
        >>> why = why_unreadable(path, pickle.UnpicklingError("x"))
        >>> "plain Python pickle" in why and "code executed" in why
        True
    """
    shown = repr(str(path))
    head = path.read_bytes()[:4] if path.is_file() else b""
    if path.is_file() and path.stat().st_size == 0:
        return f"checkpoint {shown} is an empty file"
    found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
    if found is not None:
        return f"{shown} holds pickled Python objects ({found.group(1)}): {REFUSED}"
    if head.startswith(b"PK"):
        return (
            f"checkpoint {shown} is a damaged or truncated torch file (its zip archive cannot be read); "
            "copy or write it again"
        )
    if head[:1] == b"\x80":  # a pickle protocol 2+ header: pickle.dump, not torch.save
        return f"{shown} is a plain Python pickle, not a torch checkpoint: {REFUSED}"
    return f"{shown} is not a checkpoint (neither a torch file nor a weights file; a text or another file?)"


def _read(path: str | Path, map_location: str | torch.device) -> dict[str, Any]:
    path = Path(path).expanduser()
    if path.is_dir():
        raise CheckpointError(f"checkpoint {str(path)!r} is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    weights = _read_weights(path, map_location)
    if weights is not None:
        return weights
    try:
        # weights_only: a checkpoint from an untrusted source must never run code when it is read
        ckpt = _torch_load(path, map_location)
    except Exception as err:
        raise CheckpointError(why_unreadable(path, err)) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{str(path)!r} is not a Lightning checkpoint (no state_dict)")
    return ckpt


def check_checkpoint(path: str | Path) -> None:
    """Check that ``path`` is a checkpoint that loads weights-only (``fnflight train ckpt_path=``, before the
    run starts: Lightning would otherwise fail in its own loader with torch's unsafe hint);
    :class:`CheckpointError` says why not."""
    _read(path, "cpu")


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
    missing = [
        k for k in missing if not k.startswith(("val_metrics.", "test_metrics.", "val_input_metrics."))
    ]
    if missing or unexpected:
        raise CheckpointError(
            f"{str(path)!r} does not match its model config: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}"
        )
    task.eval()
    return task


def save_weights(task, path: str | Path, dtype: torch.dtype | None = None) -> Path:
    """Write ``task``'s net weights, model config and hyperparameters as a weights-only file (module
    docstring); returns the path. Written to a temporary name first, so a failure leaves no partial file.

    ``dtype=torch.float16`` stores floating-point weights at half size (the shipped models): loading casts
    them back to the net's float32, which changes outputs by about 1e-3 relative at most."""
    hparams = {k: v for k, v in dict(task.hparams).items() if k != "model_config"}
    config = task.hparams.get("model_config")
    if not isinstance(config, dict):
        raise CheckpointError(
            "the task has no model_config: only tasks built by `fnflight train` can be saved"
        )
    payload = {
        "format": WEIGHTS_FORMAT,
        "version": "1",
        "net": {k: _stored(v, dtype) for k, v in task.net.state_dict().items()},
        "model_config": json.dumps(config, sort_keys=True, default=list),
        "hparams": json.dumps(hparams, sort_keys=True, default=list),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        torch.save(payload, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _stored(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """A weight as stored: on the CPU, contiguous, floating point in ``dtype`` when one is given."""
    tensor = tensor.detach().cpu()
    if dtype is not None and tensor.is_floating_point():
        tensor = tensor.to(dtype)
    return tensor.contiguous()


def method_name(task) -> str:
    """The method name of a loaded task: the model config's ``name`` (``deepfnf``, ``nfonly``, ...)."""
    config = task.hparams.get("model_config") or {}
    return str(config.get("name") or type(task.net).__name__.lower())
