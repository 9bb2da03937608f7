"""Filtering with a global kernel basis and per-pixel coefficients (BPN, Xia et al. CVPR 2020; paper 000
section 3.2.4 with one scale).

``F[n] = sum_j c_j[n] sum_f (x_f *_d A_{j,f})[n]`` per colour channel, ``*_d`` a correlation dilated by ``d``
with reflect borders. The authors' code builds every pixel's kernel (``sum_j c_j A_j``) and every pixel's
patch and multiplies them: about 1 GB for one 448x448 image with J=90, K=15. Here nothing per-pixel-per-tap is
materialised for the whole image; see :class:`_StripFilter` for the design.
"""

from __future__ import annotations

import math
import threading

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
from fnflight.ops.traceable import exporting, strip_filter_traceable

__all__ = ["BasisFilter", "basis_filter", "release_scratch"]

# Padded pixels per strip (the N dimension of the strip GEMMs; the image's rows are split into equal strips
# of at most this many pixels over the padded width, at least one row each). Extra memory is ~ (rows of P)
# * STRIP_PIXELS * 4 bytes for one colour channel's patch matrix (22 MB for the two-scale P of 2 * 15 * 15
# rows) plus a few J * STRIP_PIXELS buffers, independent of the image size; the saved responses R
# (C * J * H * W floats) come on top when coeffs need a gradient. Measured on the shared 2-core AVX-512
# machine (448^2, J=90, fwd+bwd, medians of 5, side by side): with the scratch buffers kept between calls,
# 8k-16k pixels ran 0.94-0.97 s (12k best twice), 32k 1.09 s, 64k 1.15 s, 4k 1.03 s: a strip's patch
# matrix that stays in cache between its im2col copy and its GEMM outweighs the larger GEMMs. (Without the
# kept scratch, 64k won: fresh buffers paid page faults per strip.) Read at call time (tests change it).
STRIP_PIXELS = 12288
# Inference (no gradient) runs another form (:func:`_inference_forward`) over 2-D blocks of pixels: one
# row-im2col of the K horizontal taps per source, K GEMMs (pixels x K) @ (K x J) over row-shifted views of
# it. MKL ran that GEMM shape at 0.66-0.8 of its square-matmul rate against 0.26 for the training form's
# (J x taps) @ (taps x pixels) at J = 16 (2-core EPYC), and the im2col copies K times less. A 1024^2
# two-scale filter, J = 16: training form 0.54 s; a transposed full patch matrix 0.55 s; K-tap groups of
# 5 / 3 / 1 rows in 128^2 blocks 0.43 / 0.40 / 0.33 s; 1-row groups in 64x256 / 128^2 / 256x128 / 256^2 /
# 512^2 blocks 0.34 / 0.33 / 0.32 / 0.31 / 0.35 s. Read at call time (tests change it).
INFERENCE_BLOCK = (256, 256)


