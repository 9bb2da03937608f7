"""Tests of fnflight.nets: shapes for odd sizes, gradients, parameter counts and per-net properties.

Tiny widths (1/16) and small images (tens of pixels) keep the file fast on a shared 2-core machine.
"""

from __future__ import annotations

import math

import pytest
import torch

import fnflight.ops as _ops
from fnflight.nets import (
    BPN,
    SAECNN,
    DeepFnF,
    DirectPrediction,
    KPNBurst,
    KPNPair,
    LSD2UNet,
    NoFlashOnly,
    SIDUNet,
    crop_padding,
    pad_to_multiple,
    tiled_apply,
    tiled_forward,
)
from fnflight.nets.tiling import supports_split_tiling, tile_count, tiling_halo

W = 1 / 16  # tiny width for every forward test
H_, W_ = 37, 45  # odd sizes, not multiples of 32


def _fnf_inputs(b=1, h=H_, w=W_, extra=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    nf = torch.rand(b, 3, h, w, generator=g) * 0.1
    fl = torch.rand(b, 3, h, w, generator=g)
    args = [nf, fl, 0.01 + 0.1 * nf.sqrt(), 0.01 + 0.1 * fl.sqrt()]
    kwargs = {}
    if extra:
        e = torch.rand(b, extra, 3, h, w, generator=g) * 0.1
        kwargs = {"extra_noflash": e, "extra_noflash_std": 0.01 + 0.1 * e.sqrt()}
    return args, kwargs


def _assert_all_grads(net, loss):
    loss.backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


FNF_NETS = {
    "deepfnf": lambda: DeepFnF(num_basis=4, width=W),
    "deepfnf_nocoarse": lambda: DeepFnF(num_basis=4, width=W, coarse=False),
    "noflash_only": lambda: NoFlashOnly(num_basis=4, width=W),
    "bpn": lambda: BPN(num_basis=4, width=W),
    "kpn_pair": lambda: KPNPair(width=W),
    "direct": lambda: DirectPrediction(width=W),
    "saecnn": lambda: SAECNN(num_basis=4, width=W),
}


# ------------------------------------------------------------------------------------------------------------
# shared blocks
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 3, 5, 3), (2, 4, 33, 1), (1, 2, 3, 64, 31)])
def test_pad_to_multiple_any_size_roundtrip(shape):
    x = torch.rand(shape)
    y, pads = pad_to_multiple(x, 32)
    assert y.shape[-1] % 32 == 0 and y.shape[-2] % 32 == 0
    assert torch.equal(crop_padding(y, pads), x)


def test_pad_to_multiple_reflects():
    x = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 4, 4).contiguous()
    y, pads = pad_to_multiple(x, 8)
    assert pads == (2, 2, 2, 2)
    assert y[0, 0, 0].tolist() == [2, 1, 0, 1, 2, 3, 2, 1]


# ------------------------------------------------------------------------------------------------------------
# flash / no-flash nets
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FNF_NETS))
def test_fnf_net_shapes_and_gradients(name):
    torch.manual_seed(0)
    net = FNF_NETS[name]()
    args, _ = _fnf_inputs(b=2)
    out = net(*args)
    assert "output" in out
    for key, v in out.items():
        assert v.shape == (2, 3, H_, W_), (key, v.shape)
        assert torch.isfinite(v).all(), key
    _assert_all_grads(net, out["output"].square().mean())


def test_deepfnf_output_is_filtered_times_scale_map():
    net = DeepFnF(num_basis=4, width=W)
    args, _ = _fnf_inputs()
    with torch.no_grad():
        out = net(*args)
    assert set(out) == {"output", "filtered", "scale_map"}
    torch.testing.assert_close(out["output"], out["filtered"] * out["scale_map"])


def test_deepfnf_full_width_parameter_count():
    # Table 3 at J=90, K=15: 78,471,033 parameters (NOTES: "about 78.5M"); tolerance 0.1 %.
    with torch.device("meta"):
        net = DeepFnF()
    n = sum(p.numel() for p in net.parameters())
    assert n == 78_471_033
    assert math.isclose(n, 78.5e6, rel_tol=1e-3)


