"""Tests of fnflight.ops against the slow references (tiny inputs, float64 where exactness matters)."""

from __future__ import annotations

import importlib

import pytest
import torch

from fnflight.ops import (
    BasisFilter,
    KernelFieldFilter,
    MultiLayerFilter,
    TwoScaleBasisFilter,
    basis_filter,
    kernel_field_filter,
    multilayer_filter,
    tent_prefilter,
    two_scale_basis_filter,
    upsample_kernel,
)
from fnflight.ops import reference as ref

# the package attribute `basis_filter` is the function; the module holds STRIP_PIXELS
bf_mod = importlib.import_module("fnflight.ops.basis_filter")
D64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rnd(*shape, g, dtype=D64):
    return torch.randn(*shape, generator=g, dtype=dtype)


@pytest.fixture(params=[10_000, 40, 100], ids=["one-strip", "row-strips", "multi-row-strips"])
def strip(request, monkeypatch):
    """Run the strip algorithm with one strip, with one-row strips (several per image), and with strips of
    a few rows whose last one is shorter (training and inference forms alike)."""
    monkeypatch.setattr(bf_mod, "STRIP_PIXELS", request.param)
    blocks = {10_000: (10_000, 10_000), 40: (1, 40), 100: (4, 7)}  # inference: one, row, 2-D blocks
    monkeypatch.setattr(bf_mod, "INFERENCE_BLOCK", blocks[request.param])
    return request.param


# ---------------------------------------------------------------- kernel_field_filter
@pytest.mark.parametrize("n,ck,k", [(1, 3, 3), (3, 1, 5), (2, 3, 5)])
def test_kernel_field_matches_reference(n, ck, k):
    g = gen(1)
    frames, kernels = rnd(2, n, 3, 9, 11, g=g), rnd(2, n, ck, k * k, 9, 11, g=g)
    out = kernel_field_filter(frames, kernels)
    torch.testing.assert_close(out, ref.kernel_field_filter_reference(frames, kernels))
    assert torch.equal(out, KernelFieldFilter()(frames, kernels))


def test_kernel_field_4d_frames():
    g = gen(2)
    x, k = rnd(1, 3, 7, 8, g=g), rnd(1, 1, 3, 9, 7, 8, g=g)
    torch.testing.assert_close(kernel_field_filter(x, k), kernel_field_filter(x.unsqueeze(1), k))


@pytest.mark.parametrize("ck", [1, 3])
def test_kernel_field_gradcheck(ck):
    g = gen(3)
    x = rnd(1, 2, 3, 5, 6, g=g).requires_grad_()
    k = rnd(1, 2, ck, 9, 5, 6, g=g).requires_grad_()
    assert torch.autograd.gradcheck(kernel_field_filter, (x, k))


# ---------------------------------------------------------------- basis_filter
CASES = [  # (B, N or None, C, H, W, J, K, dilation)
    (1, None, 3, 20, 24, 4, 3, 1),
    (2, None, 3, 13, 17, 3, 5, 2),
    (1, None, 1, 20, 22, 2, 3, 4),
    (1, 3, 3, 12, 15, 2, 5, 1),
    (2, 2, 2, 16, 11, 3, 3, 3),
]


def _basis_inputs(b, n, c, h, w, j, k, g, dtype=D64):
    if n is None:
        return (
            rnd(b, c, h, w, g=g, dtype=dtype),
            rnd(b, j, c, k, k, g=g, dtype=dtype),
            rnd(b, j, h, w, g=g, dtype=dtype),
        )
    return (
        rnd(b, n, c, h, w, g=g, dtype=dtype),
        rnd(b, j, n, c, k, k, g=g, dtype=dtype),
        rnd(b, j, h, w, g=g, dtype=dtype),
    )


@pytest.mark.parametrize("case", CASES)
def test_basis_filter_matches_reference(case, strip):
    b, n, c, h, w, j, k, d = case
    x, basis, co = _basis_inputs(b, n, c, h, w, j, k, gen(4))
    out = basis_filter(x, basis, co, d)
    torch.testing.assert_close(out, ref.basis_filter_reference(x, basis, co, d))
    assert torch.equal(out, BasisFilter(d)(x, basis, co))


def test_basis_filter_matches_loops():
    x, basis, co = _basis_inputs(1, 2, 2, 5, 6, 2, 3, gen(5))
    torch.testing.assert_close(basis_filter(x, basis, co, 2), ref.basis_filter_loops(x, basis, co, 2))


