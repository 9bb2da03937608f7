"""Filtering with a global kernel basis and per-pixel coefficients (BPN, Xia et al. CVPR 2020; paper 000
section 3.2.4 with one scale).

``F[n] = sum_j c_j[n] sum_f (x_f *_d A_{j,f})[n]`` per colour channel, ``*_d`` a correlation dilated by ``d``
with reflect borders. The authors' code builds every pixel's kernel (``sum_j c_j A_j``) and every pixel's
patch and multiplies them: about 1 GB for one 448x448 image with J=90, K=15. Here nothing per-pixel-per-tap is
materialised for the whole image; see :class:`_StripBasisFilter` for the design.
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

# Output pixels per strip and colour channel (the N dimension of the strip GEMMs; rows are whole padded rows).
# Measured on the shared 2-core AVX-512 machine (fnflight bench ops): 32k beat 16k and 8k, because each
# parallel op pays a scheduling latency there; a strip's buffers are then
# ~ C * N * K*K * STRIP_PIXELS * 4 bytes (88 MB for C=3, K=15) plus C * J * STRIP_PIXELS * 4 bytes per
# response buffer, independent of the image size. Read at call time so the benchmark may change it.
STRIP_PIXELS = 32768


# Kernel rows per GEMM (see _Plan.im2col): 0 = all K rows (one GEMM per strip and pass, the full im2col of
# the strip); g > 0 = the divisor of K closest to g (K/G GEMMs over windows of a G/K-times smaller patch
# matrix). Fewer, larger ops won on the shared 2-core machine, where every parallel op pays a scheduling
# latency; the grouped form moves less memory on a quiet one.
ROW_GROUP = 0


def _row_group(k: int) -> int:
    if ROW_GROUP <= 0:
        return k
    divisors = [g for g in range(1, k + 1) if k % g == 0]
    return min(divisors, key=lambda g: (abs(g - ROW_GROUP), -g))


class _Plan:
    """Per (batch element, row residue) state of the strip algorithm.

    With dilation ``d`` the output rows ``y = r, r + d, r + 2d, ...`` of residue ``r`` only read padded rows
    ``r + d*(i + ky)``: taking every d-th padded row turns the vertical dilation into 1, so the row-grouped
    patch matrix below stays compact. Columns keep their dilation (it is just a stride of the view).
    """

    def __init__(self, xpad_b: torch.Tensor, r: int, d: int, k: int, h: int, w: int) -> None:
        src = xpad_b[:, :, r::d, :]  # (C, N, Hs, Wp)
        c, n, hs, wp = src.shape
        # one spare zero row: the flat views of the last strip run up to (K-1)*d elements past the image
        # (only into garbage columns x >= W that are dropped).
        self.buf = src.new_zeros(c, n, hs + 1, wp)
        self.buf[:, :, :hs] = src
        self.c, self.n, self.hs, self.wp, self.k, self.d = c, n, hs, wp, k, d
        self.h_out = len(range(r, h, d))
        self.w = w
        self.g = _row_group(k)
        self.ng = k // self.g
        self.rows = max(1, min(self.h_out, STRIP_PIXELS // wp))

    def strips(self):
        for i0 in range(0, self.h_out, self.rows):
            yield i0, min(self.rows, self.h_out - i0)

    def length(self, s: int) -> int:
        return s * self.wp + (self.ng - 1) * self.g * self.wp

    def im2col(self, i0: int, s: int, out: torch.Tensor) -> torch.Tensor:
        """Row-grouped patch matrix Q (C, N*G*K, L): ``Q[c, (f, a, kx), m] = src[c, f].flat[(i0 + a)*Wp + m +
        d*kx]``. The GEMM for kernel rows ``g*G .. g*G+G-1`` reads the column window ``m in [g*G*Wp,
        g*G*Wp + s*Wp)`` of Q, a plain strided matrix: Q is K/G times smaller than the full im2col."""
        c, n, g, k, wp = self.c, self.n, self.g, self.k, self.wp
        t = (self.hs + 1) * wp
        length = self.length(s)
        view = self.buf.as_strided(
            (c, n, g, k, length), (n * t, t, wp, self.d, 1), self.buf.storage_offset() + i0 * wp
        )
        q = out[:, :, :length]
        q.view(c, n, g, k, length).copy_(view)
        return q


class _Workspace:
    """Flat buffers reused across strips and residues: fresh multi-MB tensors per strip cost page faults
    (and kernel zeroing) on every allocation, which showed up as a large share of the op's time."""

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


