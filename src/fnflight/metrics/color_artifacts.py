"""Colour artifacts: output pixels whose local colour neither input has (issue "real captures").

A learned filter that invents colour paints blotches a person sees at once (saturated blue or green at a
lamp or a candle flame), however small their share of the PSNR. The measure, in the written sRGB images:

1. local colour: the rg-chromaticity ``x / sum(x)`` of a ``window x window`` box mean of each image;
2. distance of the output's local colour to an input's: the largest absolute difference over the three
   chromaticity channels;
3. a pixel is *off* when that distance exceeds ``threshold`` for EVERY input (the output took its colour
   from none of them); ``chroma_off`` is the share of off pixels, a value in ``[0, 1]``.

Near-black pixels have no defined colour: where an image's box mean sums to less than ``min_sum`` its
chromaticity is taken as grey (1/3 each), so the noise floor of a dark input counts as neutral, not as a
random colour.

Every task whose output should keep its input's colour reports it (flash/no-flash: both inputs; burst: the
reference frame; short/long: both exposures); ``fnflight eval`` shows it as the ``chroma_off`` column.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "CHROMA_THRESHOLD",
    "CHROMA_WINDOW",
    "chroma_distance",
    "chroma_off",
    "local_chromaticity",
    "nearest_chroma_distance",
]

CHROMA_THRESHOLD = 0.4  # the threshold: far outside what noise or a white-balance shift gives
CHROMA_WINDOW = 5


def _check(name: str, x: object) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must have shape (B, 3, H, W), got {tuple(x.shape)}")
    return x


def local_chromaticity(image: Tensor, window: int = CHROMA_WINDOW, min_sum: float = 1e-3) -> Tensor:
    """rg-chromaticity ``m / sum_c m`` of the ``window x window`` box mean ``m`` (reflect border).

    Args:
        image: ``(B, 3, H, W)`` sRGB in ``[0, 1]``.
        window: odd box size in pixels.
        min_sum: below this channel sum the colour is grey ``(1/3, 1/3, 1/3)``.

    Returns:
        ``(B, 3, H, W)``, each pixel's channels summing to 1.

    >>> x = torch.zeros(1, 3, 4, 4); x[:, 0] = 0.5; x[:, 2] = 0.5
    >>> local_chromaticity(x, 3)[0, :, 1, 1].tolist()
    [0.5, 0.0, 0.5]
    """
    image = _check("image", image)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number, got {window}")
    x = image.float().clamp(0.0, 1.0)
    if window > 1:
        pad = window // 2
        mode = "reflect" if min(x.shape[-2:]) > pad else "replicate"
        x = F.avg_pool2d(F.pad(x, (pad, pad, pad, pad), mode=mode), window, stride=1)
    total = x.sum(dim=1, keepdim=True)
    grey = torch.full_like(x, 1.0 / 3.0)
    return torch.where(total > min_sum, x / total.clamp_min(min_sum), grey)


def chroma_distance(a: Tensor, b: Tensor, window: int = CHROMA_WINDOW) -> Tensor:
    """Per-pixel distance of local colours: ``max_c |chroma(a) - chroma(b)|``, ``(B, 1, H, W)`` in
    ``[0, 1]``.

    >>> red, grey = torch.zeros(1, 3, 5, 5), torch.full((1, 3, 5, 5), 0.5)
    >>> red[:, 0] = 1.0
    >>> round(float(chroma_distance(red, grey).max()), 4)
    0.6667
    """
    _check("a", a)
    _check("b", b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return (local_chromaticity(a, window) - local_chromaticity(b, window)).abs().amax(dim=1, keepdim=True)


def chroma_off(
    output: Tensor,
    inputs: Sequence[Tensor],
    threshold: float = CHROMA_THRESHOLD,
    window: int = CHROMA_WINDOW,
    per_image: bool = True,
) -> Tensor:
    """The share of output pixels whose local colour is more than ``threshold`` from that of EVERY input.

    Args:
        output: ``(B, 3, H, W)`` sRGB in ``[0, 1]`` (as written).
        inputs: one or more ``(B, 3, H, W)`` sRGB images of the output's size (e.g. the brightened no-flash
            image and the flash image).
        threshold: chromaticity distance (module docstring) above which a pixel is off.
        window: the box of the local colour.
        per_image: ``(B,)`` shares; ``False``: one share over the batch.

    Returns:
        ``(B,)`` (or a scalar) in ``[0, 1]``.

    >>> grey = torch.full((1, 3, 16, 16), 0.5)
    >>> blue = grey.clone(); blue[:, 2, 4:12, 4:12] = 1.0; blue[:, :2, 4:12, 4:12] = 0.0
    >>> chroma_off(grey, [grey]).tolist(), float(chroma_off(blue, [grey]))
    ([0.0], 0.125)
    """
    if not 0.0 < float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    share = (nearest_chroma_distance(output, inputs, window) > threshold).float().mean(dim=(1, 2, 3))
    return share if per_image else share.mean()


def nearest_chroma_distance(output: Tensor, inputs: Sequence[Tensor], window: int = CHROMA_WINDOW) -> Tensor:
    """Per pixel, the distance of the output's local colour to the NEARER of the inputs' (:func:
    `chroma_distance`), ``(B, 1, H, W)`` in ``[0, 1]``: a pixel is off when this exceeds the threshold.

    >>> grey = torch.full((1, 3, 8, 8), 0.5)
    >>> float(nearest_chroma_distance(grey, [grey, torch.rand(1, 3, 8, 8)]).max())
    0.0
    """
    output = _check("output", output)
    if not inputs:
        raise ValueError("inputs must hold at least one image to compare the output's colour with")
    nearest = None
    for i, image in enumerate(inputs):
        _check(f"inputs[{i}]", image)
        if image.shape != output.shape:
            raise ValueError(
                f"inputs[{i}] must have the output's shape {tuple(output.shape)}, got {tuple(image.shape)}"
            )
        d = chroma_distance(output, image, window)
        nearest = d if nearest is None else torch.minimum(nearest, d)
    return nearest
