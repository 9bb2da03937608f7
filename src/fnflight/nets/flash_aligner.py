"""A learned flash-to-no-flash aligner (an fnflight extension, NOT in paper 000; off in the faithful configs).

Why: DeepFnF's flash is shaken by a homography (paper 000 sec. 4.1: up to 20 px in training), and on our CPU
budget the nets learn to ignore a misaligned flash (benchmarks/results/fnf_quality_cpu). Plain intensity
registration fails on flash/no-flash pairs: the two are lit differently, so their intensities (even their
high-passes) disagree (OpenCV ECC left 9-19 px on real FAID pairs, issue 15). The data engine knows every
warp, so a net can LEARN features on which the two images agree, with the true homography as supervision.

Design: two small CNNs (one per modality: the flash and the no-flash image are different signals) map each
image, divided by its mean (exposure-invariant), with its relative noise level, to ``features`` channels at
half resolution; a global translation search (:func:`fnflight.ops.lucas_kanade.translation_search`, at a
coarse level: Lucas-Kanade alone lost pairs shaken by ~20 px) starts a coarse-to-fine inverse compositional
Lucas-Kanade (:func:`fnflight.ops.lucas_kanade.lucas_kanade_homography`: translation, then affine, then the
8-parameter homography at the finest level) on average-pooled pyramids of the two feature maps. The whole
chain is differentiable, so the feature CNNs are trained through the solver on the residual displacement
(:class:`fnflight.tasks.flash_alignment.FlashAlignmentTask`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fnflight.ops.lucas_kanade import (
    MOTIONS,
    lucas_kanade_homography,
    pixel_homography,
    translation_search,
)

__all__ = ["FlashAligner", "ModalityFeatures", "log_highpass"]


def log_highpass(image: Tensor) -> Tensor:
    """The classical registration feature: the high-pass (minus a 15 px box blur) of the log mean-RGB
    luminance of the image divided by its mean, after a 3 px box blur against the noise. ``(B, 3, H, W)`` ->
    ``(B, 1, H, W)``."""
    lum = image.mean(1, keepdim=True)
    lum = lum / lum.mean((2, 3), keepdim=True).clamp_min(1e-6)
    lum = torch.log(F.avg_pool2d(lum, 3, 1, 1, count_include_pad=False).clamp_min(0) + 0.05)
    return lum - F.avg_pool2d(lum, 15, 1, 7, count_include_pad=False)


class ModalityFeatures(nn.Module):
    """Image ``(B, 3, H, W)`` + noise std ``(B, 3, H, W)`` -> ``(B, 1 + features, ceil(H/2), ceil(W/2))``.

    Channel 0 is the classical feature (:func:`log_highpass`, pooled to half resolution); the others are
    learned. The learned channels start near zero (the last layer's initial weights x 0.01), so an untrained
    aligner is about the classical coarse-to-fine Lucas-Kanade (the ``classical_lk`` rows of
    benchmarks/results/fnf_alignment) and training only has to add what makes flash and no-flash agree;
    random features at the start made the solver diverge by hundreds of pixels. The CNN's input is the image
    divided by its mean (so the features do not depend on the exposure) and the std map divided by the same
    mean (the relative noise level tells it how much to smooth).
    """

    def __init__(self, width: int = 16, features: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(6, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=2, dilation=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, features, 3, padding=1),
        )
        with torch.no_grad():  # small, not zero: the solver is quadratic in the features, so exactly zero
            self.body[-1].weight.mul_(0.01)  # features would get no gradient (a saddle) and never learn
            self.body[-1].bias.zero_()

    def forward(self, image: Tensor, std: Tensor) -> Tensor:
        mean = image.mean((1, 2, 3), keepdim=True).clamp_min(1e-6)
        learned = self.body(torch.cat([image / mean, std / mean], 1))
        classical = F.avg_pool2d(log_highpass(image), 2, ceil_mode=True)
        return torch.cat([classical, learned], 1)


class FlashAligner(nn.Module):
    """Predict the homography ``A`` with ``flash(A x) ~ noflash(x)`` (the data engine's ``homography``).

    Args:
        width: channel multiplier of the feature CNNs (1.0: 16 channels; the convention of every net).
        features: channels of the feature maps the solver aligns.
        levels: pyramid pooling factors of the half-resolution features, coarse to fine (8: 1/16 of the
            input).
        iterations: Gauss-Newton steps per level.
        motions: the motion model per level (``translation``, ``affine``, ``homography``).
        damping: Levenberg-Marquardt damping of the solver.
        search_level: pooling factor of the level the translation search runs on (``None``: no search).
        search_radius: its largest shift, in px of that level (8 px at 1/4 resolution = 32 input px by
            default; smaller maps search a smaller radius, the smallest none).

    Forward: ``aligner(noflash, flash, noflash_std, flash_std)`` (each ``(B, 3, H, W)``, the flash at the
    no-flash exposure, :func:`fnflight.tasks.fnf.fnf_inputs`) -> ``{"homography": (B, 3, 3) pixel homography
    of the input size, "levels": [(B, 3, 3) after each level]}``.

    >>> aligner = FlashAligner(0.25, 2, levels=(2, 1), iterations=(1, 1), motions=("affine", "homography"))
    >>> x = torch.rand(1, 3, 32, 32) + 0.1
    >>> aligner(x, x, 0.01 * x, 0.01 * x)["homography"].shape
    torch.Size([1, 3, 3])
    """

    def __init__(
        self,
        width: float = 1.0,
        features: int = 8,
        levels: Sequence[int] = (4, 2, 1),
        iterations: Sequence[int] = (8, 6, 4),
        motions: Sequence[str] = ("translation", "affine", "homography"),
        damping: float = 1e-3,
        search_level: int | None = 2,
        search_radius: int = 8,
    ) -> None:
        super().__init__()
        if len(levels) != len(iterations) or len(levels) != len(motions) or not levels:
            raise ValueError(
                f"levels, iterations and motions need one entry per pyramid level, got {list(levels)}, "
                f"{list(iterations)} and {list(motions)}"
            )
        if any(int(f) < 1 for f in levels) or any(int(n) < 1 for n in iterations):
            raise ValueError(
                f"levels and iterations must be positive, got {list(levels)}, {list(iterations)}"
            )
        bad = [m for m in motions if m not in MOTIONS]
        if bad:
            raise ValueError(f"motions must be among {', '.join(MOTIONS)}, got {bad}")
        if search_level is not None and (int(search_level) < 1 or int(search_radius) < 1):
            raise ValueError(
                f"search_level and search_radius must be positive, got {search_level}, {search_radius}"
            )
        self.motions = tuple(motions)
        self.search_level = None if search_level is None else int(search_level)
        self.search_radius = int(search_radius)
        self.levels = tuple(int(f) for f in levels)
        self.iterations = tuple(int(n) for n in iterations)
        self.damping = float(damping)
        channels = max(2, round(16 * float(width)))
        self.noflash_features = ModalityFeatures(channels, features)
        self.flash_features = ModalityFeatures(channels, features)

    def forward(
        self, noflash: Tensor, flash: Tensor, noflash_std: Tensor, flash_std: Tensor
    ) -> dict[str, Tensor | list[Tensor]]:
        if noflash.shape != flash.shape or noflash.ndim != 4:
            raise ValueError(
                f"noflash and flash must be (B, 3, H, W) of one shape, got {tuple(noflash.shape)} and "
                f"{tuple(flash.shape)}"
            )
        h, w = noflash.shape[-2:]
        fixed = self.noflash_features(noflash, noflash_std)
        moving = self.flash_features(flash, flash_std)
        a = None
        if self.search_level is not None:
            f, m = (F.avg_pool2d(x, self.search_level) for x in (fixed, moving))
            radius = min(self.search_radius, (min(f.shape[-2:]) - 1) // 4)  # half the map stays the window
            if radius >= 1:
                a = translation_search(m, f, radius)
        per_level = []
        for factor, steps, motion in zip(self.levels, self.iterations, self.motions, strict=True):
            f, m = (
                (fixed, moving)
                if factor == 1
                else (F.avg_pool2d(fixed, factor), F.avg_pool2d(moving, factor))
            )
            if min(f.shape[-2:]) < 3:  # the image is too small for this level: start at a finer one
                continue
            a = lucas_kanade_homography(m, f, a, steps, self.damping, motion)
            # the normalised coordinates are the same at every level and at the input resolution
            per_level.append(pixel_homography(a, h, w))
        if not per_level:
            raise ValueError(f"the image ({h}x{w}) is too small for the aligner's finest level")
        return {"homography": per_level[-1], "levels": per_level}