def test_deepfnf_no_coarse_has_no_coarse_basis():
    j = 4
    two = DeepFnF(num_basis=j, width=W)
    one = DeepFnF(num_basis=j, width=W, coarse=False)
    assert two.net.basis_decoder.heads[0][-1].out_channels == 3 * 2 * j
    assert one.net.basis_decoder.heads[0][-1].out_channels == 3 * j
    assert one.coarse is False and two.coarse is True


def test_deepfnf_no_coarse_uses_one_scale_filter(monkeypatch):
    calls = []
    monkeypatch.setattr(_ops, "two_scale_basis_filter", lambda *a, **k: calls.append("two") or 0)
    real = _ops.basis_filter
    monkeypatch.setattr(_ops, "basis_filter", lambda *a, **k: calls.append("one") or real(*a, **k))
    net = DeepFnF(num_basis=4, width=W, coarse=False)
    args, _ = _fnf_inputs()
    with torch.no_grad():
        net(*args)
    assert calls == ["one"]


def test_deepfnf_extra_noflash_variant():
    m = 2
    net = DeepFnF(num_basis=4, width=W, extra_noflash=m)
    assert net.coarse is False  # Table 6: no kernel upsampling
    assert net.net.encoder.enc0[0].in_channels == 12 + 6 * m
    args, kwargs = _fnf_inputs(extra=m)
    out = net(*args, **kwargs)
    assert out["output"].shape == (1, 3, H_, W_)
    _assert_all_grads(net, out["output"].mean())
    with pytest.raises(ValueError, match="extra_noflash"):
        net(*args)
    # the explicit two-scale extension also runs
    net2 = DeepFnF(num_basis=4, width=W, extra_noflash=1, coarse=True)
    args, kwargs = _fnf_inputs(extra=1)
    assert net2(*args, **kwargs)["output"].shape == (1, 3, H_, W_)


def test_deepfnf_reference_is_metadata():
    assert DeepFnF(num_basis=2, width=W, reference="flash").reference == "flash"
    with pytest.raises(ValueError, match="reference"):
        DeepFnF(num_basis=2, width=W, reference="left")


def test_fnf_input_validation():
    net = DirectPrediction(width=W)
    args, _ = _fnf_inputs()
    with pytest.raises(ValueError, match="flash"):
        net(args[0], args[1][..., :-1], args[2], args[3])
    with pytest.raises(TypeError, match="noflash"):
        net(args[0].numpy(), *args[1:])


def test_bpn_softmax_sums_to_one():
    basis, coeffs = BPN.normalize_basis(torch.randn(2, 5, 2, 3, 7, 7), torch.randn(2, 5, 6, 8))
    torch.testing.assert_close(basis.sum(dim=(2, 4, 5)), torch.ones(2, 5, 3))
    torch.testing.assert_close(coeffs.sum(dim=1), torch.ones(2, 6, 8))
    assert (basis > 0).all() and (coeffs > 0).all()


def test_bpn_normalised_kernels_preserve_constants():
    # each colour's per-pixel kernel is a convex combination over frames and taps: constant in, constant out
    net = BPN(num_basis=4, kernel_size=5, width=W)
    c = torch.tensor([0.2, 0.5, 0.7]).view(1, 3, 1, 1).expand(1, 3, 33, 35)
    with torch.no_grad():
        out = net(c, c, 0.1 * c, 0.1 * c)["output"]
    torch.testing.assert_close(out, c.expand_as(out), atol=1e-5, rtol=1e-5)


def test_bpn_noflash_burst_mode():
    net = BPN(mode="noflash_burst", num_basis=4, kernel_size=5, width=W, frames=3)
    args, kwargs = _fnf_inputs(extra=2)
    assert net(*args, **kwargs)["output"].shape == (1, 3, H_, W_)
    with pytest.raises(ValueError, match="extra_noflash"):
        net(*args)
    with pytest.raises(ValueError, match="mode"):
        BPN(mode="burst")


