"""Burst DataModule: synthetic hand-held bursts from one image (paper 002 "KPN"; NOTES "KPN", "BPN").

Per sample, on the device (:meth:`BurstDataModule.degrade`):

1. the clean linear crop (read with a margin of ``large`` + 2 px on every side so shifted frames have real
   content at their borders); with ``linearize="gamma"`` (default, NOTES: KPN linearises its internet images
   with gamma 2.2) the source's sRGB-linearised values are re-encoded and expanded with gamma 2.2;
   ``"srgb"`` keeps the source's own linearisation. With ``grayscale`` (the paper's setting: grey bursts)
   the crop becomes its luminance (Rec. 709 weights), carried in the three channels of the RGB nets as
   three equal values, frames and noise included (one draw per pixel, not per channel);
2. white level ``w = 10**U(-1, 0)`` (BPN/KPN code): the clean image is scaled by ``w``;
3. ``N`` frames (default 8): frame 0 is the reference (no shift); the others are translated
   (:func:`fnflight.imaging.sample_burst_offsets`): small ``U(-2, 2)`` px, or with probability
   ``p = min(Poisson(1.5) / N, 1)`` large ``U(-16, 16)`` px, in quarter-pixel steps; then cropped to ``crop``;
4. independent noise per frame, ``std_read = 10**U(-3, -1.5)``, ``std_shot = 10**U(-2, -1)``;
5. noise estimate from the noisy reference frame ``sqrt(std_read^2 + std_shot^2 max(burst_0, 0))``, one
   channel: the root of the channel-mean variance (KPN's frames are grey; ours are RGB);
6. ``target = w * clean`` (reference frame), ``gain = 1 / w`` (KPN renders after dividing by the white level),
   ``color_matrix`` from the source (identity for photos).

Validation / test (paper 002's protocol: fixed noise levels, the last one outside the training range):
every image once per level ``g`` of ``test_levels`` (default 1, 2, 4, 8, like the paper's gains), with
``std_read = read_at_gain1 * g`` and ``std_shot = shot_at_gain1 * sqrt(g)`` (a gain multiplies the signal
per photo-electron: read noise in proportion, shot noise with its square root). The gain-1 stds
(``10**-2.1``, ``10**-1.3``) are our choice, so that gains 1, 2 and 4 lie inside the training ranges (4 at
their top: ``10**-1.5``, ``10**-1.0``) and gain 8 beyond them (``10**-1.2``, ``10**-0.85``), as in the paper;
the other draws (white level, jitter, noise) are deterministic per image. ``test_levels=None`` draws the
levels from the training ranges instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from fnflight import imaging

from . import batch as K
from .base import LowLightDataModule

__all__ = ["LEVEL_NOISE", "TEST_LEVELS", "BurstDataModule"]

_LUMA = torch.tensor([0.2126, 0.7152, 0.0722])  # Rec. 709 luminance of linear RGB
TEST_LEVELS = (1.0, 2.0, 4.0, 8.0)  # paper 002: test gains 1, 2, 4, 8 (8 outside the training range)
LEVEL_NOISE = (10**-2.1, 10**-1.3)  # (std_read, std_shot) at gain 1: our choice (module docstring)


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
        test_levels: validation / test noise levels (gains; module docstring); ``None``: random levels.
        grayscale: grey bursts (the paper's setting; module docstring, step 1).
        level_noise: ``(std_read, std_shot)`` at gain 1.
    """

    def __init__(
        self,
        crop: int = 128,
        batch_size: int = 4,
        frames: int = 8,
        linearize: str = "gamma",
        gamma: float = 2.2,
        small: float = 2.0,
        large: float = 16.0,
        p_large_mean: float = 1.5,
        quarter_pixel: bool = True,
        read_range: Sequence[float] = (-3.0, -1.5),
        shot_range: Sequence[float] = (-2.0, -1.0),
        white_level_range: Sequence[float] = (-1.0, 0.0),
        test_levels: Sequence[float] | None = TEST_LEVELS,
        level_noise: Sequence[float] = LEVEL_NOISE,
        grayscale: bool = False,
        **loader: Any,
    ) -> None:
        if int(frames) < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if linearize not in ("srgb", "gamma"):
            raise ValueError(f"linearize must be 'srgb' or 'gamma', got {linearize!r}")
        if test_levels is not None and (not test_levels or min(float(g) for g in test_levels) <= 0):
            raise ValueError(f"test_levels must be positive gains or null, got {test_levels}")
        if len(level_noise) != 2 or min(float(v) for v in level_noise) < 0:
            raise ValueError(f"level_noise must be (std_read, std_shot) >= 0, got {tuple(level_noise)}")
        self.margin = int(large) + 2
        super().__init__(crop=crop, batch_size=batch_size, **loader)
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
        self.test_levels = None if test_levels is None else [float(g) for g in test_levels]
        self.level_noise = (float(level_noise[0]), float(level_noise[1]))
        self.grayscale = bool(grayscale)

    def eval_variants(self) -> dict[str, Sequence[float]] | None:
        return None if self.test_levels is None else {K.LEVEL: self.test_levels}

    def level_stds(self, level: Tensor) -> tuple[Tensor, Tensor]:
        """``(std_read, std_shot)`` at the gains ``level`` ``(B,)`` (module docstring)."""
        return self.level_noise[0] * level, self.level_noise[1] * level.sqrt()

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
            "test_levels": self.test_levels,
            "grayscale": self.grayscale,
            "level_noise_at_gain1": list(self.level_noise),
            "level_model": "std_read = level_noise[0] * g, std_shot = level_noise[1] * sqrt(g)",
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
        if self.grayscale:  # luminance, one channel until the end (frames and noise alike grey)
            image = (image * _LUMA.to(dev, dt)[None, :, None, None]).sum(1, keepdim=True)
        white = imaging.sample_log_uniform(*self.white_level_range, (b,), generator, gdev).to(dev, dt)
        clean = image * white[:, None, None, None]
        n = self.frames
        offsets = imaging.sample_burst_offsets(b, n, generator, device=gdev, **self.jitter).to(dev, dt)
        frames = imaging.translate_image(clean[:, None].expand(b, n, *clean.shape[1:]).contiguous(), offsets)
        if m:
            frames = frames[..., m : hp - m, m : wp - m]
            clean = clean[..., m : hp - m, m : wp - m]
            image = image[..., m : hp - m, m : wp - m]
        if stage != "train" and K.LEVEL in batch:  # the fixed test levels (paper 002's gains)
            std_read, std_shot = self.level_stds(batch[K.LEVEL].to(dev, dt).reshape(b))
        else:
            std_read, std_shot = imaging.sample_noise_params(
                b, self.read_range, self.shot_range, generator, gdev
            )
            std_read, std_shot = std_read.to(dev, dt), std_shot.to(dev, dt)
        noisy = imaging.add_heteroscedastic_noise(
            frames.flatten(0, 1), std_read.repeat_interleave(n), std_shot.repeat_interleave(n), generator
        ).unflatten(0, (b, n))
        var = imaging.noise_std_map(noisy[:, 0], std_read, std_shot).square().mean(1, keepdim=True)
        if self.grayscale:  # three equal channels for the RGB nets, losses and rendering
            noisy, clean, image = (
                noisy.expand(-1, -1, 3, -1, -1),
                clean.expand(-1, 3, -1, -1),
                image.expand(-1, 3, -1, -1),
            )
        out[K.AMBIENT] = image
        out[K.BURST] = noisy
        out[K.NOISE_STD] = var.sqrt()
        out[K.TARGET] = clean
        out[K.GAIN] = 1.0 / white
        out[K.WHITE_LEVEL] = white
        out[K.STD_READ], out[K.STD_SHOT] = std_read, std_shot
        out[K.OFFSETS] = offsets
        return out
