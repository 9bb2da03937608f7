"""Poisson-Gaussian denoising given the noise level: the Anscombe transform and its inverse, NLM."""

from __future__ import annotations

import pytest
import torch

from fnflight.classical import vst_denoise
from fnflight.classical.vst_denoise import _anscombe, _inverse_anscombe


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