def test_kpn_pair_kernel_count():
    net = KPNPair(width=W)
    assert net.num_kernel_channels == 150
    assert net.net.pixel_decoder.out.out_channels == 150
    assert net.net.basis_decoder is None


def test_direct_prediction_is_residual():
    net = DirectPrediction(width=W)
    torch.nn.init.zeros_(net.net.pixel_decoder.out.weight)
    args, _ = _fnf_inputs()
    with torch.no_grad():
        torch.testing.assert_close(net(*args)["output"], args[0])


def test_saecnn_fusion():
    net = SAECNN(num_basis=4, width=W)
    args, _ = _fnf_inputs()
    with torch.no_grad():
        out = net(*args)
    assert set(out) == {"output", "from_noflash", "from_flash", "importance", "importance_flash"}
    fused = out["importance"] * out["from_noflash"] + out["importance_flash"] * out["from_flash"]
    torch.testing.assert_close(out["output"], fused)
    # J=4 per-colour kernels per layer; the first layer has J (fine, coarse) pairs (sec. 3.2)
    assert [h[-1].out_channels for h in net.basis_decoder.heads] == [24, 12, 12]
    assert net.basis_decoder.kernel_sizes == (15, 7, 3)
    assert net.basis_decoder is not net.basis_decoder_flash


def test_saecnn_coarse_first_layer(monkeypatch):
    """Sec. 3.2: the first (15x15) layer gets DeepFnF's coarse kernel; ``coarse=False`` is one-scale."""
    one_scale = SAECNN(num_basis=4, width=W, coarse=False)
    assert [h[-1].out_channels for h in one_scale.basis_decoder.heads] == [12, 12, 12]
    calls = []
    real = _ops.multilayer_filter

    def spy(image, bases, coeffs, biases, alphas, coarse_bases=None, dilation=4):
        calls.append(([None if c is None else tuple(c.shape) for c in coarse_bases or []], dilation))
        return real(image, bases, coeffs, biases, alphas, coarse_bases, dilation)

    monkeypatch.setattr(_ops, "multilayer_filter", spy)
    args, _ = _fnf_inputs()
    b, _, h, w = args[0].shape
    with torch.no_grad():
        SAECNN(num_basis=4, width=W, dilation=2)(*args)
        one_scale(*args)
    coarse = [(b, 4, 3, 15, 15), None, None]
    assert calls == [(coarse, 2), (coarse, 2), ([None] * 3, 4), ([None] * 3, 4)]


# ------------------------------------------------------------------------------------------------------------
# burst, short/long, raw
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("half", [False, True])
def test_kpn_burst(half):
    net = KPNBurst(frames=3, kernel_size=5, width=W, half_resolution=half)
    burst, std = torch.rand(2, 3, 3, H_, W_), torch.rand(2, 1, H_, W_)
    out = net(burst, std)
    assert out["output"].shape == (2, 3, H_, W_)
    assert out["per_frame"].shape == (2, 3, 3, H_, W_)
    torch.testing.assert_close(out["per_frame"].mean(1), out["output"])
    _assert_all_grads(net, out["output"].mean() + out["per_frame"].mean())
    with pytest.raises(ValueError, match="burst"):
        net(burst[:, :2], std)


def test_lsd2():
    net = LSD2UNet(width=W)
    short, long = torch.rand(1, 3, H_, W_), torch.rand(1, 3, H_, W_)
    out = net(short, long)
    assert out["output"].shape == (1, 3, H_, W_)
    _assert_all_grads(net, out["output"].mean())


@pytest.mark.parametrize(("cin", "up"), [(4, 2), (9, 3)])
def test_sid_shapes_and_gradients(cin, up):
    net = SIDUNet(in_channels=cin, width=W, upscale=up)
    out = net(torch.rand(1, cin, 19, 23))
    assert out["output"].shape == (1, 3, 19 * up, 23 * up)
    _assert_all_grads(net, out["output"].mean())


