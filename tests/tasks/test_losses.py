"""Losses against hand computations (paper 000 eq. 6, NOTES: 0.5 x forward differences, sRGB continued)."""

from __future__ import annotations

import math

import pytest
import torch

from fnflight.tasks.losses import DeepFnFLoss, HierarchicalLoss, KPNAnnealedLoss, L1Loss, MSELoss


def _srgb(v: float, toe: str = "linear") -> float:
    if v <= 0.0 and toe == "clamped":
        return 0.0
    if v <= 0.0031308:
        return 12.92 * v
    if v > 1.0:
        return 1.0 + 1.055 / 2.4 * (v - 1.0)
    return 1.055 * v ** (1 / 2.4) - 0.055


def _hand_loss(pred, target, gain, cm, eta, toe="clamped"):
    """Eq. 6 with plain Python loops over a (1, 3, H, W) pair."""
    _, c, h, w = pred.shape

    def render(x):
        out = [[[0.0] * w for _ in range(h)] for _ in range(c)]
        for y in range(h):
            for xx in range(w):
                rgb = [float(x[0, k, y, xx]) for k in range(c)]
                for i in range(c):
                    lin = gain * sum(float(cm[i, k]) * rgb[k] for k in range(c))
                    out[i][y][xx] = _srgb(lin, toe)
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
    pred[0, 1, 1, 1] = -0.01  # renders below 0: the toe decides
    for toe in ("clamped", "linear"):
        for eta in (1.0, 0.5):
            got = DeepFnFLoss(grad_weight=eta, toe=toe)({"output": pred}, batch)
            want = _hand_loss(pred, batch["target"], 20.0, batch["color_matrix"][0], eta, toe)
            assert math.isclose(float(got["loss"]), want, rel_tol=1e-5)
            assert math.isclose(float(got["l2"] + eta * got["grad"]), want, rel_tol=1e-5)


def test_clamped_toe_removes_the_positive_offset_incentive():
    """A noisy estimate of a dark target: under the authors' linear toe a constant positive offset lowers the
    loss a lot (what the direct net learnt); with the toe clamped at 0, as the metric clips, the best offset
    is a small fraction of the noise."""
    g = torch.Generator().manual_seed(3)
    target = torch.full((1, 3, 64, 64), 1e-4)
    batch = {"target": target, "gain": torch.tensor([100.0]), "color_matrix": torch.eye(3)[None]}
    sigma = 0.0025  # residual noise, linear, at the target's exposure
    noisy = target + sigma * torch.randn(target.shape, generator=g)
    offsets = [k * 0.1 * sigma for k in range(31)]

    def best(toe: str) -> float:
        losses = [float(DeepFnFLoss(toe=toe)({"output": noisy + o}, batch)["l2"]) for o in offsets]
        return offsets[losses.index(min(losses))] / sigma

    assert best("linear") >= 1.0
    assert best("clamped") <= 0.5
    try:
        DeepFnFLoss(toe="bogus")
    except ValueError as err:
        assert "toe" in str(err)
    else:  # pragma: no cover
        raise AssertionError("a bad toe must be refused")


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


def test_kpn_anneal_fraction_of_the_run():
    loss = KPNAnnealedLoss(anneal_until=0.2)
    assert loss.weight(100) == pytest.approx(100 * 0.9998**100)  # run length unknown: the paper's decay
    loss.run_steps = 5000
    assert loss.weight(0) == pytest.approx(100.0)
    assert loss.weight(1000) == pytest.approx(1.0)  # 100x down at 20% of the run
    assert loss.weight(5000) == pytest.approx(100 * 0.01**5)
    assert KPNAnnealedLoss(beta=0.0, anneal_until=0.2).weight(10) == 0.0
    with pytest.raises(ValueError, match="anneal_until"):
        KPNAnnealedLoss(anneal_until=1.5)
