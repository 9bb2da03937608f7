"""SID's traditional pipeline (paper 004 sec. 4): classical ISP and VST denoising given the true noise."""

from __future__ import annotations

import pytest
import torch

from fnflight import imaging
from fnflight.classical import traditional_isp, unpack_raw


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