def _group_basis(basis_b: torch.Tensor, g: int) -> torch.Tensor:
    """(C, J, N, K, K) -> (K/G, C, J, N*G*K): the taps of each group of G kernel rows, GEMM-ready."""
    c, j, n, k, _ = basis_b.shape
    return basis_b.reshape(c, j, n, k // g, g, k).permute(3, 0, 1, 2, 4, 5).reshape(k // g, c, j, n * g * k)


def _ungroup_basis(bg: torch.Tensor, c: int, j: int, n: int, k: int) -> torch.Tensor:
    ng = bg.shape[0]
    return bg.reshape(ng, c, j, n, k // ng, k).permute(1, 2, 3, 0, 4, 5).reshape(c, j, n, k, k)


class _StripBasisFilter(torch.autograd.Function):
    """``out[b, c] = sum_j coeffs[b, j] * sum_f corr_d(xpad[b, c, f], basis[b, c, j, f])`` (valid part).

    Design (alternatives measured with ``fnflight bench ops`` and micro-benchmarks on the 2-core machine):
    the image is processed in row strips of ~STRIP_PIXELS output pixels. For a strip, per colour channel,
    the responses ``R (C, J, S) = basis (C, J, N*K*K) @ Q (C, N*K*K, S)`` are one batched GEMM over colour
    channels (Q = the strip's patch matrix), then ``out = sum_j coeffs_j * R_j``. Backward recomputes R per
    strip (no per-pixel-per-basis tensor is kept): ``grad_coeffs = sum_c g*R``, ``grad_R = g*coeffs``,
    ``grad_basis += grad_R @ Q^T``, ``grad_Q = basis^T @ grad_R``, folded into the image gradient (a skewed
    strided sum for the kx shifts, a (K x 1) col2im for the rows). Peak extra memory is one strip's Q, R,
    grad_R and grad_Q, reused across strips. Rows are computed over the padded width Wp (S = s*Wp, garbage
    columns x >= W discarded, their gradient zero) so that every GEMM operand is a plain strided matrix.
    Dilation is handled per row residue (see :class:`_Plan`). Full-image grouped ``conv2d`` (oneDNN) was
    slower than these GEMMs for the forward alone and needs R for the whole image; the row-grouped Q
    (``ROW_GROUP > 0``) moves less memory but issues more, smaller ops, which lost on the shared machine.
    """

    @staticmethod
    def forward(ctx, xpad, basis, coeffs, dilation: int):
        b_, c, j, n, k, _ = basis.shape
        h, w = coeffs.shape[-2:]
        out = coeffs.new_zeros(b_, c, h, w)
        ws = _Workspace(xpad)
        for b in range(b_):
            bg = None
            for r in range(dilation):
                plan = _Plan(xpad[b], r, dilation, k, h, w)
                if plan.h_out == 0:
                    continue
                if bg is None:
                    bg = _group_basis(basis[b], plan.g)
                qbuf = ws.get("q", c, n * plan.g * k, plan.length(plan.rows))
                out_r, co_r = out[b][:, r::dilation], coeffs[b][:, r::dilation]
                for i0, s in plan.strips():
                    q = plan.im2col(i0, s, qbuf)
                    resp = _responses(bg, q, s, plan, ws)
                    prod = ws.get("prod", c, j, s, w)
                    torch.mul(resp, co_r[None, :, i0 : i0 + s], out=prod)
                    out_r[:, i0 : i0 + s] = prod.sum(1)
        ctx.save_for_backward(xpad, basis, coeffs)
        ctx.dilation = dilation
        return out

    @staticmethod
    def backward(ctx, grad_out):
        xpad, basis, coeffs = ctx.saved_tensors
        d = ctx.dilation
        need_x, need_basis, need_coeffs = ctx.needs_input_grad[:3]
        b_, c, j, n, k, _ = basis.shape
        h, w = coeffs.shape[-2:]
        grad_out = grad_out.contiguous()
        gx = torch.zeros_like(xpad) if need_x else None
        gbasis = torch.zeros_like(basis) if need_basis else None
        gco = torch.zeros_like(coeffs) if need_coeffs else None
        ws = _Workspace(xpad)
        for b in range(b_):
            bg = gbg = bnat_t = None
            for r in range(d):
                plan = _Plan(xpad[b], r, d, k, h, w)
                if plan.h_out == 0:
                    continue
                if bg is None:
                    bg = _group_basis(basis[b], plan.g)
                    gbg = torch.zeros_like(bg)
                    bnat_t = basis[b].reshape(c, j, n * k * k).transpose(1, 2)
                wp, g, ng = plan.wp, plan.g, plan.ng
                lmax = plan.length(plan.rows)
                qbuf = ws.get("q", c, n * g * k, lmax)
                gxbuf = torch.zeros_like(plan.buf).view(c, n, -1) if need_x else None
                go_r, co_r = grad_out[b][:, r::d], coeffs[b][:, r::d]
                for i0, s in plan.strips():
                    size = s * wp
                    q = plan.im2col(i0, s, qbuf)
                    go = go_r[:, i0 : i0 + s]  # (C, s, W)
                    co = co_r[:, i0 : i0 + s]  # (J, s, W)
                    if need_coeffs:
                        resp = _responses(bg, q, s, plan, ws)
                        prod = ws.get("prod", c, j, s, w)
                        torch.mul(resp, go[:, None], out=prod)
                        gco[b][:, r::d][:, i0 : i0 + s] = prod.sum(0)
                    gr4 = ws.get("gr", c, j, s, wp)
                    gr4[..., w:].zero_()  # garbage columns x >= W carry no gradient
                    torch.mul(go[:, None], co[None], out=gr4[..., :w])
                    gr = gr4.view(c, j, size)
                    if need_basis:
                        for gi in range(ng):
                            o = gi * g * wp
                            gbg[gi].baddbmm_(gr, q[:, :, o : o + size].transpose(1, 2))
                    if need_x:
                        # grad of the full patch matrix for this strip in one GEMM (rows (f, ky, kx))
                        gp = ws.get("gp", c, n * k * k, size)
                        for ch in range(c):
                            torch.mm(bnat_t[ch], gr[ch], out=gp[ch])
                        # col2im, kx part in one reduction ("skew" trick): reading the rows of length S with
                        # row stride S - d shifts row kx by kx*d; what wraps in from a neighbouring row is a
                        # garbage column (x >= W) whose gradient is zero, so a strided sum does the fold.
                        skew = gp.as_strided((c, n * k, k, size), (n * k * k * size, k * size, size - d, 1))
                        vsum = torch.sum(skew, 2, out=ws.get("vsum", c, n * k, size))  # (C, N*K_y, S)
                        # ky part: a (K x 1) col2im, one op
                        rows = F.fold(vsum, (s + k - 1, wp), (k, 1)).view(c, n, (s + k - 1) * wp)
                        gxbuf[:, :, i0 * wp : (i0 + s + k - 1) * wp].add_(rows)
                if need_x:
                    gx[b][:, :, r::d] += gxbuf.view(c, n, -1, wp)[:, :, : plan.hs]
            if need_basis and gbg is not None:
                gbasis[b] = _ungroup_basis(gbg, c, j, n, k)
        return gx, gbasis, gco, None


def _responses(bg: torch.Tensor, q: torch.Tensor, s: int, plan: _Plan, ws: _Workspace) -> torch.Tensor:
    """R (C, J, s, W) for one strip: K/G accumulated batched GEMMs over windows of Q."""
    size, step = s * plan.wp, plan.g * plan.wp
    resp = ws.get("resp", q.shape[0], bg.shape[2], size)
    for ch in range(q.shape[0]):  # per-channel mm beat batched bmm by ~25% for these shapes (MKL, 2 cores)
        torch.mm(bg[0, ch], q[ch, :, :size], out=resp[ch])
        for gi in range(1, plan.ng):
            resp[ch].addmm_(bg[gi, ch], q[ch, :, gi * step : gi * step + size])
    return resp.view(resp.shape[0], resp.shape[1], s, plan.wp)[..., : plan.w]


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
        xpad = reflect_pad_frames(frames, pad).permute(0, 2, 1, 3, 4)  # (B, C, N, Hp, Wp)
        return _StripBasisFilter.apply(xpad, bas.permute(0, 3, 1, 2, 4, 5), coeffs, dilation)


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
