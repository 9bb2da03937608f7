"""sRGB and gamma curves (paper 000 sec. 3.3; NOTES "DeepFnF" sRGB curve), plus the input checks shared
by :mod:`fnflight.imaging`.

All curves are elementwise, work on any shape (typically ``(B, C, H, W)``), and are differentiable with
finite gradients everywhere, including at 0: every fractional power is taken of a clamped argument.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "SRGB_LINEAR_THRESHOLD",
    "gamma_compress",
    "gamma_expand",
    "linear_from_srgb",
    "srgb_from_linear",
]

# Standard sRGB (IEC 61966-2-1) breakpoint in linear units and its image under the curve.
SRGB_LINEAR_THRESHOLD = 0.0031308
_SRGB_ENCODED_THRESHOLD = 0.04045
# Smallest argument passed to a fractional power: keeps d/dx x^p finite at 0.
_EPS = 1e-8


# ----------------------------------------------------------------------------------------------------------
# shared input checks (private; used by the other imaging modules)
def _check_tensor(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def _check_bchw(x: object, name: str, channels: int | tuple[int, ...] | None = None) -> Tensor:
    """Check ``x`` is a float ``(B, C, H, W)`` tensor, optionally with ``C`` in ``channels``."""
    x = _check_tensor(x, name)
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (B, C, H, W), got shape {tuple(x.shape)}")
    if channels is not None:
        allowed = (channels,) if isinstance(channels, int) else channels
        if x.shape[1] not in allowed:
            raise ValueError(
                f"{name} must have C in {allowed} channels (shape (B, C, H, W)), got shape {tuple(x.shape)}"
            )
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating point tensor, got dtype {x.dtype}")
    return x


def _batch_param(value: float | Tensor, name: str, batch: int, like: Tensor, ndim: int = 4) -> Tensor:
    """A float or ``(B,)``/``()`` tensor as a tensor broadcastable to ``(B, ...)`` with ``ndim`` dims."""
    if not isinstance(value, Tensor):
        if not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a float or a (B,) tensor, got {type(value).__name__}")
        value = torch.tensor(float(value))
    value = value.to(device=like.device, dtype=like.dtype)
    if value.ndim == 0:
        value = value.expand(batch)
    if value.ndim != 1 or value.shape[0] not in (1, batch):
        raise ValueError(f"{name} must be a scalar or have shape ({batch},), got shape {tuple(value.shape)}")
    return value.reshape(-1, *([1] * (ndim - 1))).expand(batch, *([1] * (ndim - 1)))


# ----------------------------------------------------------------------------------------------------------
def srgb_from_linear(x: Tensor, linear_above_one: bool = False) -> Tensor:
    r"""Apply the standard sRGB transfer curve (linear -> sRGB-encoded).

    ``12.92 x`` for ``x <= 0.0031308`` and ``1.055 x^(1/2.4) - 0.055`` above. With ``linear_above_one``,
    values above 1 continue linearly, ``1 + 1.055/2.4 (x - 1)``, instead of following the power law: that is
    the curve DeepFnF's loss uses (NOTES "DeepFnF": "above 1 it continues linearly with slope 1.055/2.4").
    The slope 1.055/2.4 is the derivative of the curve at 1, so the result is continuous (value 1 at
    ``x = 1``) and C1. No clipping is done here: clip before or after as the caller needs.

    Args:
        x: linear intensities, any shape, typically ``(B, C, H, W)``.
        linear_above_one: continue linearly above 1.

    Returns:
        Tensor of the shape of ``x``.

    Example:
        >>> srgb_from_linear(torch.tensor([0.0, 0.5, 1.0]))
        tensor([0.0000, 0.7354, 1.0000])
        >>> srgb_from_linear(torch.tensor([2.0]), linear_above_one=True)
        tensor([1.4396])
    """
    x = _check_tensor(x, "x")
    low = 12.92 * x
    high = 1.055 * torch.clamp(x, min=SRGB_LINEAR_THRESHOLD) ** (1.0 / 2.4) - 0.055
    out = torch.where(x <= SRGB_LINEAR_THRESHOLD, low, high)
    if linear_above_one:
        out = torch.where(x > 1.0, 1.0 + (1.055 / 2.4) * (x - 1.0), out)
    return out


def linear_from_srgb(x: Tensor) -> Tensor:
    r"""Invert the standard sRGB curve (sRGB-encoded -> linear).

    ``x / 12.92`` for ``x <= 0.04045`` and ``((x + 0.055) / 1.055)^2.4`` above. Inverse of
    :func:`srgb_from_linear` with ``linear_above_one=False`` on its whole range.

    Args:
        x: encoded intensities, any shape, typically ``(B, C, H, W)``.

    Returns:
        Tensor of the shape of ``x``.

    Example:
        >>> linear_from_srgb(torch.tensor([0.0, 0.7354, 1.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    x = _check_tensor(x, "x")
    low = x / 12.92
    high = ((torch.clamp(x, min=_SRGB_ENCODED_THRESHOLD) + 0.055) / 1.055) ** 2.4
    return torch.where(x <= _SRGB_ENCODED_THRESHOLD, low, high)


def gamma_compress(x: Tensor, gamma: float = 2.2) -> Tensor:
    r"""Pure power-law compression ``max(x, eps)^(1/gamma)`` (linear -> display), e.g. KPN/LSD2 gamma 2.2.

    Args:
        x: linear intensities, any shape. Negative values map to ``eps^(1/gamma)`` (about 0).
        gamma: the display gamma (> 0).

    Returns:
        Tensor of the shape of ``x``.

    Example:
        >>> gamma_compress(torch.tensor([0.0, 0.25, 1.0]), gamma=2.0)
        tensor([0.0001, 0.5000, 1.0000])
    """
    x = _check_tensor(x, "x")
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    return torch.clamp(x, min=_EPS) ** (1.0 / gamma)


def gamma_expand(x: Tensor, gamma: float = 2.2) -> Tensor:
    r"""Pure power-law expansion ``max(x, eps)^gamma`` (display -> linear), inverse of :func:`gamma_compress`.

    This is the linearisation used for internet images by KPN (paper 002), LSD2 (paper 003 sec. 3.1,
    gamma 2.2) and unprocessing (NOTES, ``max(x, 1e-8)^2.2``).

    Args:
        x: encoded intensities, any shape.
        gamma: the display gamma (> 0).

    Returns:
        Tensor of the shape of ``x``.

    Example:
        >>> gamma_expand(torch.tensor([0.5, 1.0]), gamma=2.0)
        tensor([0.2500, 1.0000])
    """
    x = _check_tensor(x, "x")
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    return torch.clamp(x, min=_EPS) ** gamma
