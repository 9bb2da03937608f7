"""Bilinear demosaicking of any CFA (the classical ISP of the raw floors)."""

from __future__ import annotations

import pytest
import torch

from fnflight import imaging


def test_bayer_bilinear_is_exact_on_linear_ramps_and_keeps_samples():
    yy, xx = torch.meshgrid(torch.arange(8.0), torch.arange(10.0), indexing="ij")
    rgb = torch.stack([xx, yy, xx + yy])[None] / 20
    mosaic = imaging.mosaic_bayer(rgb)
    out = imaging.demosaic_bilinear(mosaic, torch.tensor([[0, 1], [1, 2]]))
    torch.testing.assert_close(out[..., 1:-1, 1:-1], rgb[..., 1:-1, 1:-1])  # bilinear: exact on ramps
    assert torch.equal(imaging.mosaic_bayer(out), mosaic)


def test_xtrans_demosaic_flat_and_checks():
    flat = torch.tensor([0.2, 0.5, 0.7])[None, :, None, None].expand(2, 3, 12, 18)
    out = imaging.demosaic_bilinear(imaging.mosaic_xtrans(flat), imaging.XTRANS_CFA)
    torch.testing.assert_close(out, flat)
    with pytest.raises(ValueError, match="multiples"):
        imaging.demosaic_bilinear(torch.rand(1, 1, 7, 6), imaging.XTRANS_CFA)
