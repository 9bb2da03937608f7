"""Losses against hand computations (paper 000 eq. 6, NOTES: 0.5 x forward differences, sRGB continued)."""

from __future__ import annotations

import math

import torch

from fnflight.tasks.losses import DeepFnFLoss, HierarchicalLoss, KPNAnnealedLoss, L1Loss, MSELoss


def _srgb(v: float) -> float:
    if v <= 0.0031308:
        return 12.92 * v
    if v > 1.0:
        return 1.0 + 1.055 / 2.4 * (v - 1.0)
    return 1.055 * v ** (1 / 2.4) - 0.055


def _hand_loss(pred, target, gain, cm, eta):
    """Eq. 6 with plain Python loops over a (1, 3, H, W) pair."""
    _, c, h, w = pred.shape

    def render(x):
        out = [[[0.0] * w for _ in range(h)] for _ in range(c)]
        for y in range(h):
            for xx in range(w):
                rgb = [float(x[0, k, y, xx]) for k in range(c)]
                for i in range(c):
                    lin = gain * sum(float(cm[i, k]) * rgb[k] for k in range(c))
                    out[i][y][xx] = _srgb(lin)
        return out

    a, b = render(pred), render(target)
    d = [[[a[i][y][x] - b[i][y][x] for x in range(w)] for y in range(h)] for i in range(c)]
    l2 = sum(v * v for ch in d for row in ch for v in row) / (c * h * w)
    gx = sum(abs(0.5 * (ch[y][x + 1] - ch[y][x])) for ch in d for y in range(h) for x in range(w - 1))
    gy = sum(abs(0.5 * (ch[y + 1][x] - ch[y][x])) for ch in d for y in range(h - 1) for x in range(w))
    return l2 + eta * (gx / (c * h * (w - 1)) + gy / (c * (h - 1) * w))


def _batch(g, h=5, w=6, gain=20.0):
    target = torch.rand(1, 3, h, w, generator=g) / gain
    cm = torch.eye(3) + 0.1 * torch.rand(3, 3, generator=g)
    return {"target": target, "gain": torch.tensor([gain]), "color_matrix": cm[None]}


def test_deepfnf_loss_matches_hand_computation():
    g = torch.Generator().manual_seed(0)
    batch = _batch(g)
    pred = batch["target"] + 0.03 * torch.randn(batch["target"].shape, generator=g)
    pred[0, 0, 0, 0] = 0.2  # renders above 1: the linear continuation, not a clip, must be used
    for eta in (1.0, 0.5):
        got = DeepFnFLoss(grad_weight=eta)({"output": pred}, batch)
        want = _hand_loss(pred, batch["target"], 20.0, batch["color_matrix"][0], eta)
        assert math.isclose(float(got["loss"]), want, rel_tol=1e-5)
        assert math.isclose(float(got["l2"] + eta * got["grad"]), want, rel_tol=1e-5)


def test_deepfnf_loss_not_clipped_above_one():
    batch = {
        "target": torch.full((1, 3, 4, 4), 0.1),
        "gain": torch.tensor([10.0]),
        "color_matrix": torch.eye(3)[None],
    }
    out = DeepFnFLoss()({"output": torch.full((1, 3, 4, 4), 0.2)}, batch)  # renders to 1 + 1.055/2.4
    assert math.isclose(float(out["loss"]), (1.055 / 2.4) ** 2, rel_tol=1e-5)


def test_deepfnf_loss_has_gradients():
    g = torch.Generator().manual_seed(1)
    batch = _batch(g)
    pred = (batch["target"] + 0.01).requires_grad_(True)
    DeepFnFLoss()({"output": pred}, batch)["loss"].backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_kpn_anneal_weight_decays():
    g = torch.Generator().manual_seed(2)
    batch = _batch(g, 20, 20)
    out = {"output": batch["target"], "per_frame": batch["target"][:, None].repeat(1, 3, 1, 1, 1) * 1.5}
    loss = KPNAnnealedLoss()
    first, late = loss(out, batch, step=0), loss(out, batch, step=50_000)
    assert float(first["loss"]) > 0 and math.isclose(
        float(first["loss"]), 100 * float(first["anneal"]), rel_tol=1e-5
    )
    assert math.isclose(float(late["anneal_weight"]), 100 * 0.9998**50_000, rel_tol=1e-5)
    assert float(late["loss"]) < 1e-3 * float(first["loss"])


def test_l1_mse_hierarchical():
    x, y = torch.full((1, 3, 16, 16), 0.5), torch.full((1, 3, 16, 16), 0.25)
    assert math.isclose(float(L1Loss()({"output": x}, {"target": y})["loss"]), 0.25)
    assert math.isclose(float(MSELoss()({"output": x}, {"target": y})["loss"]), 0.0625)
    batch = {"target": y, "gain": torch.ones(1), "color_matrix": torch.eye(3)[None]}
    h = HierarchicalLoss()({"output": x}, batch)
    assert float(h["loss"]) > float(h["l2"]) > 0 and float(h["ssim"]) < 1
