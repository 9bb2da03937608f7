"""Per-image PSNR / SSIM and their aggregation per dimming level."""

from __future__ import annotations

import math

import torch

from fnflight.metrics.image_quality import DimMetrics, psnr_per_image, render_for_metrics, ssim_per_image


def test_psnr_is_per_image_then_averaged():
    target = torch.full((2, 3, 16, 16), 0.5)
    pred = target.clone()
    pred[0] += 0.1  # mse 0.01 -> 20 dB
    pred[1] += 0.01  # mse 1e-4 -> 40 dB
    psnr = psnr_per_image(pred, target)
    assert torch.allclose(psnr, torch.tensor([20.0, 40.0]), atol=1e-3)
    m = DimMetrics()
    m.update(pred, target, torch.tensor([50.0, 50.0]))
    out = m.compute()
    assert math.isclose(float(out["psnr_dim50"]), 30.0, abs_tol=1e-3)  # not 10 log10(1 / pooled mse)


def test_per_dim_aggregation_and_nearest_level():
    m = DimMetrics()
    t = torch.full((1, 3, 16, 16), 0.5)
    for dim, off in ((100.0, 0.1), (100.0, 0.01), (12.5, 0.001), (11.0, 0.01), (60.0, 0.1)):
        m.update(t + off, t, torch.tensor([dim]))
    out = m.compute()
    assert (
        float(out["count_dim100"]) == 2
        and float(out["count_dim12.5"]) == 2
        and float(out["count_dim50"]) == 1
    )
    assert "psnr_dim25" not in out
    assert math.isclose(float(out["psnr_dim100"]), 30.0, abs_tol=1e-3)
    assert math.isclose(float(out["psnr_dim12.5"]), 50.0, abs_tol=1e-3)
    assert math.isclose(float(out["psnr"]), (20 + 40 + 60 + 40 + 20) / 5, abs_tol=1e-3)
    records = m.records("deepfnf")
    assert [r["dim"] for r in records] == [100.0, 50.0, 12.5]
    assert set(records[0]) >= {"method", "dim", "psnr", "ssim"} and records[0]["method"] == "deepfnf"


def test_ssim_window_and_identity():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 24, 24, generator=g)
    assert torch.allclose(ssim_per_image(x, x), torch.ones(2))
    noisy = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    s = ssim_per_image(noisy, x)
    assert (s < 1).all() and (s > 0).all()


def test_render_for_metrics_clips():
    x = torch.full((1, 3, 4, 4), 0.5)
    out = render_for_metrics(x, torch.tensor([10.0]), torch.eye(3)[None])
    assert float(out.max()) == 1.0
