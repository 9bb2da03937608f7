"""Poisson-Gaussian noise estimation from one image (Foi et al. 2008 style)."""

from __future__ import annotations

import pytest
import torch

from fnflight import imaging


@pytest.mark.parametrize(("std_read", "std_shot"), [(2e-3, 1e-2), (1e-2, 3e-2), (3e-3, 5e-3)])
def test_noise_estimation_recovers_poisson_gaussian_levels(std_read, std_shot):
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 192), torch.linspace(0, 1, 192), indexing="ij")
    clean = (0.05 + 0.8 * xx * (0.6 + 0.4 * torch.cos(3 * yy)))[None, None].expand(2, 3, 192, 192)
    noisy = imaging.add_heteroscedastic_noise(clean, std_read, std_shot, g)
    r, s = imaging.estimate_noise_levels(noisy)
    assert torch.allclose(r, torch.full((2,), std_read), rtol=0.2)
    assert torch.allclose(s, torch.full((2,), std_shot), rtol=0.2)
    with pytest.raises(ValueError, match="8x8"):
        imaging.estimate_noise_levels(torch.rand(1, 1, 4, 4))
