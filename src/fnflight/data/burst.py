"""Burst DataModule: synthetic hand-held bursts from one image (paper 002 "KPN"; NOTES "KPN", "BPN").

Per sample, on the device (:meth:`BurstDataModule.degrade`):

1. the clean linear crop (read with a margin of ``large`` + 2 px on every side so shifted frames have real
   content at their borders); with ``linearize="gamma"`` the source's sRGB-linearised values are re-encoded
   and expanded with gamma 2.2 instead, as KPN does with internet images (meaningful for 8-bit sources);
2. white level ``w = 10**U(-1, 0)`` (BPN/KPN code): the clean image is scaled by ``w``;
3. ``N`` frames (default 8): frame 0 is the reference (no shift); the others are translated
   (:func:`fnflight.imaging.sample_burst_offsets`): small ``U(-2, 2)`` px, or with probability
   ``p = min(Poisson(1.5) / N, 1)`` large ``U(-16, 16)`` px, in quarter-pixel steps; then cropped to ``crop``;
4. independent noise per frame, ``std_read = 10**U(-3, -1.5)``, ``std_shot = 10**U(-2, -1)``;
5. noise estimate from the noisy reference frame ``sqrt(std_read^2 + std_shot^2 max(burst_0, 0))``, one
   channel: the root of the channel-mean variance (KPN's frames are grey; ours are RGB);
6. ``target = w * clean`` (reference frame), ``gain = 1 / w`` (KPN renders after dividing by the white level),
   ``color_matrix`` from the source (identity for photos).

Validation / test are deterministic (per-sample seeded generator, same ranges): KPN's own synthetic test
levels are not published in NOTES, so no fixed levels are invented here; the manifest records the draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from fnflight import imaging

from . import batch as K
from .base import DEFAULT_NUM_WORKERS, LowLightDataModule

__all__ = ["BurstDataModule"]


class BurstDataModule(LowLightDataModule):
    """Synthetic bursts (module docstring). Batch keys: ``burst``, ``noise_std``, ``target``, ``gain``,
    ``color_matrix``, ``std_read``, ``std_shot``, ``white_level``, ``index`` (and the clean ``ambient``).

    Args:
        source, val_source, test_source, batch_size, val_batch_size, num_workers, seed, augment, limit_val:
            see :class:`~fnflight.data.base.LowLightDataModule`.
        crop: patch size (KPN trains on 128 px patches).
        frames: burst length N (KPN: 8).
        linearize: ``"srgb"`` (keep the source's linearisation) or ``"gamma"`` (gamma 2.2 as KPN).
        gamma: the gamma of ``linearize="gamma"``.
        small, large, p_large_mean, quarter_pixel: jitter (see :func:`fnflight.imaging.sample_burst_offsets`).
        read_range, shot_range: log10 ranges of the noise stds.
        white_level_range: log10 range of the white level.
    """

    def __init__(
        self,
        source: Any = None,
        val_source: Any = None,
        test_source: Any = None,
        crop: int = 128,
        batch_size: int = 4,
        val_batch_size: int | None = None,
        num_workers: int = DEFAULT_NUM_WORKERS,
        seed: int = 0,
        augment: bool = True,
        limit_val: int | None = None,
        frames: int = 8,
        linearize: str = "srgb",
        gamma: float = 2.2,
        small: float = 2.0,
        large: float = 16.0,
        p_large_mean: float = 1.5,
        quarter_pixel: bool = True,
        read_range: Sequence[float] = (-3.0, -1.5),
        shot_range: Sequence[float] = (-2.0, -1.0),
        white_level_range: Sequence[float] = (-1.0, 0.0),
    ) -> None:
        if int(frames) < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if linearize not in ("srgb", "gamma"):
            raise ValueError(f"linearize must be 'srgb' or 'gamma', got {linearize!r}")
        self.margin = int(large) + 2
        super().__init__(
            source,
            val_source,
            test_source,
            crop,
            batch_size,
            val_batch_size,
            num_workers,
            seed,
            augment,
            limit_val,
        )
        self.frames, self.linearize, self.gamma = int(frames), linearize, float(gamma)
        self.jitter = {
            "small": float(small),
            "large": float(large),
            "p_large_mean": float(p_large_mean),
            "quarter_pixel": bool(quarter_pixel),
        }
        self.read_range = (float(read_range[0]), float(read_range[1]))
        self.shot_range = (float(shot_range[0]), float(shot_range[1]))
        self.white_level_range = (float(white_level_range[0]), float(white_level_range[1]))

    def protocol(self) -> dict[str, Any]:
        """The degradation parameters (for test-set manifests)."""
        return {
            "paper": "002 (KPN), NOTES KPN/BPN",
            "frames": self.frames,
            "linearize": self.linearize,
            "gamma": self.gamma,
            "jitter": self.jitter,
            "read_range_log10": list(self.read_range),
            "shot_range_log10": list(self.shot_range),
            "white_level_range_log10": list(self.white_level_range),
        }

    def degrade(self, batch: dict[str, Tensor], generator: torch.Generator, stage: str) -> dict[str, Tensor]:
        """Add ``burst``, ``noise_std``, ``target``, ``gain``, ``white_level``, ``std_read``, ``std_shot``."""
        out = dict(batch)
        image = batch[K.AMBIENT]
        b, _, hp, wp = image.shape
        dev, gdev, dt = image.device, generator.device, image.dtype
        m = (hp - self.crop) // 2 if hp > self.crop else 0
        if self.linearize == "gamma":
            image = imaging.gamma_expand(imaging.srgb_from_linear(image.clamp(0, 1)), self.gamma)
        white = imaging.sample_log_uniform(*self.white_level_range, (b,), generator, gdev).to(dev, dt)
        clean = image * white[:, None, None, None]
        n = self.frames
        offsets = imaging.sample_burst_offsets(b, n, generator, device=gdev, **self.jitter).to(dev, dt)
        frames = imaging.translate_image(clean[:, None].expand(b, n, *clean.shape[1:]).contiguous(), offsets)
        if m:
            frames = frames[..., m : hp - m, m : wp - m]
            clean = clean[..., m : hp - m, m : wp - m]
            image = image[..., m : hp - m, m : wp - m]
        std_read, std_shot = imaging.sample_noise_params(b, self.read_range, self.shot_range, generator, gdev)
        std_read, std_shot = std_read.to(dev, dt), std_shot.to(dev, dt)
        noisy = imaging.add_heteroscedastic_noise(
            frames.flatten(0, 1), std_read.repeat_interleave(n), std_shot.repeat_interleave(n), generator
        ).unflatten(0, (b, n))
        var = imaging.noise_std_map(noisy[:, 0], std_read, std_shot).square().mean(1, keepdim=True)
        out[K.AMBIENT] = image
        out[K.BURST] = noisy
        out[K.NOISE_STD] = var.sqrt()
        out[K.TARGET] = clean
        out[K.GAIN] = 1.0 / white
        out[K.WHITE_LEVEL] = white
        out[K.STD_READ], out[K.STD_SHOT] = std_read, std_shot
        out[K.OFFSETS] = offsets
        return out
