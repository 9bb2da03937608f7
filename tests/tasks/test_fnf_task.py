"""FlashNoFlashTask: the paper's learning-rate drops, predictions, pictures, checkpoint state."""

from __future__ import annotations

import math

import pytest
import torch

from fnflight.data import batch as keys
from fnflight.evaluation.pictures import grid
from fnflight.nets.fnf_baselines import DirectPrediction
from fnflight.tasks.fnf import FlashNoFlashTask


def _task(**kw):
    return FlashNoFlashTask(DirectPrediction(width=1 / 16), lr=1e-4, patience=1, **kw)


def _batch(b=2, s=32):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(b, 3, s, s, generator=g) / 50
    return {
        "noflash": x,
        "flash": x + 0.3,
        "noflash_std": torch.full_like(x, 0.01),
        "flash_std": torch.full_like(x, 0.01),
        "target": x,
        "gain": torch.full((b,), 50.0),
        "dim": torch.full((b,), 50.0),
        "color_matrix": torch.eye(3)[None],
    }


def test_two_drops_then_floor():
    task = _task()
    opt = task.configure_optimizers()
    lrs = []
    for psnr in [20.0] + [20.0] * 12:  # validation saturates
        task._plateau.step(psnr)
        lrs.append(opt.param_groups[0]["lr"])
    distinct = sorted(set(round(v, 12) for v in lrs), reverse=True)
    assert len(distinct) == 3
    assert math.isclose(distinct[1], 1e-4 / math.sqrt(10), rel_tol=1e-6) and math.isclose(distinct[2], 1e-5)


def test_plateau_state_travels_in_checkpoint():
    task = _task()
    opt = task.configure_optimizers()
    for _ in range(4):
        task._plateau.step(10.0)
    ckpt: dict = {}
    task.on_save_checkpoint(ckpt)
    fresh = _task()
    fresh.on_load_checkpoint(ckpt)  # before configure_optimizers, as in a Lightning resume
    fresh.configure_optimizers()
    assert fresh._plateau.num_bad_epochs == task._plateau.num_bad_epochs
    assert fresh._plateau.best == task._plateau.best
    assert opt.param_groups[0]["lr"] < 1e-4


def test_predict_and_panels():
    task = _task()
    batch = _batch()
    out = task.predict(batch)
    assert out["output"].shape == batch["target"].shape
    panels, caption = task.panels(batch, out)
    assert len(panels) == 4 and "output" in caption
    picture = grid(panels)
    assert picture.shape == (3, 2 * 32 + 2, 4 * 32 + 3 * 2) and 0 <= picture.min() and picture.max() <= 1


@pytest.mark.parametrize("name", ["deepfnf", "bpn", "kpn", "direct", "saecnn"])
def test_one_input_preparation_for_every_fnf_net(name):
    """exposure_matched (default): every net sees the flash at the no-flash exposure, so a brighter flash
    (and std map) gives the same output; as_captured (authors) feeds it as the camera recorded it."""
    from fnflight.nets.deepfnf import DeepFnF
    from fnflight.nets.fnf_baselines import BPN, DirectPrediction, KPNPair
    from fnflight.nets.saecnn import SAECNN

    nets = {
        "deepfnf": lambda: DeepFnF(num_basis=4, width=1 / 16),
        "bpn": lambda: BPN(num_basis=4, width=1 / 16),
        "kpn": lambda: KPNPair(width=1 / 16),
        "direct": lambda: DirectPrediction(width=1 / 16),
        "saecnn": lambda: SAECNN(num_basis=4, width=1 / 16),
    }
    torch.manual_seed(0)
    net = nets[name]()
    if name == "direct":  # its residual head starts at zero (output = the no-flash input whatever the flash)
        torch.nn.init.normal_(net.net.pixel_decoder.out.weight, std=0.1)
    matched, captured = (
        FlashNoFlashTask(net=net).eval(),
        FlashNoFlashTask(net=net, input_preparation="as_captured"),
    )
    nf, fl = 0.02 * torch.rand(1, 3, 40, 40), torch.rand(1, 3, 40, 40)
    batch = {keys.NOFLASH: nf, keys.FLASH: fl, keys.NOFLASH_STD: 0.01 + nf, keys.FLASH_STD: 0.01 + 0.1 * fl}
    brighter = {**batch, keys.FLASH: 7.0 * fl, keys.FLASH_STD: 7.0 * batch[keys.FLASH_STD]}
    with torch.no_grad():
        a, b = matched.predict(batch)["output"], matched.predict(brighter)["output"]
        c, d = captured.eval().predict(batch)["output"], captured.predict(brighter)["output"]
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert not torch.allclose(c, d, rtol=1e-3, atol=1e-6)
    with pytest.raises(ValueError, match="input_preparation"):
        FlashNoFlashTask(net=net, input_preparation="unit_mean")


def test_exposure_cap_scales_bright_images_down_and_linear_outputs_back():
    """Per image: only an image brighter than the cap is scaled (images and std maps by one factor); its
    linear outputs come back at the input's exposure, its scale map untouched."""

    class Halve(torch.nn.Module):
        def forward(self, noflash, flash, noflash_std, flash_std, **_):
            self.seen = noflash.mean((1, 2, 3)), (noflash_std / noflash).mean((1, 2, 3))
            return {"output": 0.5 * noflash, "filtered": noflash, "scale_map": torch.full_like(noflash, 0.5)}

    net = Halve()
    x = torch.cat([torch.full((1, 3, 4, 4), 0.2), torch.full((1, 3, 4, 4), 0.01)])
    batch = {keys.NOFLASH: x, keys.FLASH: x, keys.NOFLASH_STD: 0.1 * x, keys.FLASH_STD: 0.1 * x}
    out = FlashNoFlashTask(net, exposure_cap=0.05).predict(batch)
    torch.testing.assert_close(net.seen[0], torch.tensor([0.05, 0.01]))
    torch.testing.assert_close(net.seen[1], torch.tensor([0.1, 0.1]))
    torch.testing.assert_close(out["output"], 0.5 * x)
    torch.testing.assert_close(out["filtered"], x)
    torch.testing.assert_close(out["scale_map"], torch.full_like(x, 0.5))
    FlashNoFlashTask(net, exposure_cap=None).predict(batch)
    torch.testing.assert_close(net.seen[0], torch.tensor([0.2, 0.01]))
    with pytest.raises(ValueError, match="exposure_cap"):
        FlashNoFlashTask(net, exposure_cap=0)