class _Source:
    """One filtered signal of the strip algorithm: padded frames ``(C, N, Hb, Wp)`` of one batch element,
    correlated with K x K kernels dilated by ``d``.

    Every source of a call shares the row length ``Wp`` (the widest reflect padding, ``2 * pad_max``
    columns more than W); a source padded by less sits ``e = pad_max - pad`` zero columns in from the left,
    and each buffer has one spare zero row at the bottom. Then the patch-matrix row of tap ``(f, ky, kx)``
    for output pixels ``m = y * Wp + x`` is the flat window starting at ``(y0 + d*ky) * Wp + e + d*kx``: one
    strided view per source for the whole patch matrix (``im2col``). Over the padded width the columns
    ``x >= W`` are garbage (their gradient is zero), which lets :meth:`col2im` fold with strided sums; the
    forward and the basis gradient use the compact form (W columns per row) and skip that work.
    """

    def __init__(self, buf: torch.Tensor, n: int, k: int, d: int, e: int) -> None:
        self.buf, self.n, self.k, self.d, self.e = buf, n, k, d, e
        self.c, _, self.hb, self.wp = buf.shape
        self.taps = n * k * k

    def im2col(self, ch: int, i0: int, s: int, out: torch.Tensor, w: int | None = None) -> None:
        """``out (N*K*K, s*Wp)[(f, ky, kx), m] = buf[ch, f].flat[(i0 + d*ky)*Wp + e + d*kx + m]``; with
        ``w`` the compact form ``out (N*K*K, s*w)`` without the garbage columns (pixels ``m = y * w + x``)."""
        n, k, d, wp = self.n, self.k, self.d, self.wp
        src = self.buf[ch]
        start = src.storage_offset() + i0 * wp + self.e
        if w is None:
            out.view(n, k, k, s * wp).copy_(
                src.as_strided((n, k, k, s * wp), (self.hb * wp, d * wp, d, 1), start)
            )
        else:
            view = src.as_strided((n, k, k, s, w), (self.hb * wp, d * wp, d, wp, 1), start)
            out.view(n, k, k, s, w).copy_(view)

    def row_patches(self, ch: int, i0: int, s: int, x0: int, bw: int, out: torch.Tensor) -> None:
        """The inference form's row patch matrix ``out ((s + d*(K-1)) * bw, N*K)``: row ``(y, x)`` holds the
        horizontal taps ``(f, kx)`` of buffer row ``i0 + y`` at column ``x0 + x``, so that the patch-matrix
        rows of kernel row ``ky`` are the rows shifted by ``d*ky*bw``."""
        n, k, d, wp = self.n, self.k, self.d, self.wp
        src = self.buf[ch]
        start = src.storage_offset() + i0 * wp + self.e + x0
        view = src.as_strided((s + d * (k - 1), bw, n, k), (wp, 1, self.hb * wp, d), start)
        out.view(s + d * (k - 1), bw, n, k).copy_(view)

    def col2im(self, gp: torch.Tensor, ch: int, i0: int, s: int, grad: torch.Tensor, ws: _Workspace) -> None:
        """Adjoint of :meth:`im2col`: add the patch-matrix gradient ``gp (N*K*K, s*Wp)`` (contiguous rows)
        into channel ``ch`` of ``grad``, a zero-initialised tensor shaped like ``buf``."""
        n, k, d, wp = self.n, self.k, self.d, self.wp
        size = s * wp
        # kx part in one reduction ("skew" trick): reading the rows of length S with row stride S - d
        # shifts row kx by kx*d; what wraps in from the previous row is a garbage column (x >= W, since
        # d*(K-1) <= Wp - W) whose gradient is zero, so a strided sum does the fold.
        skew = gp.as_strided((n * k, k, size), (k * size, size - d, 1), gp.storage_offset())
        vsum = torch.sum(skew, 1, out=ws.get("vsum", n * k, size))  # (N*K_y, S)
        # ky part: a (K x 1) col2im dilated by d, one op
        rows = F.fold(vsum[None], (s + d * (k - 1), wp), (k, 1), dilation=(d, 1)).view(n, -1)
        start = i0 * wp + self.e
        grad[ch].view(n, -1)[:, start : start + rows.shape[-1]].add_(rows)


# Per-thread CPU scratch kept between calls ({dtype: {name: flat buffer}}): the patch matrix alone is ~100 MB
# at 448^2, and a fresh buffer of that size is a new mmap whose pages the kernel faults in and zeroes on
# every call (448^2, J=90, fwd+bwd: 1.55 s with fresh buffers, 1.13 s kept; benchmarks/investigation/).
# CUDA's caching allocator already reuses memory.
_CPU_SCRATCH = threading.local()


def release_scratch() -> None:
    """Free the calling thread's cached CPU scratch buffers of the basis filters (about 280 MB after a
    448^2 two-scale call with J=90); the next call allocates them again."""
    _CPU_SCRATCH.__dict__.clear()


def _storage_refs(t: torch.Tensor) -> int:
    return torch._C._storage_Use_Count(t.untyped_storage()._cdata)


