"""SID's traditional pipeline (paper 004 sec. 4): classical ISP and VST denoising given the true noise."""

from __future__ import annotations

import pytest
import torch

from fnflight import imaging
from fnflight.classical import traditional_isp, unpack_raw, vst_denoise
from fnflight.classical.raw_pipeline import _anscombe, _inverse_anscombe


def test_isp_inverts_unprocessing_on_noise_free_raw():
    g = torch.Generator().manual_seed(0)
    srgb = 0.2 + 0.6 * torch.rand(1, 3, 1, 1, generator=g).expand(1, 3, 12, 12)
    clean, meta = imaging.unprocess(srgb, g)
    packed = imaging.pack_bayer(imaging.mosaic_bayer(clean))
    out = traditional_isp(packed, imaging.white_balance_gains(meta, srgb), meta["cam2rgb"], True)
    torch.testing.assert_close(out, srgb, atol=2e-3, rtol=0)


@pytest.mark.parametrize("channels", [4, 9])
def test_unpack_raw_shapes(channels):
    mosaic, cfa = unpack_raw(torch.rand(2, channels, 6, 8))
    f = 2 if channels == 4 else 3
    assert mosaic.shape == (2, 1, 6 * f, 8 * f) and cfa.shape == ((2, 2) if channels == 4 else (6, 6))
    with pytest.raises(ValueError, match="Bayer"):
        unpack_raw(torch.rand(1, 3, 4, 4))


def test_anscombe_inverse_is_unbiased_for_poisson_gaussian():
    g = torch.Generator().manual_seed(0)
    a, s = 0.01, 0.005
    for mean in (0.05, 0.3):
        counts = torch.poisson(torch.full((200_000,), mean / a), generator=g) * a
        y = (counts + s * torch.randn(200_000, generator=g)).numpy()
        z = _anscombe(y, a, s)
        assert abs(z.std() - 1.0) < 0.05  # stabilised to unit variance
        back = _inverse_anscombe(z.mean(keepdims=True) + 0 * z[:1], a, s)
        assert abs(float(back[0]) - mean) / mean < 0.05


def test_vst_denoise_reduces_error():
    g = torch.Generator().manual_seed(1)
    ratio, std_read, std_shot = torch.tensor([100.0]), torch.tensor([3e-4]), torch.tensor([2e-3])
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 48), indexing="ij")
    clean = (0.1 + 0.5 * (yy > 0.5).float() + 0.2 * xx)[None, None].expand(1, 4, 48, 48)
    var = ratio**2 * std_read**2 + ratio * std_shot**2 * clean
    noisy = clean + var.sqrt() * torch.randn(clean.shape, generator=g)
    out = vst_denoise(noisy, ratio, std_read, std_shot)
    assert out.shape == noisy.shape
    assert (out - clean).pow(2).mean() < 0.3 * (noisy - clean).pow(2).mean()
    with pytest.raises(ValueError, match="shape"):
        vst_denoise(noisy[0], ratio, std_read, std_shot)
