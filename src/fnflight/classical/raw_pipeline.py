"""SID's "traditional pipeline" (paper 004 sec. 4, Fig. 5-7): the amplified raw through a classical ISP,
and the same after a classical denoiser. ``fnflight eval`` reports them as the floors ``traditional`` and
``traditional_denoise`` of every raw test set.

``traditional``: the packed, black-level-subtracted raw amplified by the ratio (what the network gets) is
unpacked to its mosaic, demosaicked bilinearly (:func:`fnflight.imaging.demosaic_bilinear`), white-balanced,
colour-corrected and gamma-encoded (:func:`fnflight.imaging.render_camera_rgb`) with the capture's own
``wb_gains`` / ``color_matrix`` / ``tone_curve`` (batch keys). For synthetic raw these are the true camera
parameters of the unprocessing, so the floor has no colour bias (SID instead gave its baselines the
reference's white balance and per-channel means, "privileged information").

``traditional_denoise``: the same after denoising the amplified packed raw with the TRUE noise level
(:func:`fnflight.classical.vst_denoise.vst_denoise`: variance stabilisation and non-local means over all
packed colour planes at once). Denoising the raw before demosaicking keeps the noise white (demosaicking and
the colour matrix would correlate it).
"""

from __future__ import annotations

import torch
from torch import Tensor

from fnflight import imaging
from fnflight.classical.vst_denoise import vst_denoise

__all__ = ["traditional_denoise", "traditional_isp", "unpack_raw"]

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
