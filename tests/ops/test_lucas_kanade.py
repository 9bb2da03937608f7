"""The Lucas-Kanade homography solver: it recovers protocol warps, is differentiable (float64 gradcheck), its
module equals its function, and bad input is told clearly."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fnflight.imaging import mean_displacement, sample_homography, warp_image
from fnflight.ops.lucas_kanade import (
    LucasKanadeHomography,
    lucas_kanade_homography,
    normalised_homography,
    pixel_homography,
)

D64 = torch.float64


def _smooth(b, c, s, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return F.avg_pool2d(torch.rand(b, c, s, s, generator=g, dtype=dtype), 7, 1, 3, count_include_pad=False)


def _coarse_to_fine(moving, fixed, iterations=(10, 10, 10)):
    a = None
    for f, n in zip((4, 2, 1), iterations, strict=True):
        m, x = (F.avg_pool2d(moving, f), F.avg_pool2d(fixed, f)) if f > 1 else (moving, fixed)
        a = lucas_kanade_homography(m, x, a, iterations=n)
    return pixel_homography(a, *fixed.shape[-2:])


def test_recovers_protocol_homographies():
    """Camera shake of paper 000 (3x the protocol's range, several px) on a textured image: < 0.1 px left."""
    fixed = _smooth(3, 2, 96, dtype=D64)
    g = torch.Generator().manual_seed(1)
    true = sample_homography(
        3, 96, 96, g, max_rotation_deg=1.5, max_translation=6.0, scale_range=(0.97, 1.03)
    )
    true = true.to(D64)
    moving = warp_image(fixed, true)  # moving(x) = fixed(H^-1 x): moving(H x) = fixed(x)
    estimate = _coarse_to_fine(moving, fixed)
    before = mean_displacement(torch.linalg.inv(true), 96, 96)
    after = mean_displacement(torch.linalg.inv(true) @ estimate, 96, 96)
    assert (before > 1.0).all()
    assert (after < 0.1).all(), after


def test_pyramid_levels_share_normalised_coordinates():
    """A translation estimated on a 2x average-pooled pair is the same warp at full resolution."""
    fixed = _smooth(1, 1, 64, dtype=D64)
    shift = torch.tensor([[[1.0, 0.0, 2.0], [0.0, 1.0, -2.0], [0.0, 0.0, 1.0]]], dtype=D64)
    moving = warp_image(fixed, shift)
    coarse = lucas_kanade_homography(F.avg_pool2d(moving, 2), F.avg_pool2d(fixed, 2), iterations=30)
    full = pixel_homography(coarse, 64, 64)
    assert mean_displacement(torch.linalg.inv(shift) @ full, 64, 64) < 0.3


def test_normalised_pixel_round_trip():
    g = torch.Generator().manual_seed(0)
    h = sample_homography(2, 40, 60, g).to(D64)
    assert torch.allclose(pixel_homography(normalised_homography(h, 40, 60), 40, 60), h, atol=1e-12)


def test_identity_when_aligned():
    x = _smooth(2, 3, 32)
    a = lucas_kanade_homography(x, x, iterations=3)
    assert torch.allclose(a, torch.eye(3).expand(2, 3, 3), atol=1e-5)


def test_gradcheck_float64():
    moving, fixed = _smooth(1, 2, 8, seed=2, dtype=D64), _smooth(1, 2, 8, seed=3, dtype=D64)
    moving.requires_grad_(True)
    fixed.requires_grad_(True)
    # a generic start: with samples exactly on pixel centres (e.g. a pure x shift leaves y integer) bilinear
    # interpolation has a kink there and finite differences disagree with the one-sided derivative
    g = torch.Generator().manual_seed(6)
    init = (torch.eye(3, dtype=D64) + 0.02 * torch.randn(3, 3, generator=g, dtype=D64))[None]
    init.requires_grad_(True)

    def fn(m, f, a):
        return lucas_kanade_homography(m, f, a, iterations=2)

    assert torch.autograd.gradcheck(fn, (moving, fixed, init), eps=1e-6, atol=1e-5)


def test_module_equals_function():
    moving, fixed = _smooth(2, 2, 24, seed=4), _smooth(2, 2, 24, seed=5)
    lk = LucasKanadeHomography(iterations=3, damping=1e-2)
    assert torch.equal(lk(moving, fixed), lucas_kanade_homography(moving, fixed, None, 3, 1e-2))
    assert "iterations=3" in repr(lk)


@pytest.mark.parametrize(
    "args,error,match",
    [
        ((torch.rand(1, 2, 8, 8), torch.rand(1, 2, 8, 9)), ValueError, "same shape"),
        ((torch.rand(2, 8, 8), torch.rand(2, 8, 8)), ValueError, r"\(B, C, H, W\)"),
        (([0.0], torch.rand(1, 1, 8, 8)), TypeError, "moving must be a torch.Tensor"),
        ((torch.rand(1, 1, 2, 8), torch.rand(1, 1, 2, 8)), ValueError, "at least 3x3"),
        ((torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8), torch.eye(3)[None]), ValueError, r"\(2, 3, 3\)"),
    ],
)
def test_bad_input_is_told(args, error, match):
    with pytest.raises(error, match=match):
        lucas_kanade_homography(*args)


def test_bad_options_are_told():
    x = torch.rand(1, 1, 8, 8)
    with pytest.raises(ValueError, match="iterations must be a positive int"):
        lucas_kanade_homography(x, x, iterations=0)
    with pytest.raises(ValueError, match="damping must be >= 0"):
        LucasKanadeHomography(damping=-1.0)
