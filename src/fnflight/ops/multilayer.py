"""Multi-layer predicted filtering: the Sample-Adaptive Element-wise CNN of paper 001 (section 2.2, eq. 4-5).

Layer k has per-pixel kernels ``W^k(r) = sum_i C^i(r) B^i_k + b^k(r)`` (eq. 4) and a per-pixel residual
weight ``alpha^k(r)``: ``out_k = W^k * out_{k-1} + alpha^k out_{k-1}`` with ``out_0 = I``, and
``F(I) = out_L - (prod_k alpha^k) I`` (eq. 5, written there for L = 3 with exponentially decreasing sizes;
the default configuration uses 15, 7, 3).

Paper ambiguities and the choices made (no public code exists, see NOTES.md):

- ``b^k(r)`` is read as a per-pixel scalar added to every tap of the kernel, so
  ``W^k * x = basis_filter(x, B_k, C_k) + b^k * boxsum_K(x)`` (a box sum with reflect borders). A per-pixel
  bias added to the *output* would be the other reading; it is not what eq. 4 writes (the bias is inside the
  kernel).
- Coefficients are given per layer. Eq. 4 writes one set ``C^i(r)`` shared by all layers; a net that follows
  it passes the same tensor for each layer (a single tensor is accepted and shared).
- ``b^k`` and ``alpha^k`` may be per pixel ``(B, 1, H, W)`` or per pixel and colour ``(B, C, H, W)``.
- Sec. 3.2 adds "the kernel for filtering the bilinear interpolation images (15x15)", inherited from DeepFnF
  (paper 000 eq. 3-4). A layer given a coarse basis is filtered with DeepFnF's two-scale kernel
  ``A + B↑d`` (:func:`~fnflight.ops.two_scale_basis_filter`); its bias ``b^k`` stays on the K x K fine
  window (paper silent; the coarse kernel has no bias in DeepFnF either).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fnflight.ops._checks import check_ndim, check_reflect, check_tensor
from fnflight.ops.basis_filter import basis_filter
from fnflight.ops.traceable import exporting
from fnflight.ops.two_scale import two_scale_basis_filter

__all__ = ["MultiLayerFilter", "box_sum", "multilayer_filter"]


def box_sum(image: torch.Tensor, k: int) -> torch.Tensor:
    """Sum over the K x K window around each pixel, reflect borders; image ``(B, C, H, W)``.

    Example:
        >>> box_sum(torch.ones(1, 1, 5, 5), 3)[0, 0, 2, 2]
        tensor(9.)
    """
    p = (k - 1) // 2
    x = F.pad(image, (p, p, p, p), mode="reflect") if p else image
    if k == 1:
        return x
    if exporting():  # ONNX's AveragePool has no divisor override (it would divide by K^2): the mean x K^2
        return F.avg_pool2d(x, k, stride=1) * float(k * k)
    return F.avg_pool2d(x, k, stride=1, divisor_override=1)


def _as_list(v, name: str, n: int) -> list[torch.Tensor]:
    if isinstance(v, torch.Tensor):
        return [v] * n
    v = list(v)
    if len(v) != n:
        raise ValueError(f"{name} must have one entry per layer ({n} from bases), got {len(v)}")
    return v


def multilayer_filter(
    image: torch.Tensor,
    bases: Sequence[torch.Tensor],
    coeffs: Sequence[torch.Tensor] | torch.Tensor,
    biases: Sequence[torch.Tensor],
    residual_weights: Sequence[torch.Tensor],
    coarse_bases: Sequence[torch.Tensor | None] | None = None,
    dilation: int = 4,
) -> torch.Tensor:
    r"""Paper 001 eq. 4-5: successive per-pixel basis filters with per-tap biases and weighted residuals.

    Args:
        image: ``I``, ``(B, C, H, W)``.
        bases: L tensors ``B_k``, ``(B, J_k, C, K_k, K_k)`` (paper: K = 15, 7, 3).
        coeffs: L tensors ``(B, J_k, H, W)``, or one tensor shared by every layer (eq. 4 as written).
        biases: L tensors ``b^k``, ``(B, 1, H, W)`` or ``(B, C, H, W)``, added to every tap of ``W^k``.
        residual_weights: L tensors ``alpha^k``, ``(B, 1, H, W)`` or ``(B, C, H, W)``.
        coarse_bases: optional, L entries, each ``None`` or a coarse basis shaped like ``bases[k]``: that
            layer becomes two-scale, kernel ``B_k + coarse_k↑d`` (paper 001 sec. 3.2; the first layer).
        dilation: ``d`` of the coarse kernels (DeepFnF: 4).

    Returns:
        ``F(I) = out_L - (prod_k alpha^k) I``, ``(B, C, H, W)``.

    Example:
        >>> x = torch.rand(1, 3, 16, 16)
        >>> bases = [torch.zeros(1, 2, 3, k, k) for k in (7, 3)]
        >>> zeros, ones = torch.zeros(1, 1, 16, 16), torch.ones(1, 1, 16, 16)
        >>> # W = 0 everywhere: out_k = alpha^k out_{k-1}, so F = (prod alpha - prod alpha) I = 0
        >>> multilayer_filter(x, bases, torch.rand(1, 2, 16, 16), [zeros] * 2, [2 * ones] * 2).abs().max()
        tensor(0.)
    """
    check_tensor(image, "image")
    check_ndim(image, "image", (4,), "(B, C, H, W)")
    bases = list(bases)
    if not bases:
        raise ValueError("bases must hold at least one layer's basis, got an empty sequence")
    n = len(bases)
    coeffs = _as_list(coeffs, "coeffs", n)
    biases = _as_list(biases, "biases", n)
    residual_weights = _as_list(residual_weights, "residual_weights", n)
    coarse_bases = [None] * n if coarse_bases is None else list(coarse_bases)
    if len(coarse_bases) != n:
        raise ValueError(
            f"coarse_bases must have one entry per layer ({n} from bases), got {len(coarse_bases)}"
        )
    b, c, h, w = image.shape
    for name, seq in (("biases", biases), ("residual_weights", residual_weights)):
        for i, t in enumerate(seq):
            check_tensor(t, f"{name}[{i}]")
            if t.ndim != 4 or t.shape[0] != b or t.shape[1] not in (1, c) or t.shape[-2:] != (h, w):
                raise ValueError(
                    f"{name}[{i}] has shape {tuple(t.shape)}, expected ({b}, 1, {h}, {w}) or "
                    f"({b}, {c}, {h}, {w})"
                )
            if t.device != image.device:
                raise ValueError(f"{name}[{i}] is on device {t.device} but image is on {image.device}")
    out, prod = image, None
    layers = zip(bases, coarse_bases, coeffs, biases, residual_weights)
    for i, (basis, coarse, co, bias, alpha) in enumerate(layers):
        k = basis.shape[-1] if basis.ndim == 5 else 1
        check_reflect(h, w, (k - 1) // 2, "image", f"layer {i}, K={k}")
        # both ops check basis/coeffs shapes, dtypes, devices
        if coarse is None:
            filtered = basis_filter(out, basis, co)
        else:
            filtered = two_scale_basis_filter(out, basis, coarse, co, dilation)
        # W^k * x with the bias on every tap (eq. 4): basis part + b^k * (sum of the K x K window)
        out = filtered + bias * box_sum(out, k).to(filtered.dtype) + alpha * out
        prod = alpha if prod is None else prod * alpha
    return out - prod * image


class MultiLayerFilter(nn.Module):
    """Module form of :func:`multilayer_filter` (no parameters).

    Example:
        >>> x = torch.rand(1, 3, 16, 16)
        >>> bases = [torch.rand(1, 2, 3, k, k) for k in (3, 3)]
        >>> one = torch.ones(1, 1, 16, 16)
        >>> op = MultiLayerFilter(dilation=2)
        >>> op(x, bases, torch.rand(1, 2, 16, 16), [one] * 2, [one] * 2, [bases[0], None]).shape
        torch.Size([1, 3, 16, 16])
    """

    def __init__(self, dilation: int = 4) -> None:
        super().__init__()
        self.dilation = dilation

    def forward(self, image, bases, coeffs, biases, residual_weights, coarse_bases=None) -> torch.Tensor:
        return multilayer_filter(image, bases, coeffs, biases, residual_weights, coarse_bases, self.dilation)

    def extra_repr(self) -> str:
        return f"dilation={self.dilation}"