def test_sid_full_width_parameter_count():
    with torch.device("meta"):
        assert sum(p.numel() for p in SIDUNet().parameters()) == 7_760_268
        assert sum(p.numel() for p in LSD2UNet().parameters()) == 31_033_603


def test_sid_tiled_equals_untiled_exact():
    # depth 2: receptive field 19 px (radius 9): a halo of 9 (rounded up to the stride, 12) is exact
    torch.manual_seed(0)
    net = SIDUNet(width=1 / 8, depth=2).eval()
    assert net.receptive_field == 19
    raw = torch.rand(1, 4, 70, 50)
    with torch.no_grad():
        ref = net(raw)["output"]
    tiled = tiled_forward(net, raw, tile=48)
    torch.testing.assert_close(tiled, ref, atol=1e-5, rtol=1e-5)


def test_sid_tiled_full_depth_xtrans_exact():
    # the full 5-level U-Net (receptive field 215 px, radius 107 -> halo 112) on X-Trans (upscale 3)
    torch.manual_seed(0)
    net = SIDUNet(cfa="xtrans", width=1 / 16).eval()
    raw = torch.rand(1, 9, 80, 45)
    with torch.no_grad():
        ref = net(raw)["output"]
    tiled = tiled_forward(net, raw, tile=240)
    assert tiled.shape == ref.shape == (1, 3, 240, 135)
    assert float((tiled - ref).abs().max()) <= 1e-5
    # a too small halo is not exact (the test can fail): the halo matters
    assert float((tiled_forward(net, raw, tile=64, halo=16) - ref).abs().max()) > 1e-4


@pytest.mark.parametrize(
    "variant, split",
    [({}, 0), ({}, 2), ({"half_resolution": True}, 2), ({"direct": True}, 2), ({"direct": True}, 0)],
)
def test_kpn_burst_tiled_equals_untiled_exact(variant, split):
    """The full Table 3 body (receptive field 544 px), in plain tiles (split=0: the whole receptive field as
    halo) and in split tiling (the levels at 1/4 and coarser on the whole frame, a 28 px halo): a frame
    cut into several tiles."""
    torch.manual_seed(0)
    net = KPNBurst(frames=2, width=1 / 16, **variant).eval()
    burst, noise = torch.rand(1, 2, 3, 720, 90), torch.full((1, 1, 720, 90), 0.02)
    with torch.no_grad():
        ref = net(burst, noise)["output"]
    halo, grid = tiling_halo(net, split)
    assert (halo, grid) == ((288, 32) if split == 0 else (28, 4))
    tile = 2 * halo + 64  # cores of 64 px: 12 tiles down the frame
    assert tile_count(net, (720, 90), tile, split) >= 12
    exact = float((tiled_forward(net, burst, noise, tile=tile, split=split) - ref).abs().max())
    assert exact <= 1e-5
    # a too small halo is not exact (the test can fail): the halo matters (outputs are ~1e-2 here)
    short = tiled_forward(net, burst, noise, tile=tile, split=split, halo=32 if split == 0 else 8)
    short = float((short - ref).abs().max())
    assert short > 1e-6 and short > 20 * exact


