"""Single-image floors of the short/long exposure benchmark (paper 003 Table 1's layout): what the short or
the long exposure gives on its own, without learning. ``fnflight eval`` computes them on every short/long
test set:

- ``noisy_short``: the short exposure brightness-matched to the target (one gain per image, on linear
  intensities: the mean ratio), the "noisy" image of the paper's figures, normalised as the paper shows it;
- ``blurry_long``: the long exposure as captured;
- ``short_denoise``: scikit-image's non-local means on the brightness-matched short exposure, with the noise
  std estimated from the image itself (:func:`fnflight.imaging.estimate_white_noise`, Donoho's MAD of the
  finest diagonal wavelet detail) and ``h = 0.8 sigma`` (scikit-image's advice for a known sigma): the
  paper's single-image denoisers (BM3D, FFDNet) were "manually tuned"; an estimated sigma is the automatic
  stand-in.

Matching uses the target's mean (privileged information, as SID gives its baselines the reference's
brightness): a floor, not a method a user could run on an unseen pair.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["denoise_short", "match_brightness"]


def match_brightness(image: Tensor, reference: Tensor, gamma: float = 2.2) -> Tensor:
    """Scale ``image`` ``(B, 3, H, W)`` so its mean linear intensity is the ``reference``'s (per image).

    ``gamma``: the images' encoding (2.2: display-encoded, the gain is applied in linear; 1: linear).

    Example:
        >>> out = match_brightness(torch.full((1, 3, 2, 2), 0.1), torch.full((1, 3, 2, 2), 0.4), gamma=1.0)
        >>> round(float(out.mean()), 4)
        0.4
    """
    lin = image.float().clamp_min(0) ** gamma
    ref = reference.float().clamp_min(0) ** gamma
    gain = ref.mean(dim=(1, 2, 3), keepdim=True) / lin.mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
    return (lin * gain) ** (1.0 / gamma)


def denoise_short(image: Tensor) -> Tensor:
    """Non-local means of each image ``(B, 3, H, W)`` in [0, 1] with its estimated noise std (module
    docstring); returns the same shape, clipped to [0, 1].

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> clean = torch.full((1, 3, 32, 32), 0.5)
        >>> noisy = clean + 0.05 * torch.randn(1, 3, 32, 32, generator=g)
        >>> bool((denoise_short(noisy) - clean).abs().mean() < 0.5 * (noisy - clean).abs().mean())
        True
    """
    from skimage.restoration import denoise_nl_means

    from fnflight.imaging import estimate_white_noise

    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must have shape (B, 3, H, W), got {tuple(image.shape)}")
    out = torch.empty_like(image, dtype=torch.float32)
    for b in range(len(image)):
        x = image[b].detach().float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0).astype(np.float64)
        sigma = max(estimate_white_noise(image[b].detach().float().cpu()), 1e-4)
        den = denoise_nl_means(
            x, patch_size=5, patch_distance=6, h=0.8 * sigma, sigma=sigma, fast_mode=True, channel_axis=-1
        )
        out[b] = torch.from_numpy(np.clip(den, 0, 1).transpose(2, 0, 1).copy())
    return out.to(image.device)
