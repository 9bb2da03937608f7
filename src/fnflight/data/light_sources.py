"""A deterministic light-source test set: synthetic flash/no-flash pairs whose scenes hold light sources.

Real night captures nearly always show a lamp, a flame or a glint, and the nets must keep their colour
there (issue 22: ``deepfnf`` painted blue and green blotches on light sources).
:func:`make_light_source_pairs`
turns given photos (Kodak24 and BSDS500 val for ``fnflight bench color-artifacts``) into flash/no-flash
pairs made by the training synthesis (:mod:`fnflight.data.flash_synthesis`) with light sources in every
scene (``light_share = 1``, spread over the crop: ``reference_size`` = the crop's side; a photo whose draw
puts no source bright enough to clip at every dim, ``max(dims)`` ambient units, inside its crop draws again
from the next seed, up to 32 times),
degraded by the FnF test protocol (:meth:`fnflight.data.fnf.FlashNoFlashDataModule.degrade`, paper 000
sec. 4.2: the test dims and noise, a shake homography, both captures clipped at the white level).
Deterministic: every draw comes from a generator seeded by ``sample_seed(seed, index, attempt)``, computed
on the CPU in float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import batch as K
from .base import sample_seed
from .flash_synthesis import FlashSynthesis, synthesize_flash_pair
from .fnf import TEST_DIMS, FlashNoFlashDataModule
from .sources import read_linear

__all__ = ["make_light_source_pairs"]

_ATTEMPTS = 32


@torch.no_grad()
def make_light_source_pairs(
    paths: Sequence[str | Path],
    seed: int = 0,
    crop: int = 448,
    dims: Sequence[float] = TEST_DIMS,
    flash_synthesis: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Synthetic pairs with light sources from ``paths`` (module docstring), one per (photo, dim).

    Args:
        paths: photo files (8-bit sRGB or 16-bit linear, read by :func:`~fnflight.data.sources.read_linear`).
        seed: the seed of every draw.
        crop: side of the centre crop (a smaller photo gives its largest centred square).
        dims: the dims of each pair (paper 000's test dims by default); the draws are shared across dims.
        flash_synthesis: further :class:`~fnflight.data.flash_synthesis.FlashSynthesis` ranges.

    Returns:
        a list of dicts, photo-major then dim: ``name`` (file name), ``dim``, the FnF batch keys
        (:mod:`fnflight.data.batch`) with a batch dimension of 1 (``noflash``, ``flash``, ``noflash_std``,
        ``flash_std``, ``target``, ``gain``, ``color_matrix``, ``homography``, ...), and ``lights``
        ``(1, 1, crop, crop)``, the emissive luminance in the crop (ambient units).

    Example:
        >>> import tempfile, numpy as np
        >>> from fnflight.data.sources import write_png
        >>> d = tempfile.mkdtemp(); write_png(f"{d}/a.png", np.full((40, 40, 3), 128, np.uint8))
        >>> pairs = make_light_source_pairs([f"{d}/a.png"], seed=0, crop=32, dims=[12.5])
        >>> len(pairs), tuple(pairs[0]["noflash"].shape), float(pairs[0]["target"].amax())
        (1, (1, 3, 32, 32), 1.0)
    """
    out: list[dict[str, Any]] = []
    for index, path in enumerate(paths):
        photo = read_linear(path)
        side = min(int(crop), *photo.shape[:2])
        cfg = FlashSynthesis(**{"reference_size": float(side), **(flash_synthesis or {}), "light_share": 1.0})
        dm = FlashNoFlashDataModule(
            source=_NoSource(),
            val_source=_NoSource(),
            crop=side,
            num_workers=0,
            seed=int(seed),
            white_level=1.0,
        )  # the pair comes made (synthesised here): clip as for every synthesised pair
        margin = dm.read_margin("test")
        window = torch.from_numpy(_window(photo, side, margin)).permute(2, 0, 1)[None]
        for attempt in range(_ATTEMPTS):
            g = torch.Generator().manual_seed(sample_seed(seed, "lights", index, attempt))
            pair = synthesize_flash_pair(window, g, cfg, details=False)
            lights = pair["lights"][..., margin : margin + side, margin : margin + side]
            if float(lights.amax()) >= max(float(d) for d in dims):
                break
        for dim in dims:
            batch = {
                K.AMBIENT: pair["ambient"],
                K.FLASH_ONLY: pair["flash_only"],
                K.COLOR_MATRIX: torch.eye(3)[None],
                K.INDEX: torch.tensor([index]),
                K.DIM: torch.tensor([float(dim)]),
            }
            g = torch.Generator().manual_seed(sample_seed(seed, "degrade", index))
            degraded = dm.degrade(batch, g, "test")
            out.append({"name": Path(path).name, "dim": float(dim), **degraded, "lights": lights})
    return out


def _window(photo: np.ndarray, side: int, margin: int) -> np.ndarray:
    """The centre ``side`` crop with ``margin`` px of the photo around it (mirrored where it ends)."""
    h, w = photo.shape[:2]
    top, left = (h - side) // 2 - margin, (w - side) // 2 - margin
    size = side + 2 * margin
    t0, l0, t1, l1 = max(top, 0), max(left, 0), min(top + size, h), min(left + size, w)
    pads = ((t0 - top, top + size - t1), (l0 - left, left + size - l1), (0, 0))
    return np.ascontiguousarray(np.pad(photo[t0:t1, l0:l1], pads, mode="reflect"))


class _NoSource(torch.utils.data.Dataset):
    """A placeholder source: the DataModule here only degrades given batches."""

    def __len__(self) -> int:
        return 0

    def __getitem__(self, i: int) -> Tensor:  # pragma: no cover - never read
        raise IndexError(i)
