"""Flash/no-flash denoising by joint bilateral filtering and flash detail transfer (Petschnigg, Agrawala,
Hoppe, Szeliski, Cohen, Toyama, "Digital Photography with Flash and No-Flash Image Pairs", SIGGRAPH 2004):
the classical peer of the flash/no-flash table (``fnflight eval``: ``petschnigg``).

Steps (sec. 4 of that paper), on one pair:

1. Both images to one exposure and a perceptual encoding: the no-flash image brightened by the test gain,
   the flash brought to the same mean brightness (the shared input preparation of the nets,
   :func:`fnflight.tasks.fnf.fnf_inputs`) and brightened alike, both clipped and sRGB-encoded. (Petschnigg et
   al. filter the captured images; with a 25-100x dimmed, noisy no-flash image, colour distances only mean
   something after brightening, and sRGB makes them roughly uniform in perceived difference.)
2. ``A_NR``: the joint bilateral filter of the no-flash image with the flash as the range guide
   (``kornia.filters.joint_bilateral_blur``, reflect borders, L1 colour distance), spatial sigma
   ``sigma_space`` px, range sigma ``sigma_color``.
3. Detail transfer: ``A_NR * (F + eps) / (F_base + eps)``, ``F_base`` the bilateral filter of the flash with
   the same sigmas, ``eps = 0.02`` (the paper's value).
4. Back to the no-flash exposure (linear).

Not done: the paper's shadow and specularity masks (they fall back to the basic bilateral filter where the
flash is unreliable); without them, flash shadows and highlights pass into the detail layer. The sigmas are
chosen per dimming level on a validation set (:data:`PARAMS`), not by hand per photo as in the paper.
"""

from __future__ import annotations

import math

from torch import Tensor

from fnflight.imaging.srgb import linear_from_srgb, srgb_from_linear
from fnflight.nets._fnf_common import match_exposure

__all__ = ["PARAMS", "params_for_dim", "petschnigg"]

# dimming factor -> (sigma_space px, sigma_color): the best of a 4 x 4 grid (sigma_space 1-4, sigma_color
# 0.05-0.4) on 24 BSDS500 val photos per dim, by benchmarks/tune_petschnigg.py (results, every grid point:
# benchmarks/results/petschnigg_tuning.json). At 100x the winner sits on the grid's edge, but the PSNR is flat
# there (sigma_space 3: -0.04 dB). Other dims take the nearest (log) entry.
PARAMS: dict[float, tuple[float, float]] = {
    100.0: (4.0, 0.2),
    50.0: (3.0, 0.1),
    25.0: (2.0, 0.1),
    12.5: (1.0, 0.2),
}
EPS = 0.02


def params_for_dim(dim: float) -> tuple[float, float]:
    """The :data:`PARAMS` entry of the dimming level nearest to ``dim`` (in the log domain)."""
    key = min(PARAMS, key=lambda d: abs(math.log(d) - math.log(max(float(dim), 1e-6))))
    return PARAMS[key]


def petschnigg(
    noflash: Tensor,
    flash: Tensor,
    gain: Tensor,
    sigma_space: float,
    sigma_color: float,
    detail: bool = True,
) -> Tensor:
    """Denoise the no-flash image of a pair (module docstring).

    Args:
        noflash: ``(B, 3, H, W)`` noisy linear no-flash image (dimmed).
        flash: ``(B, 3, H, W)`` noisy linear flash image as captured (any exposure).
        gain: ``(B,)`` the brightening to the target exposure (the test set's ``gain``).
        sigma_space: spatial sigma in pixels; the window is ``2 ceil(2 sigma) + 1`` wide.
        sigma_color: range sigma in sRGB-encoded units.
        detail: transfer the flash's detail (step 3); ``False``: the joint bilateral filter alone.

    Returns:
        ``(B, 3, H, W)`` linear, at the no-flash exposure.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> clean = torch.rand(1, 3, 32, 32, generator=g) * 0.01
    >>> noisy = clean + 0.002 * torch.randn(1, 3, 32, 32, generator=g)
    >>> out = petschnigg(noisy, clean * 40, torch.tensor([50.0]), 2.0, 0.2)
    >>> bool((out - clean).abs().mean() < (noisy - clean).abs().mean())
    True
    """
    from kornia.filters import bilateral_blur, joint_bilateral_blur

    if noflash.shape != flash.shape or noflash.ndim != 4:
        raise ValueError(
            f"noflash and flash must share one (B, 3, H, W) shape, got {tuple(noflash.shape)}, "
            f"{tuple(flash.shape)}"
        )
    g = gain.reshape(-1, 1, 1, 1).to(noflash)
    matched, _ = match_exposure(flash, flash, noflash)
    a = srgb_from_linear((noflash * g).clamp(0, 1))
    f = srgb_from_linear((matched * g).clamp(0, 1))
    k = 2 * math.ceil(2 * sigma_space) + 1
    space = (float(sigma_space), float(sigma_space))
    out = joint_bilateral_blur(a, f, k, float(sigma_color), space)
    if detail:
        base = bilateral_blur(f, k, float(sigma_color), space)
        out = out * (f + EPS) / (base + EPS)
    return linear_from_srgb(out.clamp(0, 1)) / g
