"""Slow, obviously-correct versions of the ops: the authors' formulation (build every pixel's kernel, unfold
every pixel's patch, multiply and sum) and explicit per-pixel loops for tiny inputs.

Used by the tests and as the "naive" side of ``fnflight bench ops``. They materialise ``(..., taps, H, W)``
tensors: fine for tens of pixels, about 1 GB for one 448x448 DeepFnF image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "basis_filter_loops",
    "basis_filter_reference",
    "basis_to_kernel_field",
    "kernel_field_filter_reference",
    "multilayer_filter_reference",
    "patches",
    "two_scale_basis_filter_reference",
]


def patches(frames: torch.Tensor, k: int, dilation: int = 1) -> torch.Tensor:
    """Reflect-padded patches ``(B, N, C, K*K, H, W)`` of frames ``(B, N, C, H, W)``, taps row-major.

    Example:
        >>> patches(torch.rand(1, 1, 3, 6, 7), 3).shape
        torch.Size([1, 1, 3, 9, 6, 7])
    """
    b, n, c, h, w = frames.shape
    pad = dilation * (k - 1) // 2
    x = F.pad(frames.reshape(b * n, c, h, w), (pad,) * 4, mode="reflect")
    cols = F.unfold(x, k, dilation=dilation)  # (B*N, C*K*K, H*W), channel-major then taps
    return cols.view(b, n, c, k * k, h, w)


def kernel_field_filter_reference(
    frames: torch.Tensor, kernels: torch.Tensor, dilation: int = 1
) -> torch.Tensor:
    """``sum_n sum_t kernels[:, n, c, t] * patch_t(frames[:, n, c])`` with explicit patches.

    frames ``(B, N, C, H, W)`` or ``(B, C, H, W)``; kernels ``(B, N, Ck, K*K, H, W)``, Ck in (1, C).

    Example:
        >>> x = torch.rand(1, 3, 5, 6)
        >>> k = torch.zeros(1, 1, 1, 9, 5, 6); k[:, :, :, 4] = 1
        >>> torch.allclose(kernel_field_filter_reference(x, k), x)
        True
    """
    if frames.ndim == 4:
        frames = frames.unsqueeze(1)
    k = int(round(kernels.shape[3] ** 0.5))
    return (kernels * patches(frames, k, dilation)).sum(dim=(1, 3))


def basis_to_kernel_field(basis: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """Per-pixel kernels ``(B, N, C, K*K, H, W) = sum_j coeffs_j basis_j`` from basis ``(B, J, N, C, K, K)``
    (or ``(B, J, C, K, K)``) and coeffs ``(B, J, H, W)``.

    Example:
        >>> basis_to_kernel_field(torch.rand(1, 4, 3, 5, 5), torch.rand(1, 4, 6, 7)).shape
        torch.Size([1, 1, 3, 25, 6, 7])
    """
    if basis.ndim == 5:
        basis = basis.unsqueeze(2)
    b, j, n, c, k, _ = basis.shape
    return torch.einsum("bjnct,bjhw->bncthw", basis.reshape(b, j, n, c, k * k), coeffs)


def basis_filter_reference(
    image: torch.Tensor, basis: torch.Tensor, coeffs: torch.Tensor, dilation: int = 1
) -> torch.Tensor:
    """The authors' formulation of :func:`fnflight.ops.basis_filter`: per-pixel kernels times patches.

    Example:
        >>> img, basis, coeffs = torch.rand(1, 3, 8, 9), torch.rand(1, 2, 3, 3, 3), torch.rand(1, 2, 8, 9)
        >>> from fnflight.ops import basis_filter
        >>> fast = basis_filter(img, basis, coeffs)
        >>> torch.allclose(basis_filter_reference(img, basis, coeffs), fast, atol=1e-5)
        True
    """
    return kernel_field_filter_reference(image, basis_to_kernel_field(basis, coeffs), dilation)


def basis_filter_loops(
    image: torch.Tensor, basis: torch.Tensor, coeffs: torch.Tensor, dilation: int = 1
) -> torch.Tensor:
    """Explicit per-pixel, per-tap loops with explicit reflect indexing (tiny inputs only).

    Example:
        >>> img, basis, coeffs = torch.rand(1, 3, 5, 6), torch.rand(1, 2, 3, 3, 3), torch.rand(1, 2, 5, 6)
        >>> torch.allclose(basis_filter_loops(img, basis, coeffs), basis_filter_reference(img, basis, coeffs))
        True
    """
    if image.ndim == 4:
        image, basis = image.unsqueeze(1), basis.unsqueeze(2)
    b_, n_, c_, h, w = image.shape
    j_, k = basis.shape[1], basis.shape[-1]
    r = (k - 1) // 2

    def refl(i: int, size: int) -> int:
        return -i if i < 0 else (2 * (size - 1) - i if i >= size else i)

    out = image.new_zeros(b_, c_, h, w)
    for b in range(b_):
        for c in range(c_):
            for y in range(h):
                for x in range(w):
                    acc = image.new_zeros(())
                    for j in range(j_):
                        for n in range(n_):
                            for ky in range(k):
                                for kx in range(k):
                                    yy = refl(y + dilation * (ky - r), h)
                                    xx = refl(x + dilation * (kx - r), w)
                                    acc = (
                                        acc
                                        + coeffs[b, j, y, x]
                                        * basis[b, j, n, c, ky, kx]
                                        * image[b, n, c, yy, xx]
                                    )
                    out[b, c, y, x] = acc
    return out


def two_scale_basis_filter_reference(
    image: torch.Tensor,
    basis_fine: torch.Tensor,
    basis_coarse: torch.Tensor,
    coeffs: torch.Tensor,
    dilation: int = 4,
) -> torch.Tensor:
    """Paper 000 eq. 4 the authors' way: per-pixel kernels for both scales (their ``[B,H,W,675,2]`` tensor),
    patches of the image and of its tent-prefiltered copy, multiply and sum.

    Example:
        >>> x = torch.rand(1, 3, 20, 24)
        >>> a, bb, c = torch.rand(1, 2, 3, 3, 3), torch.rand(1, 2, 3, 3, 3), torch.rand(1, 2, 20, 24)
        >>> two_scale_basis_filter_reference(x, a, bb, c).shape
        torch.Size([1, 3, 20, 24])
    """
    from fnflight.ops.two_scale import tent_prefilter

    fine = basis_filter_reference(image, basis_fine, coeffs)
    coarse = basis_filter_reference(tent_prefilter(image, dilation), basis_coarse, coeffs, dilation)
    return fine + coarse


def multilayer_filter_reference(
    image, bases, coeffs, biases, residual_weights, coarse_bases=None, dilation: int = 4
) -> torch.Tensor:
    """Paper 001 eq. 4-5 with explicit per-pixel kernels ``W^k(r) = sum_i C^i(r) B^i_k + b^k(r)`` (the bias
    added to every tap), applied layer by layer: ``out_k = W^k * out_{k-1} + alpha^k out_{k-1}``,
    ``F = out_L - prod_k alpha^k I``. A layer with a coarse basis uses paper 000's eq. 3 kernel
    ``B_k`` (zero-padded) ``+ upsample_kernel(coarse_k, d)``, the bias on its central K x K taps only.

    Example:
        >>> x = torch.rand(1, 3, 12, 12)
        >>> bases = [torch.rand(1, 2, 3, k, k) for k in (5, 3)]
        >>> cs = [torch.rand(1, 2, 12, 12)] * 2
        >>> b = [torch.rand(1, 1, 12, 12)] * 2
        >>> multilayer_filter_reference(x, bases, cs, b, b, [None, bases[1]], 2).shape
        torch.Size([1, 3, 12, 12])
    """
    from fnflight.ops.two_scale import upsample_kernel

    out, prod = image, None
    coarse_bases = coarse_bases or [None] * len(bases)
    for basis, coarse, c, bias, alpha in zip(bases, coarse_bases, coeffs, biases, residual_weights):
        k = basis.shape[-1]
        taps = torch.ones(k, k, dtype=basis.dtype, device=basis.device)
        if coarse is not None:
            up = upsample_kernel(coarse, dilation)
            p = (up.shape[-1] - k) // 2
            basis, taps = F.pad(basis, (p,) * 4) + up, F.pad(taps, (p,) * 4)
        # the bias on every tap of the K x K window
        field = basis_to_kernel_field(basis, c) + taps.reshape(-1, 1, 1) * bias.unsqueeze(1).unsqueeze(3)
        out = kernel_field_filter_reference(out, field) + alpha * out
        prod = alpha if prod is None else prod * alpha
    return out - prod * image
