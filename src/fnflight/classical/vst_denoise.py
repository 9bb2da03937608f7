"""Classical denoising of Poisson-Gaussian noise given its level: variance stabilisation + non-local means.

The floor denoiser of the raw (SID's ``traditional_denoise``) and burst (``reference_denoise``) tables.
An image ``y`` whose noise has variance ``a m + s^2`` at mean ``m`` (``a = gain std_shot^2``,
``s = gain std_read``: the stds of the capture before a ``gain``, e.g. SID's amplification ratio) is made
homoscedastic with the generalised Anscombe transform (unit variance), denoised, and brought back with the
closed-form approximation of the exact unbiased inverse (Makitalo & Foi, IEEE TIP 2013). Denoiser:
scikit-image's non-local means with ``sigma = 1`` and ``h = 0.8 sigma`` (scikit-image's advice for a known
sigma), patches compared over all channels at once. Why NLM and not scikit-image's wavelet denoiser: the
channels see one scene, so a patch match found in all of them at once averages many pixels of the same
structure, where wavelet shrinkage thresholds each coefficient on its own; and the wavelet denoiser needs
PyWavelets, which fnflight does not depend on.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = ["vst_denoise"]


def _anscombe(y: np.ndarray, a: float, s: float) -> np.ndarray:
    return 2.0 / a * np.sqrt(np.maximum(a * y + 0.375 * a * a + s * s, 0.0))


def _inverse_anscombe(z: np.ndarray, a: float, s: float) -> np.ndarray:
    """Closed-form approximation of the exact unbiased inverse (Makitalo & Foi 2013), in units of ``a``."""
    z = np.maximum(z, 0.8)  # the approximation holds for z >~ 1; below that the signal is ~0 anyway
    r = math.sqrt(1.5)
    y = 0.25 * z**2 + 0.25 * r / z - 11.0 / 8.0 / z**2 + 5.0 / 8.0 * r / z**3 - 0.125 - (s / a) ** 2
    return np.maximum(y, 0.0) * a


def vst_denoise(packed: Tensor, ratio: Tensor, std_read: Tensor, std_shot: Tensor) -> Tensor:
    """Denoise ``(B, C, h, w)`` in [0, 1] given its true noise (module docstring).

    Args:
        packed: the noisy image, e.g. an amplified packed raw (``min(ratio * dark, 1)``) or a linear frame.
        ratio: ``(B,)`` gains applied after the capture (SID's amplification ratio; 1 for none).
        std_read, std_shot: ``(B,)`` noise stds of the capture (before ``ratio``).

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