@pytest.mark.parametrize("net_name", ["deepfnf", "noflash_only"])
@pytest.mark.parametrize("split", [1, 2, 3])
def test_global_basis_nets_split_tiled_equal_untiled(net_name, split):
    """DeepFnF's basis pools the whole image: split tiling sums the fine levels' pools over the tiles' cores
    and takes the coarse ones from the whole image. A frame cut into several tiles, with stride padding at
    every border (not a multiple of 32) and the filter's reflection at the true border (radius 28 px > the
    1-4 px of stride padding)."""
    torch.manual_seed(0)
    net = (
        DeepFnF(num_basis=4, width=1 / 16)
        if net_name == "deepfnf"
        else NoFlashOnly(num_basis=4, width=1 / 16)
    )
    net.eval()
    with torch.no_grad():  # a basis and coefficients of a useful size (untrained nets output ~1e-5)
        net.net.pixel_decoder.out.bias.add_(0.5)
    g = torch.Generator().manual_seed(1)
    x = [torch.rand(1, 3, 700, 90, generator=g) * 0.05 + 0.01 for _ in range(4)]
    with torch.no_grad():
        ref = net(*x)["output"]
    halo, grid = tiling_halo(net, split)
    tile = 2 * halo + 64  # cores of 64 px: 11 tiles down the frame
    assert tile_count(net, (700, 90), tile, split) >= 11
    tiled = tiled_forward(net, *x, tile=tile, split=split)
    scale = float(ref.abs().max())
    assert scale > 1e-3
    assert float((tiled - ref).abs().max()) <= 1e-5 * scale
    # a too small halo is not exact, and plain tiles (each tile's own basis) are not either
    short = tiled_forward(net, *x, tile=tile, split=split, halo=grid)
    assert float((short - ref).abs().max()) > 1e-3 * scale
    one_pass = tiled_apply(lambda *w: net(*w)["output"], x, 192, 64, net.stride)  # 64 px cores
    assert float((one_pass - ref).abs().max()) > 1e-3 * scale
    with pytest.raises(ValueError, match="pools the whole image"):
        tiled_forward(net, *x, split=0)


def test_tiled_windows_reflect_where_they_barely_enter_the_image():
    """A window whose part inside the image is smaller than its reflected part (small halos of split
    tiling at a border with stride padding) holds the stride-padded image's values."""
    from fnflight.nets.tiling import _Plan

    x = torch.rand(1, 2, 300, 90)
    padded, _ = pad_to_multiple(x, 32)
    plan = _Plan([x], 128, 12, 32, grid=4)
    assert plan.lazy
    for (window,), _core, (wy0, wx0), _ in plan.windows():
        h, w = window.shape[-2:]
        torch.testing.assert_close(window, padded[..., wy0 : wy0 + h, wx0 : wx0 + w], rtol=0, atol=0)


def test_split_tiling_needs_the_unet_parts():
    assert supports_split_tiling(DeepFnF(num_basis=4, width=1 / 16))
    assert supports_split_tiling(KPNBurst(frames=2, width=1 / 16))
    assert not supports_split_tiling(SIDUNet(width=1 / 16))
    with pytest.raises(ValueError, match="does not support split tiling"):
        tiled_forward(SIDUNet(width=1 / 16).eval(), torch.rand(1, 4, 64, 64), split=2)


@pytest.mark.parametrize("variant", [{}, {"noise_input": False}, {"direct": True}, {"half_resolution": True}])
def test_kpn_burst_forward_output_equals_forward(variant):
    """The strip-wise inference form gives forward's output (stride padding at every border, strips of
    several sizes: the last one shorter than the filter's margin)."""
    torch.manual_seed(0)
    net = KPNBurst(frames=3, width=1 / 16, **variant).eval()
    net.STRIP_ROWS = 7
    burst, noise = torch.rand(2, 3, 3, 45, 37), torch.rand(2, 1, 45, 37)
    with torch.no_grad():
        ref = net(burst, noise)["output"]
    torch.testing.assert_close(net.forward_output(burst, noise), ref, atol=1e-6, rtol=1e-5)


def test_tiled_apply_checks_inputs():
    with pytest.raises(ValueError, match="sizes must agree"):
        tiled_apply(lambda a, b: a, [torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9)], tile=8, halo=0)
    with pytest.raises(ValueError, match="no core"):
        tiled_apply(lambda a: a, [torch.zeros(1, 1, 8, 8)], tile=8, halo=4)


@pytest.mark.parametrize("name", ["deepfnf", "noflash_only", "bpn", "kpn_pair", "saecnn"])
def test_fnf_net_tiny_input(name):
    # smaller than the filter footprint (DeepFnF: 57 px): filtered on a reflect-padded copy, cropped back
    net = FNF_NETS[name]()
    args, _ = _fnf_inputs(h=7, w=5)
    with torch.no_grad():
        assert net(*args)["output"].shape == (1, 3, 7, 5)
    with torch.no_grad():
        assert KPNBurst(frames=2, width=W)(torch.rand(1, 2, 3, 3, 4), torch.rand(1, 1, 3, 4))[
            "output"
        ].shape == (
            1,
            3,
            3,
            4,
        )


