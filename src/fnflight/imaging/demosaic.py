"""Bilinear demosaicking of any periodic colour filter array (Bayer, X-Trans): the classical step of the
forward ISP that the raw floors of ``fnflight eval`` use (paper 004's "traditional pipeline").

Normalised convolution: each colour's samples (the mosaic times that colour's mask) and the mask itself are
blurred with one tent kernel, and their ratio fills the missing sites; measured sites keep their values. With
the 3x3 tent ``[1, 2, 1]^T [1, 2, 1]`` on a Bayer mosaic this is exactly the textbook bilinear demosaic (green
from the 4 neighbours, red/blue from 2 or 4). X-Trans colour sites are sparser, so its 6x6 tile gets the 5x5
tent ``[1, 2, 3, 2, 1]``, whose window holds every colour wherever it is placed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .srgb import _check_bchw, _check_tensor

__all__ = ["demosaic_bilinear"]


def _tent(radius: int, like: Tensor) -> Tensor:
    ramp = torch.cat([torch.arange(1, radius + 2), torch.arange(radius, 0, -1)]).to(like)
    return (ramp[:, None] * ramp[None, :])[None, None]


def demosaic_bilinear(mosaic: Tensor, cfa: Tensor) -> Tensor:
    r"""Demosaic ``(B, 1, H, W)`` sampled through the periodic tile ``cfa`` ``(h, w)`` (colour indices 0 R,
    1 G, 2 B, as :func:`fnflight.imaging.mosaic`) into ``(B, 3, H, W)``. Borders are reflect-padded.

    Args:
        mosaic: ``(B, 1, H, W)``, ``H`` and ``W`` multiples of the tile.
        cfa: ``(h, w)`` integer tile, e.g. ``torch.tensor([[0, 1], [1, 2]])`` for RGGB.

    Returns:
        ``(B, 3, H, W)``; measured sites equal the mosaic.

    Example:
        >>> from fnflight.imaging import mosaic_bayer
        >>> flat = torch.rand(1, 3, 1, 1).expand(1, 3, 4, 6)
        >>> cfa = torch.tensor([[0, 1], [1, 2]])
        >>> torch.allclose(demosaic_bilinear(mosaic_bayer(flat), cfa), flat)
        True
    """
    mosaic = _check_bchw(mosaic, "mosaic", 1)
    cfa = _check_tensor(cfa, "cfa")
    if cfa.ndim != 2:
        raise ValueError(f"cfa must have shape (h, w), got {tuple(cfa.shape)}")
    th, tw = cfa.shape
    h, w = mosaic.shape[-2:]
    if h % th or w % tw:
        raise ValueError(f"mosaic height and width must be multiples of the CFA tile {th}x{tw}, got {h}x{w}")
    radius = 1 if (th, tw) == (2, 2) else 2
    if h <= radius or w <= radius:
        raise ValueError(f"mosaic must be larger than {radius} px a side for reflect padding, got {h}x{w}")
    idx = cfa.to(mosaic.device, torch.long).repeat(h // th, w // tw)
    masks = torch.stack([(idx == c) for c in range(3)])[None].to(mosaic.dtype)  # (1, 3, H, W)
    kernel = _tent(radius, mosaic).expand(3, 1, -1, -1)

    def blur(x: Tensor) -> Tensor:
        return F.conv2d(F.pad(x, (radius,) * 4, mode="reflect"), kernel, groups=3)

    weight = blur(masks.expand(len(mosaic), -1, -1, -1))
    filled = blur(mosaic * masks) / weight.clamp_min(1e-12)
    return torch.where(masks > 0, mosaic.expand(-1, 3, -1, -1), filled)