def test_basis_filter_float32_close():
    x, basis, co = _basis_inputs(1, None, 3, 20, 24, 4, 5, gen(6), torch.float32)
    out, want = basis_filter(x, basis, co, 2), ref.basis_filter_reference(x, basis, co, 2)
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5 * want.abs().max().item())


@pytest.mark.parametrize("case", [(2, None, 2, 7, 8, 2, 3, 2), (1, 2, 2, 6, 7, 2, 3, 1)])
def test_basis_filter_gradcheck(case, strip):
    b, n, c, h, w, j, k, d = case
    x, basis, co = (t.requires_grad_() for t in _basis_inputs(b, n, c, h, w, j, k, gen(7)))
    assert torch.autograd.gradcheck(lambda *a: basis_filter(*a, dilation=d), (x, basis, co))
    # the strip size used by the large cases (K=5, several strips and residues), in fast mode
    x, basis, co = (t.requires_grad_() for t in _basis_inputs(1, None, 2, 13, 11, 2, 5, gen(7)))
    assert torch.autograd.gradcheck(lambda *a: basis_filter(*a, dilation=2), (x, basis, co), fast_mode=True)


def test_basis_filter_partial_grads():
    x, basis, co = _basis_inputs(1, None, 3, 8, 9, 2, 3, gen(8))
    co.requires_grad_()
    basis_filter(x, basis, co).sum().backward()
    assert co.grad is not None and basis.grad is None


# ---------------------------------------------------------------- two scales, eq. 3 == eq. 4
def test_tent_prefilter_taps():
    x = torch.zeros(1, 1, 9, 9, dtype=D64)
    x[0, 0, 4, 4] = 1
    t = torch.tensor([0.25, 0.5, 0.75, 1, 0.75, 0.5, 0.25], dtype=D64) / 4
    torch.testing.assert_close(tent_prefilter(x, 4)[0, 0, 1:8, 1:8], t[:, None] * t[None, :])


