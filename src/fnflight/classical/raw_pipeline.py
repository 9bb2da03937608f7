"""SID's "traditional pipeline" (paper 004 sec. 4, Fig. 5-7): the amplified raw through a classical ISP,
and the same after a classical denoiser. ``fnflight eval`` reports them as the floors ``traditional`` and
``traditional_denoise`` of every raw test set.

``traditional``: the packed, black-level-subtracted raw amplified by the ratio (what the network gets) is
unpacked to its mosaic, demosaicked bilinearly (:func:`fnflight.imaging.demosaic_bilinear`), white-balanced,
colour-corrected and gamma-encoded (:func:`fnflight.imaging.render_camera_rgb`) with the capture's own
``wb_gains`` / ``color_matrix`` / ``tone_curve`` (batch keys). For synthetic raw these are the true camera
parameters of the unprocessing, so the floor has no colour bias (SID instead gave its baselines the
reference's white balance and per-channel means, "privileged information").

``traditional_denoise``: the same after denoising the amplified packed raw with the TRUE noise level.
The noise is Poisson-Gaussian, so it is first made homoscedastic with the generalised Anscombe transform
(amplified units: variance ``a m + s^2`` with ``a = ratio std_shot^2``, ``s = ratio std_read``; after the
transform unit variance), denoised, and brought back with the closed-form approximation of the exact unbiased
inverse (Makitalo & Foi, IEEE TIP 2013). Denoiser: scikit-image's non-local means with ``sigma = 1`` and
``h = 0.8 sigma`` (scikit-image's advice for a known sigma), patches compared over all packed colour planes
at once. Why NLM and not scikit-image's wavelet denoiser: the planes see one scene, so a patch match found in
all of them at once averages many pixels of the same structure, where wavelet shrinkage thresholds each
coefficient on its own; and the wavelet denoiser needs PyWavelets, which fnflight does not depend on.
Denoising the raw before demosaicking keeps the noise white (demosaicking and the colour matrix would
correlate it).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from fnflight import imaging

__all__ = ["traditional_denoise", "traditional_isp", "unpack_raw", "vst_denoise"]

_RGGB = torch.tensor([[0, 1], [1, 2]])


def unpack_raw(packed: Tensor, bayer_order: str = "raster") -> tuple[Tensor, Tensor]:
    """Packed raw ``(B, 4, h, w)`` (Bayer, RGGB phase) or ``(B, 9, h, w)`` (X-Trans) -> the mosaic
    ``(B, 1, f h, f w)`` and its CFA tile (colour indices).

    Example:
        >>> mosaic, cfa = unpack_raw(torch.rand(1, 4, 3, 5))
        >>> tuple(mosaic.shape), cfa.tolist()
        ((1, 1, 6, 10), [[0, 1], [1, 2]])
    """
    if not isinstance(packed, Tensor) or packed.ndim != 4 or packed.shape[1] not in (4, 9):
        raise ValueError(
            f"packed must be a (B, 4, h, w) Bayer or (B, 9, h, w) X-Trans tensor, got "
            f"{tuple(getattr(packed, 'shape', ()))}"
        )
    if packed.shape[1] == 4:
        return imaging.unpack_bayer(packed, bayer_order), _RGGB
    return imaging.unpack_xtrans(packed), imaging.XTRANS_CFA


def traditional_isp(
    packed: Tensor,
    wb_gains: Tensor,
    color_matrix: Tensor,
    tone_curve: Tensor | bool = False,
    bayer_order: str = "raster",
) -> Tensor:
    """The classical forward ISP of an amplified packed raw: unpack, bilinear demosaic, white balance, colour
    matrix, gamma (and the tone curve where ``tone_curve``); returns sRGB ``(B, 3, f h, f w)`` in [0, 1].

    Example:
        >>> out = traditional_isp(torch.full((1, 4, 4, 4), 0.2), torch.ones(1, 3), torch.eye(3)[None])
        >>> tuple(out.shape), round(float(out.mean()), 4)
        ((1, 3, 8, 8), 0.4812)
    """
    mosaic, cfa = unpack_raw(packed.float(), bayer_order)
    rgb = imaging.demosaic_bilinear(mosaic, cfa)
    return imaging.render_camera_rgb(rgb, wb_gains.float(), color_matrix.float(), tone_curve)


def _anscombe(y: np.ndarray, a: float, s: float) -> np.ndarray:
    return 2.0 / a * np.sqrt(np.maximum(a * y + 0.375 * a * a + s * s, 0.0))


def _inverse_anscombe(z: np.ndarray, a: float, s: float) -> np.ndarray:
    """Closed-form approximation of the exact unbiased inverse (Makitalo & Foi 2013), in units of ``a``."""
    z = np.maximum(z, 0.8)  # the approximation holds for z >~ 1; below that the signal is ~0 anyway
    r = math.sqrt(1.5)
    y = 0.25 * z**2 + 0.25 * r / z - 11.0 / 8.0 / z**2 + 5.0 / 8.0 * r / z**3 - 0.125 - (s / a) ** 2
    return np.maximum(y, 0.0) * a


def vst_denoise(packed: Tensor, ratio: Tensor, std_read: Tensor, std_shot: Tensor) -> Tensor:
    """Denoise an amplified packed raw ``(B, C, h, w)`` given its true noise (module docstring).

    Args:
        packed: amplified packed raw (``min(ratio * dark, 1)``).
        ratio: ``(B,)`` amplification ratios.
        std_read, std_shot: ``(B,)`` noise stds of the dark capture (normalised raw units, before
            amplification).

    Returns:
        The denoised packed raw, same shape, clipped to ``[0, 1]``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> clean = torch.full((1, 4, 32, 32), 0.3)
        >>> noisy = clean + 0.05 * torch.randn(1, 4, 32, 32, generator=g)
        >>> out = vst_denoise(noisy, torch.tensor([100.0]), torch.tensor([5e-4]), torch.tensor([1e-3]))
        >>> bool((out - clean).abs().mean() < 0.5 * (noisy - clean).abs().mean())
        True
    """
    from skimage.restoration import denoise_nl_means

    if packed.ndim != 4:
        raise ValueError(f"packed must have shape (B, C, h, w), got {tuple(packed.shape)}")
    out = torch.empty_like(packed)
    for b in range(len(packed)):
        r = float(ratio.reshape(-1)[b])
        a = max(r * float(std_shot.reshape(-1)[b]) ** 2, 1e-12)
        s = r * float(std_read.reshape(-1)[b])
        y = packed[b].detach().double().cpu().numpy().transpose(1, 2, 0)
        z = _anscombe(y, a, s)
        den = denoise_nl_means(
            z, patch_size=5, patch_distance=6, h=0.8, sigma=1.0, fast_mode=True, channel_axis=-1
        )
        back = _inverse_anscombe(np.asarray(den), a, s).clip(0.0, 1.0)
        out[b] = torch.from_numpy(back.transpose(2, 0, 1).copy()).to(out)
    return out


def traditional_denoise(
    packed: Tensor,
    ratio: Tensor,
    std_read: Tensor,
    std_shot: Tensor,
    wb_gains: Tensor,
    color_matrix: Tensor,
    tone_curve: Tensor | bool = False,
    bayer_order: str = "raster",
) -> Tensor:
    """:func:`vst_denoise` then :func:`traditional_isp`: sRGB ``(B, 3, f h, f w)``."""
    den = vst_denoise(packed, ratio, std_read, std_shot)
    return traditional_isp(den, wb_gains, color_matrix, tone_curve, bayer_order)
