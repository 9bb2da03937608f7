"""Plain-torch forms of the filtering ops, taken while a net is traced for export (``fnflight export ...
out=FILE.onnx``).

The fast forms (:class:`~fnflight.ops.basis_filter._StripFilter`, the kernel field's tap loop) are custom
autograd Functions with reused scratch buffers and ``out=`` writes: an exporter cannot follow them. While
:func:`exporting` is true the ops switch to these forms, which give the same values (tested to 1e-5) from
operators every runtime has:

- basis filtering (BPN, DeepFnF's two scales, the SAECNN layers): a reflect pad, then one grouped convolution
  per sample with the predicted basis as its weights (``J`` output channels per input channel), weighted by
  the coefficients and summed over ``J``. The basis is per sample, so the batch is a Python loop: an exported
  graph has the batch size it was traced with (``fnflight export`` traces batch 1; H and W stay dynamic).
- kernel fields (KPN): the K^2 shifted slices of the padded frames times their kernel taps, summed.
- antialiased bilinear resizing (the basis decoder's 16 x 16 -> (K+1) x (K+1) maps, fixed sizes): ONNX has no
  antialiased resize, so it is applied as the two 1-D resize matrices it is (torch's antialiased filter is
  separable), obtained by resizing identity matrices.

Neither keeps the fast forms' memory bounds (the convolution holds ``J`` responses per channel): they are for
export, not training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["antialiased_resize_traceable", "exporting", "kernel_field_traceable", "strip_filter_traceable"]


def exporting() -> bool:
    """True while ``torch.onnx.export`` or ``torch.jit.trace`` records a graph."""
    return bool(torch.onnx.is_in_onnx_export() or torch.jit.is_tracing())


def strip_filter_traceable(
    frames: list[torch.Tensor], bases: list[torch.Tensor], coeffs: torch.Tensor, dilations: list[int]
) -> torch.Tensor:
    """:func:`~fnflight.ops.basis_filter.strip_filter`'s value: frames ``(B, N_i, C, H, W)``, bases
    ``(B, J, N_i, C, K_i, K_i)``, coeffs ``(B, J, H, W)`` -> ``(B, C, H, W)``.

    >>> from fnflight.ops.basis_filter import strip_filter
    >>> x, bas, co = torch.rand(2, 1, 3, 12, 13), torch.rand(2, 4, 1, 3, 3, 3), torch.rand(2, 4, 12, 13)
    >>> fast = strip_filter([x], [bas], co, [2])
    >>> torch.allclose(strip_filter_traceable([x], [bas], co, [2]), fast, atol=1e-5)
    True
    """
    out = []
    for b in range(coeffs.shape[0]):
        total = None
        for x, bas, d in zip(frames, bases, dilations):
            # channel counts and kernel sizes as constants of the graph (int()); only H and W stay dynamic
            n, c, j, k = int(x.shape[1]), int(x.shape[2]), int(bas.shape[1]), int(bas.shape[-1])
            h, w = x.shape[-2:]
            pad = d * (k - 1) // 2
            xb = F.pad(x[b].reshape(1, n * c, h, w), (pad, pad, pad, pad), mode="reflect")
            # weight (N*C*J, 1, K, K): output channel (n, c, j) correlates input channel (n, c) with basis j
            weight = bas[b].permute(1, 2, 0, 3, 4).reshape(n * c * j, 1, k, k)
            resp = F.conv2d(xb, weight, dilation=d, groups=n * c)  # (1, N*C*J, H, W)
            resp = resp.reshape(n, c, j, h, w).sum(0)  # (C, J, H, W)
            total = resp if total is None else total + resp
        out.append((total * coeffs[b].unsqueeze(0)).sum(1))  # (C, H, W)
    return torch.stack(out)


def kernel_field_traceable(xpad: torch.Tensor, kernels: torch.Tensor, k: int) -> torch.Tensor:
    """The kernel field's tap loop without its custom Function: ``xpad (B, N, C, H+K-1, W+K-1)``,
    ``kernels (B, N, Ck, K*K, H, W)`` -> ``(B, C, H, W)``."""
    h, w = kernels.shape[-2:]
    acc = None
    for t in range(k * k):
        ky, kx = divmod(t, k)
        term = kernels[:, :, :, t] * xpad[..., ky : ky + h, kx : kx + w]
        acc = term if acc is None else acc + term
    return acc.sum(1)


def _resize_matrix(n_in: int, n_out: int, like: torch.Tensor) -> torch.Tensor:
    """``(n_out, n_in)``: antialiased bilinear resizing of a length-``n_in`` signal to ``n_out`` samples."""
    # along the width of 1-row images: torch resizes a (n, 1) column differently from the rows of a 2-D map
    eye = torch.eye(n_in, dtype=like.dtype, device=like.device).reshape(n_in, 1, 1, n_in)
    out = F.interpolate(eye, size=(1, n_out), mode="bilinear", align_corners=False, antialias=True)
    return out[:, 0, 0, :].t()


def antialiased_resize_traceable(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``F.interpolate(x, size, mode="bilinear", align_corners=False, antialias=True)`` for ``(B, C, H, W)``
    with fixed H, W, as two matrix products.

    >>> x = torch.rand(2, 3, 16, 16)
    >>> want = F.interpolate(x, size=(8, 6), mode="bilinear", align_corners=False, antialias=True)
    >>> torch.allclose(antialiased_resize_traceable(x, (8, 6)), want, atol=1e-6)
    True
    """
    h, w = int(x.shape[-2]), int(x.shape[-1])
    rows, cols = _resize_matrix(h, int(size[0]), x), _resize_matrix(w, int(size[1]), x)
    return torch.matmul(torch.matmul(rows, x), cols.t())
