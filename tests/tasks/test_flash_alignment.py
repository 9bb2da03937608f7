"""The learned flash aligner: the net, its loss and task, the aligned DeepFnF wrapper."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fnflight.data import batch as keys
from fnflight.imaging import sample_homography, warp_image
from fnflight.nets import NoFlashOnly
from fnflight.nets.aligned_fnf import AlignedFlashNet
from fnflight.nets.flash_aligner import FlashAligner
from fnflight.tasks.flash_alignment import FlashAlignmentTask
from fnflight.tasks.losses import HomographyResidualLoss


def _batch(b=2, s=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    clean = F.avg_pool2d(torch.rand(b, 3, s, s, generator=g), 5, 1, 2) * 0.02 + 0.005
    true = sample_homography(b, s, s, g, max_rotation_deg=1.0, max_translation=4.0)
    flash = warp_image(clean, true) * 20
    return {
        keys.NOFLASH: clean,
        keys.FLASH: flash,
        keys.NOFLASH_STD: torch.full_like(clean, 1e-4),
        keys.FLASH_STD: torch.full_like(flash, 1e-3),
        keys.TARGET: clean,
        keys.HOMOGRAPHY: true,
        keys.GAIN: torch.full((b,), 50.0),
        keys.DIM: torch.tensor([50.0, 100.0])[:b],
        keys.COLOR_MATRIX: torch.eye(3)[None],
    }


def _aligner():
    return FlashAligner(width=0.25, features=4, iterations=(4, 3, 2))


def test_aligner_returns_one_homography_per_level():
    out = _aligner()(
        torch.rand(2, 3, 48, 40) + 0.1, torch.rand(2, 3, 48, 40) + 0.1, *[torch.ones(2, 3, 48, 40)] * 2
    )
    assert out["homography"].shape == (2, 3, 3) and len(out["levels"]) == 3
    assert torch.equal(out["levels"][-1], out["homography"])


def test_aligner_rejects_bad_shapes_and_options():
    with pytest.raises(ValueError, match="one shape"):
        _aligner()(
            torch.rand(1, 3, 16, 16),
            torch.rand(1, 3, 16, 8),
            torch.rand(1, 3, 16, 16),
            torch.rand(1, 3, 16, 8),
        )
    with pytest.raises(ValueError, match="one entry per pyramid level"):
        FlashAligner(levels=(4, 2), iterations=(1,), motions=("affine",))


def test_residual_loss_is_zero_for_the_true_homography_and_trains_the_features():
    batch = _batch()
    loss = HomographyResidualLoss()
    assert loss({"levels": [batch[keys.HOMOGRAPHY]]}, batch)["loss"].item() == pytest.approx(0.0, abs=1e-4)
    task = FlashAlignmentTask(_aligner(), lr=1e-3)
    parts = task.loss(task.predict(batch), batch)
    assert parts["loss"] > 0.1
    parts["loss"].backward()
    grads = [p.grad for p in task.net.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_task_reports_residuals_per_dim_and_chooses_checkpoints_by_the_minimum():
    task = FlashAlignmentTask(_aligner())
    assert task.checkpoint_metric == ("val/residual_px", "min")
    batch = _batch()
    task._eval_step(batch, 0, "val")
    assert task.residual.update_count == 1
    assert (
        task.residual_by_level["dim100"].update_count == 1
        and task.residual_by_level["dim50"].update_count == 1
    )
    before = float(task.before.compute())
    assert before > 1.0  # the batch's warps moved the flash by pixels
    panels = task.sample_panels(batch, task.predict(batch))
    assert len(panels) == 5 and all(p.shape == (2, 3, 64, 64) for p in panels)


def test_aligned_net_freezes_the_aligner_and_warps_the_flash():
    net = AlignedFlashNet(NoFlashOnly(width=0.0625, num_basis=4), _aligner())
    assert not any(p.requires_grad for p in net.aligner.parameters())
    batch = _batch()
    out = net(batch[keys.NOFLASH], batch[keys.FLASH], batch[keys.NOFLASH_STD], batch[keys.FLASH_STD])
    assert out["output"].shape == (2, 3, 64, 64) and out["homography"].shape == (2, 3, 3)
    out["output"].mean().backward()
    assert all(p.grad is None for p in net.aligner.parameters())
    assert any(p.grad is not None for p in net.net.parameters())
    # a given homography is undone: with the true warp the aligned flash matches the unwarped one inside
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    back = warp_image(batch[keys.FLASH], torch.linalg.inv(batch[keys.HOMOGRAPHY]))
    assert (back - batch[keys.TARGET] * 20)[inner].abs().max() < 0.05