def _saved_buffer(like: torch.Tensor, *shape: int) -> torch.Tensor:
    """A new-or-reused ``like.new_empty(shape)`` for the responses saved for backward (217 MB at 448^2,
    J=90): on CPU one buffer per thread and dtype is kept between calls and handed out again only when
    no tensor refers to its storage any more (the previous call's graph was run backward or dropped), so
    a pending graph's saved responses are never overwritten; fresh pages cost ~40 ms of page faults per
    call. Falls back to a fresh tensor elsewhere, when the buffer is in use, or without torch's storage
    use-count (a private API)."""
    if like.device.type != "cpu" or not hasattr(torch._C, "_storage_Use_Count"):
        return like.new_empty(shape)
    kept = _CPU_SCRATCH.__dict__.setdefault("saved", {})
    numel = math.prod(shape)
    buf = kept.get(like.dtype)
    if buf is not None and _storage_refs(buf) > _storage_refs(torch.empty(0)):
        return like.new_empty(shape)  # still saved by a pending graph: leave it alone
    if buf is None or buf.numel() < numel:
        kept.pop(like.dtype, None)
        buf = kept[like.dtype] = like.new_empty(numel)
    return buf[:numel].view(shape)


class _Workspace:
    """Flat buffers reused across strips (and across calls on CPU, see ``_CPU_SCRATCH``): fresh multi-MB
    tensors per strip cost page faults (and kernel zeroing) on every allocation, which showed up as a large
    share of the op's time."""

    def __init__(self, like: torch.Tensor) -> None:
        self.like = like
        if like.device.type == "cpu":
            self.bufs = _CPU_SCRATCH.__dict__.setdefault(like.dtype, {})
        else:
            self.bufs = {}

    def get(self, name: str, *shape: int) -> torch.Tensor:
        numel = math.prod(shape)
        buf = self.bufs.get(name)
        if buf is None or buf.numel() < numel:
            self.bufs.pop(name, None)  # free the old buffer before allocating the larger one
            buf = self.bufs[name] = self.like.new_empty(numel)
        return buf[:numel].view(*shape)


