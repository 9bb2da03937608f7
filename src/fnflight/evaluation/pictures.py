"""Pictures of what a model does: grids of sRGB panels, saved as PNG and sent to wandb when it is a logger.

A grid has one row per sample and one column per panel (e.g. noisy no-flash brightened | flash | output |
target | filtered | scale map). PNG files always go under ``<run dir>/images/`` (the Trainer's
``default_root_dir``): the CSV logger cannot hold images. When a ``WandbLogger`` is attached, the same grid is
logged with ``log_image`` (offline runs keep it under ``<run dir>/wandb/.../files/media/images``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = ["grid", "log_grid", "normalise_map", "save_png", "to_uint8"]


def to_uint8(image: Tensor) -> np.ndarray:
    """``(3, H, W)`` float in ``[0, 1]`` -> ``(H, W, 3)`` ``uint8`` (clipped, rounded).

    Example:
        >>> to_uint8(torch.ones(3, 1, 2)).tolist()
        [[[255, 255, 255], [255, 255, 255]]]
    """
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"image must have shape (3, H, W) or (1, H, W), got {tuple(image.shape)}")
    image = image.detach().float().cpu().clamp(0, 1).expand(3, -1, -1)
    return (image.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)


def save_png(path: str | Path, image: Tensor) -> Path:
    """Write a ``(3, H, W)`` sRGB image in ``[0, 1]`` as an 8-bit PNG; creates the folder. Returns the
    path."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(image)).save(path)
    return path


def normalise_map(x: Tensor) -> Tensor:
    """Show a positive map (e.g. DeepFnF's scale map) in ``[0, 1]``: divide each image by its 99th percentile.

    Example:
        >>> normalise_map(torch.full((1, 3, 2, 2), 4.0)).max().item()
        1.0
    """
    flat = x.detach().float().flatten(1)
    top = torch.quantile(flat.abs(), 0.99, dim=1).clamp_min(1e-8)
    return (x.float() / top.reshape(-1, *([1] * (x.ndim - 1)))).clamp(0, 1)


def grid(panels: Sequence[Tensor], max_rows: int = 4, pad: int = 2) -> Tensor:
    """Tile panels ``(B, 3, H, W)`` (all one size) into one ``(3, H', W')`` image: a row per sample.

    Example:
        >>> grid([torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4)], pad=1).shape
        torch.Size([3, 9, 9])
    """
    if not panels:
        raise ValueError("panels must hold at least one (B, 3, H, W) tensor, got none")
    rows = min(max_rows, len(panels[0]))
    _, _, h, w = panels[0].shape
    out = torch.ones(3, rows * h + (rows - 1) * pad, len(panels) * w + (len(panels) - 1) * pad)
    for j, panel in enumerate(panels):
        if panel.shape[-2:] != (h, w):
            raise ValueError(f"panel {j} has size {tuple(panel.shape[-2:])}, expected {(h, w)}")
        for i in range(rows):
            y, x = i * (h + pad), j * (w + pad)
            out[:, y : y + h, x : x + w] = panel[i].detach().float().cpu().clamp(0, 1).expand(3, -1, -1)
    return out


def log_grid(module, image: Tensor, key: str, caption: str = "") -> Path | None:
    """Save ``image`` as ``<run dir>/images/<key with / -> _>_step<N>.png`` and log it to any wandb logger.

    ``module`` is a LightningModule attached to a Trainer; only global rank 0 writes. Returns the PNG path.
    """
    trainer = getattr(module, "_trainer", None)
    if trainer is None or not trainer.is_global_zero:
        return None
    step = int(trainer.global_step)
    root = Path(trainer.default_root_dir)
    path = save_png(root / "images" / f"{key.replace('/', '_')}_step{step:07d}.png", image)
    for logger in trainer.loggers:
        if type(logger).__name__ == "WandbLogger":
            try:
                logger.log_image(key=key, images=[to_uint8(image)], caption=[caption], step=step)
            except Exception as err:  # a logging failure must not stop training
                warnings.warn(f"could not log image {key!r} to wandb: {err}", stacklevel=2)
    return path
