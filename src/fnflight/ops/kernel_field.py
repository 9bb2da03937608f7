"""Per-pixel kernel fields (KPN, Mildenhall et al., paper 002; the KPN baseline of paper 000's supplement:
per-pixel 5x5 kernels per colour channel per frame, results summed over frames).

``out[b, c] = sum_n sum_t kernels[b, n, c, t] * patch_t(frames[b, n, c])`` with reflect borders. The kernels
are an input here (the network predicts them), so they are the dominant memory; the op itself must not add a
``(..., K*K, H, W)`` patch tensor of the frames. It loops over the K*K taps accumulating shifted products,
in a custom autograd Function whose backward loops too, so autograd keeps no shifted copies.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fnflight.ops._checks import (
    autocast_off,
    check_dim,
    check_ndim,
    check_reflect,
    check_tensor,
    harmonise,
)
from fnflight.ops.basis_filter import reflect_pad_frames
from fnflight.ops.traceable import exporting, kernel_field_traceable

__all__ = ["KernelFieldFilter", "kernel_field_filter"]


class _TapLoopKernelField(torch.autograd.Function):
    """xpad (B, N, C, H+K-1, W+K-1), kernels (B, N, Ck, K*K, H, W) -> (B, C, H, W)."""

    @staticmethod
    def forward(ctx, xpad, kernels, k: int):
        b, n, c, hp, wp = xpad.shape
        h, w = hp - k + 1, wp - k + 1
        acc = xpad.new_zeros(b, n, c, h, w)
        for t in range(k * k):
            ky, kx = divmod(t, k)
            acc.addcmul_(kernels[:, :, :, t], xpad[..., ky : ky + h, kx : kx + w])
        ctx.save_for_backward(xpad, kernels)
        ctx.k = k
        return acc.sum(1)

    @staticmethod
    def backward(ctx, grad_out):
        xpad, kernels = ctx.saved_tensors
        k = ctx.k
        b, n, c, hp, wp = xpad.shape
        h, w = hp - k + 1, wp - k + 1
        g = grad_out.unsqueeze(1)  # (B, 1, C, H, W)
        gx = torch.zeros_like(xpad) if ctx.needs_input_grad[0] else None
        gk = torch.empty_like(kernels) if ctx.needs_input_grad[1] else None
        shared = kernels.shape[2] == 1 and c > 1
        for t in range(k * k):
            ky, kx = divmod(t, k)
            if gx is not None:
                gx[..., ky : ky + h, kx : kx + w].addcmul_(kernels[:, :, :, t], g)
            if gk is not None:
                prod = xpad[..., ky : ky + h, kx : kx + w] * g
                gk[:, :, :, t] = prod.sum(2, keepdim=True) if shared else prod
        return gx, gk, None


def kernel_field_filter(frames: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    r"""Filter each frame with its own per-pixel K x K kernels and sum over frames.

    ``out[b, c] = sum_n sum_t kernels[b, n, c', t] * patch_t(frames[b, n, c])`` with ``c' = c`` for
    per-colour kernels (Ck = C) or ``c' = 0`` for kernels shared across colour (Ck = 1). Taps ``t`` are
    row-major over the K x K window; correlation (torch sense); reflect borders.

    Args:
        frames: ``(B, N, C, H, W)`` or ``(B, C, H, W)`` (N = 1).
        kernels: ``(B, N, Ck, K*K, H, W)``, Ck in (1, C), K odd; H, W > (K-1)/2.

    Returns:
        ``(B, C, H, W)``. Under autocast the op computes and returns float32.

    Example:
        >>> frames = torch.rand(1, 2, 3, 6, 7)
        >>> kernels = torch.zeros(1, 2, 1, 9, 6, 7); kernels[:, :, :, 4] = 0.5  # centre tap, mean of frames
        >>> torch.allclose(kernel_field_filter(frames, kernels), frames.mean(1))
        True
    """
    check_tensor(frames, "frames")
    check_tensor(kernels, "kernels")
    check_ndim(frames, "frames", (4, 5), "(B, N, C, H, W) or (B, C, H, W)")
    check_ndim(kernels, "kernels", (6,), "(B, N, Ck, K*K, H, W)")
    x = frames if frames.ndim == 5 else frames.unsqueeze(1)
    b, n, c, h, w = x.shape
    check_dim(kernels, "kernels", 0, b, "batch, from frames")
    check_dim(kernels, "kernels", 1, n, "frames N, from frames")
    if kernels.shape[2] not in (1, c):
        raise ValueError(f"kernels has shape {tuple(kernels.shape)}: dimension 2 (Ck) must be 1 or C={c}")
    if kernels.shape[-2:] != (h, w):
        raise ValueError(f"kernels has shape {tuple(kernels.shape)}, expected H, W = {h}, {w} from frames")
    taps = kernels.shape[3]
    k = math.isqrt(taps)
    if k * k != taps or k % 2 == 0:
        raise ValueError(
            f"kernels has shape {tuple(kernels.shape)}: dimension 3 must be K*K with K odd, got {taps}"
        )
    t = harmonise("frames", {"frames": x, "kernels": kernels})
    check_reflect(h, w, (k - 1) // 2, "frames", f"K={k}")
    with autocast_off(x.device):
        xpad = reflect_pad_frames(t["frames"], (k - 1) // 2)
        if exporting():  # an exporter cannot follow the custom Function (fnflight.ops.traceable)
            return kernel_field_traceable(xpad, t["kernels"], k)
        return _TapLoopKernelField.apply(xpad, t["kernels"], k)


class KernelFieldFilter(nn.Module):
    """Module form of :func:`kernel_field_filter` (no parameters).

    Example:
        >>> KernelFieldFilter()(torch.rand(1, 8, 3, 6, 6), torch.rand(1, 8, 3, 25, 6, 6)).shape
        torch.Size([1, 3, 6, 6])
    """

    def forward(self, frames: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
        return kernel_field_filter(frames, kernels)
