"""Filtering with a global kernel basis and per-pixel coefficients (BPN, Xia et al. CVPR 2020; paper 000
section 3.2.4 with one scale).

``F[n] = sum_j c_j[n] sum_f (x_f *_d A_{j,f})[n]`` per colour channel, ``*_d`` a correlation dilated by ``d``
with reflect borders. The authors' code builds every pixel's kernel (``sum_j c_j A_j``) and every pixel's
patch and multiplies them: about 1 GB for one 448x448 image with J=90, K=15. Here nothing per-pixel-per-tap is
materialised for the whole image; see :class:`_StripFilter` for the design.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fnflight.ops._checks import (
    autocast_off,
    check_dim,
    check_ndim,
    check_odd_square,
    check_positive_int,
    check_reflect,
    check_tensor,
    harmonise,
)

__all__ = ["BasisFilter", "basis_filter"]

# Output pixels per strip (the N dimension of the strip GEMMs; rows are whole padded rows). Peak extra memory
# is ~ C * (rows of P) * STRIP_PIXELS * 4 bytes for the patch matrix (177 MB for C=3 and the two-scale P of
# 2 * 15 * 15 rows) plus a few C * J * STRIP_PIXELS response-sized buffers, independent of the image size
# (the saved responses R, C * J * H * Wp floats, come on top when coeffs need a gradient). Measured on the
# shared 2-core AVX-512 machine (fnflight bench ops): 32k beat 16k and 8k, because each parallel op pays a
# scheduling latency there and MKL's GEMM rate for these shapes (M = J = 90) still grows with N up to ~32k.
# Read at call time so that tests and the benchmark may change it.
STRIP_PIXELS = 32768


class _Source:
    """One filtered signal of the strip algorithm: padded frames ``(C, N, Hb, Wp)`` of one batch element,
    correlated with K x K kernels dilated by ``d``.

    Every source of a call shares the row length ``Wp`` (the widest reflect padding, ``2 * pad_max``
    columns more than W); a source padded by less sits ``e = pad_max - pad`` zero columns in from the left,
    and each buffer has one spare zero row at the bottom. Then the patch-matrix row of tap ``(f, ky, kx)``
    for output pixels ``m = y * Wp + x`` is the flat window starting at ``(y0 + d*ky) * Wp + e + d*kx``: one
    strided view per source for the whole patch matrix (``im2col``), and the columns ``x >= W`` are garbage
    (computed, then dropped; their gradient is zero).
    """

    def __init__(self, buf: torch.Tensor, n: int, k: int, d: int, e: int) -> None:
        self.buf, self.n, self.k, self.d, self.e = buf, n, k, d, e
        self.c, _, self.hb, self.wp = buf.shape
        self.taps = n * k * k

    def im2col(self, i0: int, s: int, out: torch.Tensor) -> None:
        """``out (C, N*K*K, s*Wp)[c, (f, ky, kx), m] = buf[c, f].flat[(i0 + d*ky)*Wp + e + d*kx + m]``."""
        c, n, k, d, wp = self.c, self.n, self.k, self.d, self.wp
        t = self.hb * wp
        view = self.buf.as_strided(
            (c, n, k, k, s * wp), (n * t, t, d * wp, d, 1), self.buf.storage_offset() + i0 * wp + self.e
        )
        out.view(c, n, k, k, s * wp).copy_(view)

    def col2im(self, gp: torch.Tensor, i0: int, s: int, grad: torch.Tensor, ws: _Workspace) -> None:
        """Adjoint of :meth:`im2col`: add the patch-matrix gradient ``gp (C, N*K*K, s*Wp)`` (a slice of a
        ``(C, rows, s*Wp)`` buffer) into ``grad``, a zero-initialised tensor shaped like ``buf``."""
        c, n, k, d, wp = self.c, self.n, self.k, self.d, self.wp
        size = s * wp
        # kx part in one reduction ("skew" trick): reading the rows of length S with row stride S - d
        # shifts row kx by kx*d; what wraps in from the previous row is a garbage column (x >= W, since
        # d*(K-1) <= Wp - W) whose gradient is zero, so a strided sum does the fold.
        skew = gp.as_strided((c, n * k, k, size), (gp.stride(0), k * size, size - d, 1), gp.storage_offset())
        vsum = torch.sum(skew, 2, out=ws.get("vsum", c, n * k, size))  # (C, N*K_y, S)
        # ky part: a (K x 1) col2im dilated by d, one op
        rows = F.fold(vsum, (s + d * (k - 1), wp), (k, 1), dilation=(d, 1)).view(c, n, -1)
        start = i0 * wp + self.e
        grad.view(c, n, -1)[:, :, start : start + rows.shape[-1]].add_(rows)


class _Workspace:
    """Flat buffers reused across strips: fresh multi-MB tensors per strip cost page faults (and kernel
    zeroing) on every allocation, which showed up as a large share of the op's time."""

    def __init__(self, like: torch.Tensor) -> None:
        self.like, self.bufs = like, {}

    def get(self, name: str, *shape: int) -> torch.Tensor:
        numel = 1
        for v in shape:
            numel *= v
        buf = self.bufs.get(name)
        if buf is None or buf.numel() < numel:
            buf = self.bufs[name] = self.like.new_empty(numel)
        return buf[:numel].view(*shape)