@pytest.mark.parametrize("k,d,shape", [(3, 4, (20, 24)), (5, 4, (20, 24)), (5, 2, (11, 13)), (3, 3, (9, 10))])
def test_eq4_equals_eq3(k, d, shape):
    """Eq. 4 (tent prefilter + dilated conv) equals eq. 3 (A zero-padded + B↑d as one big kernel), borders
    included."""
    g = gen(9)
    x, a, co = _basis_inputs(2, None, 3, *shape, 3, k, g)
    bb = rnd(*a.shape, g=g)
    eq4 = two_scale_basis_filter(x, a, bb, co, d)
    big = upsample_kernel(bb, d)
    p = (big.shape[-1] - k) // 2
    kernel = big + torch.nn.functional.pad(a, (p, p, p, p))
    eq3 = ref.basis_filter_reference(x, kernel, co)
    torch.testing.assert_close(eq4, eq3, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(eq4, basis_filter(x, kernel, co), rtol=1e-10, atol=1e-10)


def test_upsample_kernel_is_bilinear_over_d2():
    """Interior samples: B↑d equals bilinear interpolation (align_corners) of B divided by d²."""
    g = gen(10)
    b, d = rnd(2, 5, 5, g=g), 4
    up = upsample_kernel(b, d)
    assert up.shape == (2, 23, 23)
    bil = torch.nn.functional.interpolate(b[None], size=(17, 17), mode="bilinear", align_corners=True)[0]
    torch.testing.assert_close(up[:, d - 1 : d - 1 + 17, d - 1 : d - 1 + 17], bil / d**2)
    torch.testing.assert_close(up.sum((-1, -2)), b.sum((-1, -2)))  # mass preserving


def test_two_scale_matches_reference_and_module(strip):
    g = gen(11)
    x, a, co = _basis_inputs(1, None, 3, 20, 24, 4, 5, g)
    bb = rnd(*a.shape, g=g)
    out = two_scale_basis_filter(x, a, bb, co, 4)
    torch.testing.assert_close(out, ref.two_scale_basis_filter_reference(x, a, bb, co, 4))
    assert torch.equal(out, TwoScaleBasisFilter(4)(x, a, bb, co))


def test_two_scale_inference_form_equals_training_form(strip):
    """Without gradients the strip filter builds its patch matrix transposed (another GEMM shape): the same
    output as the form that keeps what backward needs, for NCHW and channels-last coefficients."""
    g = gen(12)
    x, a, co = _basis_inputs(2, None, 3, 21, 26, 4, 5, g)
    bb = rnd(*a.shape, g=g)
    with torch.no_grad():
        inference = two_scale_basis_filter(x, a, bb, co, 4)
        last = two_scale_basis_filter(x, a, bb, co.contiguous(memory_format=torch.channels_last), 4)
    training = two_scale_basis_filter(x, a, bb, co.clone().requires_grad_(), 4)
    assert training.requires_grad and not inference.requires_grad
    torch.testing.assert_close(inference, training.detach())
    torch.testing.assert_close(last, inference)


def test_scratch_reuse_across_calls_and_release():
    """CPU scratch buffers survive between calls: a larger call, then a smaller one (stale data in the
    reused buffers), then a release must all give the reference result, in float32 and float64."""
    from fnflight.ops import release_scratch

    for dtype in (torch.float32, D64):
        g = gen(13)
        for h, w in ((24, 28), (11, 13), (24, 28)):
            x, a, co = (t.to(dtype) for t in _basis_inputs(1, None, 3, h, w, 3, 5, g))
            bb = rnd(*a.shape, g=g).to(dtype)
            args = [t.clone().requires_grad_() for t in (x, a, bb, co)]
            two_scale_basis_filter(*args, 2).square().sum().backward()
            want = [t.clone().requires_grad_() for t in (x, a, bb, co)]
            ref.two_scale_basis_filter_reference(*want, 2).square().sum().backward()
            tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {}
            for got, exp in zip(args, want):
                torch.testing.assert_close(got.grad, exp.grad, **tol)
        release_scratch()


def test_kept_responses_never_overwrite_a_pending_graph():
    """The responses saved for backward live in a buffer reused between calls on CPU: a second forward
    while the first graph is pending (and a retained graph's second backward) must not see its data."""
    g = gen(14)
    x1, a1, c1 = _basis_inputs(1, None, 3, 16, 18, 3, 5, g)
    x2, a2, c2 = _basis_inputs(1, None, 3, 16, 18, 3, 5, g)
    c1.requires_grad_()
    c2.requires_grad_()
    out1 = basis_filter(x1, a1, c1)
    out2 = basis_filter(x2, a2, c2)  # while out1's graph still holds its responses
    out1.sum().backward(retain_graph=True)
    first = c1.grad.clone()
    out3 = basis_filter(x2, a2, c2)  # after a backward with retain_graph
    c1.grad = None
    out1.sum().backward()
    want = c1.detach().clone().requires_grad_()
    ref.basis_filter_reference(x1, a1, want).sum().backward()
    torch.testing.assert_close(first, want.grad)
    torch.testing.assert_close(c1.grad, want.grad)
    (out2 + out3).sum().backward()
    want2 = c2.detach().clone().requires_grad_()
    (2 * ref.basis_filter_reference(x2, a2, want2)).sum().backward()
    torch.testing.assert_close(c2.grad, want2.grad)


def test_two_scale_gradcheck():
    g = gen(12)
    x, a, co = _basis_inputs(1, None, 2, 9, 10, 2, 3, g)
    bb = rnd(*a.shape, g=g)
    args = tuple(t.requires_grad_() for t in (x, a, bb, co))
    assert torch.autograd.gradcheck(lambda *t: two_scale_basis_filter(*t, dilation=3), args)


# ---------------------------------------------------------------- multilayer
def _ml_inputs(g, sizes=(5, 3), c=3, h=12, w=13, per_colour=False, shared=False):
    bases = [rnd(1, 2, c, k, k, g=g) for k in sizes]
    coeffs = rnd(1, 2, h, w, g=g) if shared else [rnd(1, 2, h, w, g=g) for _ in sizes]
    cb = c if per_colour else 1
    biases = [0.1 * rnd(1, cb, h, w, g=g) for _ in sizes]
    alphas = [rnd(1, cb, h, w, g=g) for _ in sizes]
    return rnd(1, c, h, w, g=g), bases, coeffs, biases, alphas


@pytest.mark.parametrize("per_colour,shared", [(False, False), (True, True)])
def test_multilayer_matches_reference(per_colour, shared):
    args = _ml_inputs(gen(13), per_colour=per_colour, shared=shared)
    out = multilayer_filter(*args)
    co = args[2] if not shared else [args[2]] * 2
    torch.testing.assert_close(out, ref.multilayer_filter_reference(args[0], args[1], co, args[3], args[4]))
    assert torch.equal(out, MultiLayerFilter()(*args))


def test_multilayer_eq5_expansion():
    """Three layers, spatially constant alphas: F equals eq. 5's expanded sum of 7 receptive fields."""
    g = gen(14)
    x, bases, coeffs, biases, _ = _ml_inputs(g, sizes=(5, 3, 3))
    al = [torch.full((1, 1, 12, 13), v, dtype=D64) for v in (0.3, -0.7, 1.1)]
    out = multilayer_filter(x, bases, coeffs, biases, al)

    def wk(i, y):  # W^k * y
        return multilayer_filter(y, [bases[i]], [coeffs[i]], [biases[i]], [torch.zeros_like(al[0])])

    a1, a2, a3 = (a[0, 0, 0, 0].item() for a in al)
    want = (
        wk(2, wk(1, wk(0, x)))
        + a1 * wk(2, wk(1, x))
        + a2 * wk(2, wk(0, x))
        + a3 * wk(1, wk(0, x))
        + a2 * a1 * wk(2, x)
        + a3 * a1 * wk(1, x)
        + a3 * a2 * wk(0, x)
    )
    torch.testing.assert_close(out, want)


@pytest.mark.parametrize("per_colour", [False, True])
def test_multilayer_two_scale_first_layer_matches_reference(per_colour):
    """Paper 001 sec. 3.2: the first layer with DeepFnF's coarse kernel equals the explicit eq. 3 kernels."""
    g = gen(17)
    x, bases, coeffs, biases, alphas = _ml_inputs(g, sizes=(3, 3), per_colour=per_colour)
    coarse = [rnd(*bases[0].shape, g=g), None]
    out = multilayer_filter(x, bases, coeffs, biases, alphas, coarse, dilation=2)
    want = ref.multilayer_filter_reference(x, bases, coeffs, biases, alphas, coarse, dilation=2)
    torch.testing.assert_close(out, want)
    assert torch.equal(out, MultiLayerFilter(dilation=2)(x, bases, coeffs, biases, alphas, coarse))
    # the coarse kernel changes the result (a zero coarse basis gives the one-scale filter back)
    one_scale = multilayer_filter(x, bases, coeffs, biases, alphas)
    assert (out - one_scale).abs().max() > 1e-3
    zero = [torch.zeros_like(bases[0]), None]
    torch.testing.assert_close(multilayer_filter(x, bases, coeffs, biases, alphas, zero, 2), one_scale)
    with pytest.raises(ValueError, match="coarse_bases must have one entry per layer"):
        multilayer_filter(x, bases, coeffs, biases, alphas, coarse[:1])


def test_multilayer_gradcheck():
    x, bases, coeffs, biases, alphas = _ml_inputs(gen(15), sizes=(3, 3), c=2, h=6, w=7)
    leaves = [x, *bases, *coeffs, *biases, *alphas]
    for t in leaves:
        t.requires_grad_()

    def f(x, b0, b1, c0, c1, bi0, bi1, a0, a1):
        return multilayer_filter(x, [b0, b1], [c0, c1], [bi0, bi1], [a0, a1])

    assert torch.autograd.gradcheck(f, tuple(leaves))
    coarse = rnd(*bases[0].shape, g=gen(18)).requires_grad_()

    def f2(x, b0, b1, c0, c1, bi0, bi1, a0, a1, coarse):  # first layer two-scale (paper 001 sec. 3.2)
        return multilayer_filter(x, [b0, b1], [c0, c1], [bi0, bi1], [a0, a1], [coarse, None], dilation=2)

    assert torch.autograd.gradcheck(f2, (*leaves, coarse))


# ---------------------------------------------------------------- autocast bf16
def test_autocast_bf16_close_to_float32():
    g = gen(16)
    x, a, co = _basis_inputs(1, None, 3, 20, 24, 4, 5, g, torch.float32)
    bb = rnd(*a.shape, g=g, dtype=torch.float32)
    frames, kernels = (
        rnd(1, 2, 3, 20, 24, g=g, dtype=torch.float32),
        rnd(1, 2, 3, 9, 20, 24, g=g, dtype=torch.float32),
    )
    ml = _ml_inputs(g, h=20, w=24)
    ml = [ml[0].float()] + [[t.float() for t in seq] for seq in ml[1:]]

    def run(cast):
        leaves = [t.clone().requires_grad_() for t in (x, a, bb, co, frames, kernels)]
        lx, la, lb, lc, lf, lk = leaves
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cast):
            # a net's bf16 outputs (coefficients, kernels) meeting a float32 image
            c_in = lc.to(torch.bfloat16) if cast else lc
            outs = [
                two_scale_basis_filter(lx, la, lb, c_in, 4),
                kernel_field_filter(lf, lk.to(torch.bfloat16) if cast else lk),
                multilayer_filter(*ml),
            ]
        sum(o.float().square().mean() for o in outs).backward()
        return [o.detach().float() for o in outs], [t.grad for t in leaves]

    o32, g32 = run(False)
    o16, g16 = run(True)
    for u, v in zip(o16 + g16, o32 + g32):
        assert torch.isfinite(u).all()
        assert (u - v).abs().max() <= 2e-2 * v.abs().max()  # bf16 rounding of the cast inputs


