"""Two-scale kernel basis (paper 000 section 3.2.3-3.2.4, eq. 3 and 4).

Each basis element is a pair ``(A_j, B_j)`` of K x K kernels per colour channel; ``B_j`` is a large kernel
downsampled by ``d``. Eq. 3 filters with ``A_j + B_j↑d``; eq. 4 computes the same thing cheaply as
``(x * A_j) + (tent(x) *_d B_j)``: a (2d-1)-tap tent prefilter, then a convolution dilated by ``d``.

Choice of ``B↑d`` (the paper says only "bilinear upsampling"): we define it as the zero-inserted ``B``
filtered with the *normalised* tent ``h`` (sum 1), i.e. the bilinear upsampling divided by ``d²``
(mass-preserving), so that eq. 3 and eq. 4 agree exactly (``tent(x) *_d B = x * (B zero-inserted * h)``),
which is what the authors' code computes. The kernel ``B↑d`` then has ``(K-1)d+1`` interpolated samples plus
the ``d-1``-tap ramps to zero on each side: its support is ``(K+1)d-1`` (63 for K=15, d=4), not the
``(K-1)d+1`` (57) footprint quoted in the paper, which counts only the sample positions.
With reflect borders eq. 3 and 4 also agree at the image borders because the tent is symmetric (tested).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fnflight.ops._checks import (
    autocast_off,
    check_ndim,
    check_positive_int,
    check_reflect,
    check_tensor,
    harmonise,
)
from fnflight.ops.basis_filter import _check_basis_inputs, strip_filter

__all__ = [
    "TwoScaleBasisFilter",
    "tent_kernel",
    "tent_prefilter",
    "two_scale_basis_filter",
    "upsample_kernel",
]


def tent_kernel(dilation: int, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
    """1-D tent of ``2d-1`` taps normalised to sum 1: ``(d - |i|) / d²`` for ``|i| < d``.

    Example:
        >>> tent_kernel(4) * 4
        tensor([0.2500, 0.5000, 0.7500, 1.0000, 0.7500, 0.5000, 0.2500])
    """
    check_positive_int(dilation, "dilation")
    i = torch.arange(-(dilation - 1), dilation, dtype=torch.float64)
    return ((dilation - i.abs()) / dilation**2).to(dtype=dtype or torch.get_default_dtype(), device=device)


def tent_prefilter(image: torch.Tensor, dilation: int) -> torch.Tensor:
    """Separable (2d-1)-tap normalised tent filter ``X^h = X * h`` of paper 000 eq. 4, reflect borders.

    Args:
        image: ``(B, C, H, W)`` or ``(B, N, C, H, W)``; H, W > d-1.
        dilation: ``d`` (``d=1`` is the identity).

    Returns:
        Same shape as ``image``.

    Example:
        >>> x = torch.rand(1, 3, 10, 12)
        >>> torch.allclose(tent_prefilter(torch.ones(1, 3, 10, 12), 4), torch.ones(1, 3, 10, 12))
        True
        >>> tent_prefilter(x, 4).shape
        torch.Size([1, 3, 10, 12])
    """
    check_tensor(image, "image")
    check_positive_int(dilation, "dilation")
    check_ndim(image, "image", (4, 5), "(B, C, H, W) or (B, N, C, H, W)")
    h, w = image.shape[-2:]
    pad = dilation - 1
    if pad == 0:
        return image
    check_reflect(h, w, pad, "image", f"tent of {2 * dilation - 1} taps")
    x = image.reshape(-1, 1, h, w)
    if torch.is_autocast_enabled(image.device.type) and x.dtype != torch.float64:
        x = x.float()  # under autocast the ops compute in float32 (see basis_filter)
    with autocast_off(image.device):
        # normalised (2d-1)-tap tent = normalised d-tap box convolved with itself, separable: two d x d
        # average pools (much faster than a 1-channel conv2d through oneDNN, forward and backward)
        x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        x = F.avg_pool2d(F.avg_pool2d(x, dilation, stride=1), dilation, stride=1)
    return x.reshape(image.shape[:-2] + (h, w))


def upsample_kernel(basis_coarse: torch.Tensor, dilation: int) -> torch.Tensor:
    """Explicit eq. 3 kernel ``B↑d``: ``B`` zero-inserted by ``d`` and filtered with the normalised 2-D tent.

    This is bilinear upsampling by ``d`` divided by ``d²`` (see the module docstring for why), so that
    ``x * upsample_kernel(B, d) == tent_prefilter(x, d) *_d B`` exactly.

    Args:
        basis_coarse: ``(..., K, K)``.
        dilation: ``d``.

    Returns:
        ``(..., (K+1)d-1, (K+1)d-1)`` (the ``(K-1)d+1`` sample grid plus ``d-1`` ramp taps each side).

    Example:
        >>> b = torch.zeros(3, 3); b[1, 1] = 16.0
        >>> upsample_kernel(b, 2)[2:5, 2:5]
        tensor([[1., 2., 1.],
                [2., 4., 2.],
                [1., 2., 1.]])
    """
    check_tensor(basis_coarse, "basis_coarse")
    check_positive_int(dilation, "dilation")
    if basis_coarse.ndim < 2 or basis_coarse.shape[-1] != basis_coarse.shape[-2]:
        raise ValueError(f"basis_coarse must have shape (..., K, K), got shape {tuple(basis_coarse.shape)}")
    k = basis_coarse.shape[-1]
    lead = basis_coarse.shape[:-2]
    t = tent_kernel(dilation, basis_coarse.dtype, basis_coarse.device)
    t2 = (t[:, None] * t[None, :])[None, None]
    # conv_transpose2d with stride d = zero insertion followed by a (symmetric) tent filter
    up = F.conv_transpose2d(basis_coarse.reshape(-1, 1, k, k), t2, stride=dilation)
    size = (k + 1) * dilation - 1
    return up.reshape(*lead, size, size)


def two_scale_basis_filter(
    image: torch.Tensor,
    basis_fine: torch.Tensor,
    basis_coarse: torch.Tensor,
    coeffs: torch.Tensor,
    dilation: int = 4,
) -> torch.Tensor:
    r"""Paper 000 eq. 4: ``F = sum_j c_j ((x * A_j) + (tent(x) *_d B_j))`` per colour channel, reflect
    borders.

    Equal to eq. 3 with the kernels ``A_j`` (zero-padded) ``+ upsample_kernel(B_j, d)``. Basis and
    coefficients are not normalised (paper 000 section 3.2.2).

    Args:
        image: ``(B, C, H, W)`` (or ``(B, N, C, H, W)``, frames summed as in :func:`basis_filter`).
        basis_fine: ``A``, ``(B, J, C, K, K)`` (or ``(B, J, N, C, K, K)``).
        basis_coarse: ``B``, same shape as ``basis_fine``.
        coeffs: ``(B, J, H, W)``.
        dilation: ``d`` (paper: 4, so K=15 gives an effective 57x57 sample grid).

    Returns:
        ``(B, C, H, W)``.

    Example:
        >>> x = torch.rand(1, 3, 20, 24)
        >>> a, b, c = torch.rand(1, 4, 3, 3, 3), torch.rand(1, 4, 3, 3, 3), torch.rand(1, 4, 20, 24)
        >>> two_scale_basis_filter(x, a, b, c, dilation=4).shape
        torch.Size([1, 3, 20, 24])
    """
    _check_basis_inputs(image, basis_fine, coeffs, 1, "basis_fine")
    check_tensor(basis_coarse, "basis_coarse")
    if basis_coarse.shape != basis_fine.shape:
        raise ValueError(
            f"basis_coarse has shape {tuple(basis_coarse.shape)}, expected the shape of basis_fine "
            f"{tuple(basis_fine.shape)}"
        )
    check_positive_int(dilation, "dilation")
    t = harmonise(
        "image", {"image": image, "basis_fine": basis_fine, "basis_coarse": basis_coarse, "coeffs": coeffs}
    )
    k = basis_fine.shape[-1]
    check_reflect(
        image.shape[-2], image.shape[-1], dilation * (k - 1) // 2, "image", f"K={k}, dilation={dilation}"
    )
    # Eq. 4 with both scales fused: F = sum_j c_j (x * A_j + x^h *_d B_j) is ONE strip pass whose patch
    # matrix stacks the fine taps (x, dilation 1) over the coarse taps (x^h = tent(x), dilation d), so one
    # GEMM with inner dimension 2*K*K gives the summed response per basis element (see
    # basis_filter._StripFilter). The tent and the paddings are autograd ops, so the image gradient is the
    # fine fold plus the tent's adjoint applied to the coarse fold.
    x = t["image"]
    frames = x if x.ndim == 5 else x.unsqueeze(1)
    fine, coarse = (
        t[name] if x.ndim == 5 else t[name].unsqueeze(2) for name in ("basis_fine", "basis_coarse")
    )
    with autocast_off(x.device):
        return strip_filter(
            [frames, tent_prefilter(frames, dilation)], [fine, coarse], t["coeffs"], [1, dilation]
        )


class TwoScaleBasisFilter(nn.Module):
    """Module form of :func:`two_scale_basis_filter` (no parameters).

    Example:
        >>> op = TwoScaleBasisFilter(dilation=2)
        >>> x, a, c = torch.rand(1, 3, 12, 12), torch.rand(1, 2, 3, 3, 3), torch.rand(1, 2, 12, 12)
        >>> op(x, a, a, c).shape
        torch.Size([1, 3, 12, 12])
    """

    def __init__(self, dilation: int = 4) -> None:
        super().__init__()
        self.dilation = dilation

    def forward(self, image, basis_fine, basis_coarse, coeffs) -> torch.Tensor:
        return two_scale_basis_filter(image, basis_fine, basis_coarse, coeffs, self.dilation)

    def extra_repr(self) -> str:
        return f"dilation={self.dilation}"