class _StripFilter(torch.autograd.Function):
    """``out[b, c] = sum_j coeffs[b, j] * R[b, c, j]``, ``R[b, c] = basis[b, c] @ P[b, c]``: P the patch
    matrix whose rows are the taps of every source (see :class:`_Source`), basis ``(B, C, J, rows)``.

    Design (alternatives measured with ``fnflight bench ops`` and micro-benchmarks on the 2-core machine):

    - One patch matrix for all sources. For paper 000 eq. 4 the fine taps (image, dilation 1) and the
      coarse taps (tent-prefiltered image, dilation d) are stacked into 2*K*K rows, so ONE GEMM with inner
      dimension 450 (K=15) gives the summed response ``sum_scales R`` directly: larger, more efficient GEMMs
      than two passes of 225, and one coefficient reduction instead of two.
    - The image is processed in row strips of ~STRIP_PIXELS output pixels over the padded width Wp (so
      every GEMM operand is a plain strided matrix; columns x >= W are garbage, dropped, with zero
      gradient). Per strip: ``R (C, J, S) = bmm(basis, P)``, channel-batched (beat per-channel ``mm`` for
      these shapes), then ``out = sum_j coeffs_j * R_j``.
    - Forward keeps R for the whole image when coeffs need a gradient (C * J * H * Wp floats, 244 MB for
      DeepFnF at 448^2, instead of recomputing it): ``grad_coeffs = sum_c g * R`` needs no GEMM. Backward
      per strip: ``grad_R = g * coeffs``; ``grad_basis += grad_R @ P^T`` (P rebuilt: the im2col copy is
      cheap next to a GEMM); ``grad_P = basis^T @ grad_R`` folded into the padded sources' gradient (a
      skewed strided sum for kx, a (K x 1) col2im for ky). The reflect/zero padding and the tent prefilter
      are ordinary autograd ops outside (the tent's adjoint comes from autograd). Three GEMMs per strip
      when everything needs a gradient; only those autograd needs run (no P in backward without a basis
      gradient, no grad_P GEMM and fold without an image gradient).
    - Full-image grouped ``conv2d`` (oneDNN) was slower than these GEMMs for the forward alone; a
      row-grouped P (K/G GEMMs over windows of a smaller matrix) moves less memory but issues more,
      smaller ops, which lost on the shared machine.
    """

    @staticmethod
    def forward(ctx, basis, coeffs, layout, *bufs):
        b_, c, j, _ = basis.shape
        h, w = coeffs.shape[-2:]
        wp = bufs[0].shape[-1]
        rows = max(1, min(h, STRIP_PIXELS // wp))
        save_r = ctx.needs_input_grad[1]
        resp = coeffs.new_empty(b_, c, j, h * wp) if save_r else None
        out = coeffs.new_empty(b_, c, h, w)
        ws = _Workspace(coeffs)
        for b in range(b_):
            srcs = [_Source(buf[b], *lay) for buf, lay in zip(bufs, layout)]
            for i0 in range(0, h, rows):
                s = min(rows, h - i0)
                p = _patches(srcs, i0, s, ws)
                r = resp[b][:, :, i0 * wp : (i0 + s) * wp] if save_r else ws.get("r", c, j, s * wp)
                torch.bmm(basis[b], p, out=r)
                prod = ws.get("prod", c, j, s, w)
                torch.mul(r.view(c, j, s, wp)[..., :w], coeffs[b][None, :, i0 : i0 + s], out=prod)
                out[b][:, i0 : i0 + s] = prod.sum(1)
        ctx.save_for_backward(basis, coeffs, resp, *bufs)
        ctx.layout = layout
        return out

    @staticmethod
    def backward(ctx, grad_out):
        basis, coeffs, resp, *bufs = ctx.saved_tensors
        layout = ctx.layout
        need_basis, need_coeffs = ctx.needs_input_grad[:2]
        need_src = ctx.needs_input_grad[3:]
        b_, c, j, nrows = basis.shape
        h, w = coeffs.shape[-2:]
        wp = bufs[0].shape[-1]
        rows = max(1, min(h, STRIP_PIXELS // wp))
        grad_out = grad_out.contiguous()
        gbasis = torch.zeros_like(basis) if need_basis else None
        gco = torch.empty_like(coeffs) if need_coeffs else None
        gbufs = [torch.zeros_like(buf) if need else None for buf, need in zip(bufs, need_src)]
        ws = _Workspace(coeffs)
        for b in range(b_):
            srcs = [_Source(buf[b], *lay) for buf, lay in zip(bufs, layout)]
            basis_t = basis[b].transpose(1, 2)  # (C, rows, J)
            for i0 in range(0, h, rows):
                s = min(rows, h - i0)
                size = s * wp
                go = grad_out[b][:, i0 : i0 + s]  # (C, s, W)
                co = coeffs[b][:, i0 : i0 + s]  # (J, s, W)
                if need_coeffs:
                    r = resp[b][:, :, i0 * wp : (i0 + s) * wp].view(c, j, s, wp)[..., :w]
                    prod = ws.get("prod", c, j, s, w)
                    torch.mul(r, go[:, None], out=prod)
                    torch.sum(prod, 0, out=gco[b][:, i0 : i0 + s])
                if not (need_basis or any(need_src)):
                    continue
                gr4 = ws.get("gr", c, j, s, wp)
                gr4[..., w:].zero_()  # garbage columns x >= W carry no gradient
                torch.mul(go[:, None], co[None], out=gr4[..., :w])
                gr = gr4.view(c, j, size)
                if need_basis:
                    gbasis[b].baddbmm_(gr, _patches(srcs, i0, s, ws).transpose(1, 2))
                if any(need_src):
                    gp = torch.bmm(basis_t, gr, out=ws.get("p", c, nrows, size))  # reuses P's buffer
                    off = 0
                    for src, gbuf in zip(srcs, gbufs):
                        if gbuf is not None:
                            src.col2im(gp[:, off : off + src.taps], i0, s, gbuf[b], ws)
                        off += src.taps
        return (gbasis, gco, None, *gbufs)


def _patches(srcs: list[_Source], i0: int, s: int, ws: _Workspace) -> torch.Tensor:
    """The strip's patch matrix ``P (C, sum of N*K*K over sources, s*Wp)``, sources' rows stacked."""
    size = s * srcs[0].wp
    p = ws.get("p", srcs[0].c, sum(src.taps for src in srcs), size)
    off = 0
    for src in srcs:
        src.im2col(i0, s, p[:, off : off + src.taps])
        off += src.taps
    return p


def strip_filter(
    frames: list[torch.Tensor], bases: list[torch.Tensor], coeffs: torch.Tensor, dilations: list[int]
) -> torch.Tensor:
    """``sum_i sum_j coeffs_j * sum_n (frames_i[:, n] *_{d_i} bases_i[:, j, n])`` per colour channel, reflect
    borders, in one strip pass (one GEMM per strip for all sources; see :class:`_StripFilter`).

    Internal: inputs already checked and harmonised; frames ``(B, N_i, C, H, W)``, bases
    ``(B, J, N_i, C, K_i, K_i)``, coeffs ``(B, J, H, W)``. Call under :func:`autocast_off`.
    """
    pads = [d * (bas.shape[-1] - 1) // 2 for bas, d in zip(bases, dilations)]
    wide = max(pads)
    bufs, layout, flat = [], [], []
    for x, bas, d, pad in zip(frames, bases, dilations, pads):
        b, n, c = x.shape[:3]
        e = wide - pad
        xpad = reflect_pad_frames(x, pad).permute(0, 2, 1, 3, 4)  # (B, C, N, Hp, Wp)
        # common row length, plus a spare zero row: a strip's flat views run up to e + 2*pad elements past
        # its last row (only into garbage columns x >= W)
        bufs.append(F.pad(xpad, (e, e, 0, 1)).contiguous())
        k = bas.shape[-1]
        layout.append((n, k, d, e))
        flat.append(bas.permute(0, 3, 1, 2, 4, 5).reshape(b, c, bas.shape[1], n * k * k))
    basis = flat[0] if len(flat) == 1 else torch.cat(flat, -1)
    return _StripFilter.apply(basis, coeffs, tuple(layout), *bufs)


def reflect_pad_frames(frames: torch.Tensor, pad: int) -> torch.Tensor:
    """Reflect-pad the last two dims of a (B, N, C, H, W) tensor by ``pad``."""
    b, n, c, h, w = frames.shape
    if pad == 0:
        return frames
    return F.pad(frames.reshape(b * n, c, h, w), (pad, pad, pad, pad), mode="reflect").reshape(
        b, n, c, h + 2 * pad, w + 2 * pad
    )


def _check_basis_inputs(image, basis, coeffs, dilation, name_basis="basis"):
    check_tensor(image, "image")
    check_tensor(basis, name_basis)
    check_tensor(coeffs, "coeffs")
    check_positive_int(dilation, "dilation")
    check_ndim(image, "image", (4, 5), "(B, C, H, W) or (B, N, C, H, W)")
    want = image.ndim + 1
    layout = "(B, J, C, K, K)" if image.ndim == 4 else "(B, J, N, C, K, K)"
    if basis.ndim != want:
        raise ValueError(
            f"{name_basis} must have shape {layout} for a {image.ndim}-D image of shape "
            f"{tuple(image.shape)}, got shape {tuple(basis.shape)}"
        )
    check_odd_square(basis, name_basis, layout)
    check_ndim(coeffs, "coeffs", (4,), "(B, J, H, W)")
    bsz, h, w = image.shape[0], image.shape[-2], image.shape[-1]
    check_dim(basis, name_basis, 0, bsz, "batch, from image")
    check_dim(basis, name_basis, -3, image.shape[-3], "colour channels C, from image")
    if image.ndim == 5:
        check_dim(basis, name_basis, 2, image.shape[1], "frames N, from image")
    check_dim(coeffs, "coeffs", 0, bsz, "batch, from image")
    check_dim(coeffs, "coeffs", 1, basis.shape[1], f"J, from {name_basis}")
    if coeffs.shape[-2:] != image.shape[-2:]:
        raise ValueError(
            f"coeffs has shape {tuple(coeffs.shape)} but image has H, W = {h}, {w}; expected (B, J, {h}, {w})"
        )


def basis_filter(
    image: torch.Tensor, basis: torch.Tensor, coeffs: torch.Tensor, dilation: int = 1
) -> torch.Tensor:
    r"""Filter with per-pixel kernels given as coefficients over a global (per-sample) kernel basis.

    ``out[b, c] = sum_j coeffs[b, j] * sum_n (image[b, n, c] *_d basis[b, j, n, c])``, with ``*_d`` the
    correlation (torch/kornia sense) dilated by ``dilation`` and reflect borders. The basis is not normalised
    (paper 000 section 3.2.2). With frames ``N`` each frame is filtered with its own kernels and the results
    are summed (BPN).

    Args:
        image: ``(B, C, H, W)`` or ``(B, N, C, H, W)``.
        basis: ``(B, J, C, K, K)`` or ``(B, J, N, C, K, K)``, K odd.
        coeffs: ``(B, J, H, W)``.
        dilation: tap spacing ``d``; the footprint is ``(K-1)d+1``. H and W must exceed ``(K-1)d/2``.

    Returns:
        ``(B, C, H, W)``. Under autocast the op computes and returns float32.

    Example:
        >>> img = torch.rand(1, 3, 8, 9)
        >>> basis = torch.zeros(1, 2, 3, 3, 3); basis[:, 0, :, 1, 1] = 1.0  # basis 0 = identity
        >>> coeffs = torch.zeros(1, 2, 8, 9); coeffs[:, 0] = 2.0
        >>> torch.allclose(basis_filter(img, basis, coeffs), 2 * img)
        True
    """
    _check_basis_inputs(image, basis, coeffs, dilation)
    t = harmonise("image", {"image": image, "basis": basis, "coeffs": coeffs})
    image, basis, coeffs = t["image"], t["basis"], t["coeffs"]
    k = basis.shape[-1]
    pad = dilation * (k - 1) // 2
    check_reflect(image.shape[-2], image.shape[-1], pad, "image", f"K={k}, dilation={dilation}")
    frames = image if image.ndim == 5 else image.unsqueeze(1)
    bas = basis if basis.ndim == 6 else basis.unsqueeze(2)  # (B, J, N, C, K, K)
    with autocast_off(image.device):
        return strip_filter([frames], [bas], coeffs, [dilation])


class BasisFilter(nn.Module):
    """Module form of :func:`basis_filter` (no parameters).

    Example:
        >>> op = BasisFilter(dilation=2)
        >>> op(torch.rand(1, 3, 8, 8), torch.rand(1, 4, 3, 3, 3), torch.rand(1, 4, 8, 8)).shape
        torch.Size([1, 3, 8, 8])
    """

    def __init__(self, dilation: int = 1) -> None:
        super().__init__()
        self.dilation = dilation

    def forward(self, image: torch.Tensor, basis: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
        return basis_filter(image, basis, coeffs, self.dilation)

    def extra_repr(self) -> str:
        return f"dilation={self.dilation}"