# ---------------------------------------------------------------- errors
def test_errors():
    x = torch.rand(1, 3, 20, 24)
    basis, co = torch.rand(1, 4, 3, 5, 5), torch.rand(1, 4, 20, 24)
    with pytest.raises(ValueError, match="image must have shape"):
        basis_filter(x[0], basis, co)
    with pytest.raises(ValueError, match="basis must have shape"):
        basis_filter(x, basis[:, :, None], co)
    with pytest.raises(ValueError, match="colour channels"):
        basis_filter(x, basis[:, :, :2], co)
    with pytest.raises(ValueError, match="coeffs has shape"):
        basis_filter(x, basis, co[:, :3])
    with pytest.raises(ValueError, match="coeffs has shape"):
        basis_filter(x, basis, co[..., :5])
    with pytest.raises(TypeError, match="dtype"):
        basis_filter(x, basis.double(), co)
    with pytest.raises(TypeError, match="torch.Tensor"):
        basis_filter(x.numpy(), basis, co)
    with pytest.raises(ValueError, match="odd square"):
        basis_filter(x, torch.rand(1, 4, 3, 4, 4), co)
    with pytest.raises(ValueError, match="too small for reflect"):
        basis_filter(x[..., :4, :4], basis, co[..., :4, :4], 2)
    with pytest.raises(ValueError, match="dilation"):
        basis_filter(x, basis, co, 0)
    with pytest.raises(ValueError, match="basis_coarse"):
        two_scale_basis_filter(x, basis, basis[..., :3, :3], co)
    with pytest.raises(ValueError, match="too small for reflect"):
        two_scale_basis_filter(x[..., :8, :8], basis, basis, co[..., :8, :8], 4)
    frames, kernels = torch.rand(1, 2, 3, 8, 9), torch.rand(1, 2, 3, 25, 8, 9)
    with pytest.raises(ValueError, match="kernels must have shape"):
        kernel_field_filter(frames, kernels[0])
    with pytest.raises(ValueError, match="frames N"):
        kernel_field_filter(frames, kernels[:, :1])
    with pytest.raises(ValueError, match="Ck"):
        kernel_field_filter(frames, kernels[:, :, :2])
    with pytest.raises(ValueError, match="K\\*K"):
        kernel_field_filter(frames, kernels[:, :, :, :24])
    with pytest.raises(ValueError, match="expected H, W"):
        kernel_field_filter(frames, kernels[..., :7, :])
    with pytest.raises(TypeError, match="dtype"):
        kernel_field_filter(frames, kernels.double())
    with pytest.raises(ValueError, match="too small for reflect"):
        kernel_field_filter(frames[..., :2, :2], kernels[..., :2, :2])
    one = torch.ones(1, 1, 20, 24)
    with pytest.raises(ValueError, match="one entry per layer"):
        multilayer_filter(x, [basis, basis], [co], [one] * 2, [one] * 2)
    with pytest.raises(ValueError, match="biases\\[0\\]"):
        multilayer_filter(x, [basis], [co], [one[..., :5]], [one])


def test_device_mismatch():
    x = torch.rand(1, 3, 8, 9)
    basis, co = torch.rand(1, 2, 3, 3, 3, device="meta"), torch.rand(1, 2, 8, 9)
    with pytest.raises(ValueError, match="device"):
        basis_filter(x, basis, co)
    with pytest.raises(ValueError, match="device"):
        kernel_field_filter(x, torch.rand(1, 1, 3, 9, 8, 9, device="meta"))


def test_inference_form_counts_every_multiply_add():
    """`fnflight bench enhance` counts a net's multiply-adds with FlopCounterMode; the inference form's
    accumulating GEMMs must count like the training form's single GEMM (J x 2 K^2 per pixel and colour)."""
    from fnflight.bench.enhance import count_macs

    g = gen(14)
    x, a, co = _basis_inputs(1, None, 3, 20, 24, 4, 5, g, torch.float32)
    bb = rnd(*a.shape, g=g, dtype=torch.float32)
    macs = count_macs(lambda *t: two_scale_basis_filter(*t, 2), [x, a, bb, co])
    assert macs == 3 * 20 * 24 * 4 * 2 * 5 * 5