def test_init_weights_reproducible_and_bounded():
    from fnflight.nets import init_weights

    nets = [
        init_weights(DeepFnF(num_basis=2, width=W), generator=torch.Generator().manual_seed(3))
        for _ in range(2)
    ]
    for (name, p), q in zip(nets[0].named_parameters(), nets[1].parameters()):
        assert torch.equal(p, q), name
        if name.endswith("bias"):
            assert not p.any(), name  # zero bias (NOTES)
        else:
            fan_in = p[0].numel()
            assert p.abs().max() <= math.sqrt(3 / fan_in), name


# ---------------------------------------------------------------------------------- bounded scale map
def test_bounded_scale_map_keeps_the_colour_of_the_filtered_image():
    from fnflight.nets.deepfnf import DeepFnF

    torch.manual_seed(0)
    net = DeepFnF(num_basis=4, width=1 / 16, scale_map="bounded", scale_map_max=4.0)
    with torch.no_grad():  # a scale map far from 1, different per colour before the bound
        net.net.pixel_decoder.out.bias[4:] = torch.tensor([-3.0, 0.5, 4.0])
    x = torch.rand(2, 3, 40, 40)
    out = net(x, x.flip(-1), 0.1 * x, 0.1 * x)
    g = out["scale_map"]
    assert (g > 0).all() and (g >= 0.25 - 1e-6).all() and (g <= 4.0 + 1e-6).all()
    assert torch.equal(g[:, 0], g[:, 1]) and torch.equal(g[:, 1], g[:, 2])
    torch.testing.assert_close(out["output"], out["filtered"] * g[:, :1])


def test_bounded_scale_map_starts_at_its_init():
    from fnflight.nets.deepfnf import DeepFnF

    net = DeepFnF(num_basis=4, width=1 / 16, scale_map="bounded", scale_map_init=1.0)
    with torch.no_grad():
        net.net.pixel_decoder.out.weight.zero_()
    x = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(net(x, x, x, x)["scale_map"], torch.ones(1, 3, 32, 32))
    for bad in ({"scale_map": "clipped"}, {"scale_map": "bounded", "scale_map_init": 9.0}):
        with pytest.raises(ValueError, match="scale_map"):
            DeepFnF(num_basis=4, width=1 / 16, **bad)


def test_bounded_scale_map_gradcheck():
    from fnflight.nets.deepfnf import bounded_scale_map

    raw = torch.randn(1, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda r: bounded_scale_map(r, 6.0), (raw,))


def test_box_filter_init_starts_as_a_box_filter_of_the_noflash_image():
    import torch.nn.functional as F

    from fnflight.nets.deepfnf import DeepFnF

    torch.manual_seed(0)
    x, flash = torch.rand(2, 3, 48, 48), torch.rand(2, 3, 48, 48)
    box = F.avg_pool2d(F.pad(x, (7, 7, 7, 7), mode="reflect"), 15, stride=1)
    for scale_map in ("linear", "bounded"):
        net = DeepFnF(num_basis=4, width=1 / 16, filter_init="box", scale_map=scale_map)
        out = net(x, flash, 0.1 * x, 0.1 * flash)
        torch.testing.assert_close(out["output"], box, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out["scale_map"], torch.ones_like(x))
        # every part learns from step 0: the zeroed output layers get gradients
        out["output"].sum().backward()
        assert net.net.basis_decoder.heads[0][-1].weight.grad.abs().sum() > 0
        assert net.net.pixel_decoder.out.weight.grad[4:].abs().sum() > 0  # the scale map's rows
    with pytest.raises(ValueError, match="filter_init"):
        DeepFnF(num_basis=4, width=1 / 16, filter_init="delta")
