"""The trained models that ship inside the package: ``fnflight models`` lists them, ``model=NAME`` uses one
(``fnflight enhance``, ``fnflight eval``, ``fnflight export``) without training and without a download.

Each model is two files in this folder:

- ``NAME.pt``: a weights-only file (:func:`fnflight.model_io.checkpoint.save_weights`, float16 tensors: a few
  MB), read with ``torch.load(weights_only=True)``: nothing is unpickled;
- ``NAME.md``: its model card: the committed command that trained it, its data, the commit, its test table.

A model is added by writing both files (``fnflight export ckpt=... out=src/fnflight/models/NAME.pt
dtype=float16`` and the card by hand); nothing here lists them by name.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["MODELS_DIR", "ModelNotFoundError", "available", "card", "checkpoint_path", "resolve"]

MODELS_DIR = Path(__file__).resolve().parent


class ModelNotFoundError(ValueError):
    """A ``model=NAME`` that is not a shipped model (the message lists the valid ones)."""


def available() -> dict[str, Path]:
    """``{name: weights path}`` of the shipped models that have both their weights and their card, by name."""
    return {p.stem: p for p in sorted(MODELS_DIR.glob("*.pt")) if p.with_suffix(".md").is_file()}


def resolve(name: str) -> Path:
    """The weights file of the shipped model ``name``; :class:`ModelNotFoundError` lists the valid names."""
    models = available()
    if name not in models:
        valid = ", ".join(models) or "(none: this install ships no models)"
        raise ModelNotFoundError(f"no shipped model {name!r}; valid: {valid} (list them: fnflight models)")
    return models[name]


def card(name: str) -> str:
    """The model card (Markdown) of the shipped model ``name``."""
    return resolve(name).with_suffix(".md").read_text()


def checkpoint_path(ckpt: str | None, model: str | None) -> str:
    """The checkpoint a command's ``ckpt=PATH`` / ``model=NAME`` pair names (exactly one of them):
    :class:`ModelNotFoundError` for an unknown name, ``ValueError`` when both or neither are given."""
    if ckpt and model:
        raise ValueError("pass ckpt=PATH or model=NAME, not both")
    if model:
        return str(resolve(model))
    if not ckpt:
        raise ValueError("missing ckpt=PATH (or model=NAME, a shipped model: fnflight models)")
    return str(ckpt)