def _strips(h: int, wp: int):
    """Equal row strips of at most STRIP_PIXELS padded pixels (at least one row each)."""
    count = -(-h * wp // max(STRIP_PIXELS, wp))
    rows = -(-h // count)
    for i0 in range(0, h, rows):
        yield i0, min(rows, h - i0)


class _StripFilter(torch.autograd.Function):
    """``out[b, c] = sum_j coeffs[b, j] * R[b, c, j]``, ``R[b, c] = basis[b, c] @ P[b, c]``: P the patch
    matrix whose rows are the taps of every source (see :class:`_Source`), basis ``(B, C, J, rows)``.

    Design (alternatives measured with ``fnflight bench ops`` and micro-benchmarks on the 2-core machine):

    - One patch matrix for all sources. For paper 000 eq. 4 the fine taps (image, dilation 1) and the
      coarse taps (tent-prefiltered image, dilation d) are stacked into 2*K*K rows, so ONE GEMM with inner
      dimension 450 (K=15) gives the summed response ``sum_scales R`` directly: larger, more efficient GEMMs
      than two passes of 225, and one coefficient reduction instead of two.
    - The image is processed in row strips of ~STRIP_PIXELS pixels, one colour channel at a time:
      ``R_c (J, S) = basis_c @ P_c`` (compact P, S = s*W) written straight into the saved R, then
      ``out_c = sum_j coeffs_j * R_cj``. Per-channel ``mm`` beat a
      channel-batched ``bmm`` (same patch-matrix memory); see STRIP_PIXELS for the strip size.
    - Forward keeps R for the whole image when coeffs need a gradient (C * J * H * W floats, 217 MB for
      DeepFnF at 448^2, instead of recomputing it): ``grad_coeffs = sum_c g_c * R_c`` needs no GEMM.
      Backward per strip and channel: ``grad_R = g_c * coeffs``; ``grad_basis_c += grad_R @ P_c^T`` (compact
      P_c rebuilt: the im2col copy is cheap next to a GEMM); ``grad_P = basis_c^T @ grad_R`` over the
      padded width Wp (garbage columns x >= W with zero grad_R, so that the fold is strided sums; into
      P_c's buffer) folded into the padded sources' gradient (a skewed strided sum for kx, a (K x 1)
      col2im for ky). The reflect/zero padding and the tent prefilter are ordinary autograd ops outside
      (the tent's adjoint comes from autograd). Three GEMMs per strip and channel when everything needs a
      gradient; only what autograd needs runs (no P in backward without a basis gradient, no grad_P GEMM
      and fold without an image gradient, R neither saved nor used without a coefficient gradient).
    - Full-image grouped ``conv2d`` (oneDNN) was slower than these GEMMs for the forward alone; a
      row-grouped P (K/G GEMMs over windows of a smaller matrix) moves less memory but issues more,
      smaller ops, which lost on the shared machine. FFT convolution of the explicit 63x63 eq. 3 kernels
      (an inverse FFT per channel and basis element, ~1000 512^2 transforms per forward+backward) was
      implemented and measured at 2.9 s against 1.2 s for these GEMMs (448^2, J=90, session 2).
    """

    @staticmethod
    def forward(ctx, basis, coeffs, layout, *bufs):
        if not any(ctx.needs_input_grad):
            return _inference_forward(basis, coeffs, layout, bufs)
        b_, c, j, nrows = basis.shape
        h, w = coeffs.shape[-2:]
        wp = bufs[0].shape[-1]
        save_r = ctx.needs_input_grad[1]
        resp = _saved_buffer(coeffs, b_, c, j, h * w) if save_r else None
        out = coeffs.new_empty(b_, c, h, w)
        ws = _Workspace(coeffs)
        for b in range(b_):
            srcs = [_Source(buf[b], *lay) for buf, lay in zip(bufs, layout)]
            for i0, s in _strips(h, wp):
                co = coeffs[b][:, i0 : i0 + s]  # (J, s, W)
                for ch in range(c):
                    p = _patches(srcs, ch, i0, s, ws, w)  # compact: no garbage columns in the forward
                    r = resp[b, ch, :, i0 * w : (i0 + s) * w] if save_r else ws.get("r", j, s * w)
                    torch.mm(basis[b, ch], p, out=r)
                    prod = torch.mul(r.view(j, s, w), co, out=ws.get("prod", j, s, w))
                    torch.sum(prod, 0, out=out[b, ch, i0 : i0 + s])
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
        gbasis = torch.zeros_like(basis) if need_basis else None
        gco = torch.empty_like(coeffs) if need_coeffs else None
        gbufs = [torch.zeros_like(buf) if need else None for buf, need in zip(bufs, need_src)]
        ws = _Workspace(coeffs)
        for b in range(b_):
            srcs = [_Source(buf[b], *lay) for buf, lay in zip(bufs, layout)]
            for i0, s in _strips(h, wp):
                size = s * wp
                co = coeffs[b][:, i0 : i0 + s]  # (J, s, W)
                for ch in range(c):
                    go = grad_out[b, ch, i0 : i0 + s]  # (s, W)
                    if need_coeffs:  # grad_coeffs = sum_c g_c * R_c, from the saved responses
                        r = resp[b, ch, :, i0 * w : (i0 + s) * w].view(j, s, w)
                        if ch == 0:
                            torch.mul(r, go, out=gco[b][:, i0 : i0 + s])
                        else:
                            gco[b][:, i0 : i0 + s].addcmul_(r, go)
                    if not (need_basis or any(need_src)):
                        continue
                    grad_r = None
                    # grad_basis_c += grad_R @ P_c^T with compact grad_R and P (no garbage columns)
                    if need_basis:
                        grad_r = torch.mul(go, co, out=ws.get("grc", j, s, w))
                        gbasis[b, ch].addmm_(grad_r.view(j, s * w), _patches(srcs, ch, i0, s, ws, w).t())
                    if any(need_src):  # grad_P = basis_c^T @ grad_R over the padded width, for the fold
                        gr3 = ws.get("gr", j, s, wp)
                        gr3[..., w:].zero_()  # garbage columns x >= W carry no gradient
                        if grad_r is None:
                            torch.mul(go, co, out=gr3[..., :w])
                        else:
                            gr3[..., :w].copy_(grad_r)
                        gp = torch.mm(basis[b, ch].t(), gr3.view(j, size), out=ws.get("p", nrows, size))
                        off = 0
                        for src, gbuf in zip(srcs, gbufs):
                            if gbuf is not None:
                                src.col2im(gp[off : off + src.taps], ch, i0, s, gbuf[b], ws)
                            off += src.taps
        return (gbasis, gco, None, *gbufs)


def _inference_forward(basis, coeffs, layout, bufs) -> torch.Tensor:
    """:class:`_StripFilter`'s forward when nothing needs a gradient, over blocks of
    :data:`INFERENCE_BLOCK` pixels: per block, channel and source the row patch matrix ``Q`` (one row of
    ``N*K`` horizontal taps per pixel, for the block's rows and the ``d*(K-1)`` rows below them), then per
    kernel row ``ky`` the GEMM of the ``d*ky``-row-shifted view of ``Q`` with that row's basis taps,
    accumulated into ``R^T (pixels, J)``; ``out = sum_j R^T[:, j] * coeffs_j``. The same sums as the
    training form in another order (float rounding apart)."""
    b_, c, j, _ = basis.shape
    h, w = coeffs.shape[-2:]
    block_rows, block_cols = (max(1, int(v)) for v in INFERENCE_BLOCK)
    out = coeffs.new_empty(b_, c, h, w)
    ws = _Workspace(coeffs)
    for b in range(b_):
        srcs = [_Source(buf[b], *lay) for buf, lay in zip(bufs, layout)]
        pixel_major = coeffs[b].permute(1, 2, 0)  # (H, W, J)
        # per channel and source, per kernel row ky: its taps (f, kx) of the basis, as (N*K, J) matrices
        rows_of_taps = []
        off = 0
        for src in srcs:
            n, k = src.n, src.k
            idx = torch.arange(n * k * k, device=basis.device).view(n, k, k) + off
            rows_of_taps.append([basis[b][:, :, idx[:, ky].reshape(-1)].transpose(1, 2) for ky in range(k)])
            off += src.taps
        for i0 in range(0, h, block_rows):
            s = min(block_rows, h - i0)
            for x0 in range(0, w, block_cols):
                bw = min(block_cols, w - x0)
                for ch in range(c):
                    r = ws.get("rt", s * bw, j)
                    first = True
                    for si, src in enumerate(srcs):
                        q = ws.get(f"q{si}", (s + src.d * (src.k - 1)) * bw, src.n * src.k)
                        src.row_patches(ch, i0, s, x0, bw, q)
                        for ky, taps in enumerate(rows_of_taps[si]):
                            shift = src.d * ky * bw
                            view = q[shift : shift + s * bw]
                            if first:
                                torch.mm(view, taps[ch], out=r)
                                first = False
                            else:  # out= rather than addmm_: the same op, and FlopCounterMode counts it
                                torch.addmm(r, view, taps[ch], out=r)
                    prod = torch.mul(
                        r.view(s, bw, j),
                        pixel_major[i0 : i0 + s, x0 : x0 + bw],
                        out=ws.get("prod_b", s, bw, j),
                    )
                    torch.sum(prod, -1, out=out[b, ch, i0 : i0 + s, x0 : x0 + bw])
    return out


def _patches(
    srcs: list[_Source], ch: int, i0: int, s: int, ws: _Workspace, w: int | None = None
) -> torch.Tensor:
    """Channel ``ch``'s patch matrix for a strip, ``P (sum of N*K*K over sources, s*Wp)`` (or ``s*w``
    columns, compact, with ``w``), sources' rows stacked."""
    p = ws.get("p", sum(src.taps for src in srcs), s * (w or srcs[0].wp))
    off = 0
    for src in srcs:
        src.im2col(ch, i0, s, p[off : off + src.taps], w)
        off += src.taps
    return p


def strip_filter(
    frames: list[torch.Tensor], bases: list[torch.Tensor], coeffs: torch.Tensor, dilations: list[int]
) -> torch.Tensor:
    """``sum_i sum_j coeffs_j * sum_n (frames_i[:, n] *_{d_i} bases_i[:, j, n])`` per colour channel, reflect
    borders, in one strip pass (one GEMM per strip for all sources; see :class:`_StripFilter`).

    Internal: inputs already checked and harmonised; frames ``(B, N_i, C, H, W)``, bases
    ``(B, J, N_i, C, K_i, K_i)``, coeffs ``(B, J, H, W)``. Call under :func:`autocast_off`. While a graph is
    traced for export the plain-torch form of :mod:`fnflight.ops.traceable` runs instead.
    """
    if exporting():
        return strip_filter_traceable(frames, bases, coeffs, dilations)
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
