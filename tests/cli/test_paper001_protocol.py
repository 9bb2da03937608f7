"""Paper 001's protocol (data=fnf_paper001) and its network's Table 2 ablations: uniform dimming factors
and noise stds, test data drawn like training, one PSNR/SSIM column in `fnflight eval`."""

from __future__ import annotations

import json

import torch
from cli_helpers import tiny

from fnflight.cli import evaluate as eval_cli
from fnflight.cli import train as train_cli
from fnflight.data import batch as K
from fnflight.data.fnf import FlashNoFlashDataModule
from fnflight.data.testset import write_testset
from fnflight.metrics.lpips import LPIPS, file_state
from fnflight.nets.saecnn import SAECNN

PAPER001 = {
    "alpha_range": [0.02, 0.04],
    "dim_sampling": "uniform",
    "noise_sampling": "uniform",
    "test_dims": None,
}


def test_paper001_draws_are_uniform_in_its_ranges():
    dm = FlashNoFlashDataModule(crop=32, batch_size=4, num_workers=0, **PAPER001)
    g = torch.Generator().manual_seed(0)
    batch = next(iter(dm.train_dataloader()))
    dims, reads, shots = [], [], []
    for _ in range(50):
        out = dm.degrade(batch, g, "train")
        dims.append(out[K.DIM]), reads.append(out[K.STD_READ]), shots.append(out[K.STD_SHOT])
    dims, reads, shots = torch.cat(dims), torch.cat(reads), torch.cat(shots)
    assert 25 <= float(dims.min()) and float(dims.max()) <= 50
    assert 1e-3 <= float(reads.min()) and float(reads.max()) <= 1e-2
    assert 1e-2 <= float(shots.min()) and float(shots.max()) <= 10**-1.3 + 1e-9
    # uniform, not log-uniform: the mean sits at the middle of the range
    assert abs(float(dims.mean()) - 37.5) < 1.5 and abs(float(reads.mean()) - 5.5e-3) < 5e-4
    dm.setup("validate")
    assert len(dm.val_set) == len(dm.val_source)  # no fixed dims: each image once


def test_eval_on_a_paper001_test_set_has_one_column(tmp_path, capsys):
    out = tmp_path / "runs"
    assert train_cli.run(tiny("saecnn_small", out, "trainer.max_steps=1", "trainer.limit_val_batches=0")) == 0
    testset = tmp_path / "ts"
    source = {"class_path": "fnflight.data.sources.EmbeddedPhotos", "init_args": {"split": "val"}}
    write_testset("fnf", source, testset, seed=0, crop=48, limit=2, progress=False, datamodule_args=PAPER001)
    ckpt = out / "saecnn_small" / "checkpoints" / "last.ckpt"
    assert eval_cli.run([f"ckpt={ckpt}", f"testset={testset}", f"out={tmp_path / 'e'}", "figures=0"]) == 0
    records = json.loads((tmp_path / "e" / "results.json").read_text())
    assert {r["method"] for r in records} == {
        "saecnn",
        "noisy_input",
        "gaussian_denoise",
        "petschnigg",
        "nlmeans_noflash",
    }
    assert all(set(r) - {"chroma_off"} == {"method", "psnr", "ssim"} for r in records)
    assert "chroma_off" in records[0] and all("chroma_off" not in r for r in records[1:])  # the net's only
    md = (tmp_path / "e" / "results.md").read_text()
    assert "| Method | PSNR | SSIM | LPIPS | chroma_off |" in md and "| n/a |" in md
    assert "LPIPS: not available" in md

    # with local LPIPS weights (here random ones in the expected layout) every row gets its distance
    weights = tmp_path / "lpips_alex.pt"
    torch.manual_seed(0)
    torch.save({k: v.abs() for k, v in file_state(LPIPS()).items()}, weights)
    assert (
        eval_cli.run(
            [f"ckpt={ckpt}", f"testset={testset}", f"out={tmp_path / 'l'}", "figures=0", f"lpips={weights}"]
        )
        == 0
    )
    records = json.loads((tmp_path / "l" / "results.json").read_text())
    assert all(
        set(r) - {"chroma_off"} == {"method", "psnr", "ssim", "lpips"} and r["lpips"] >= 0 for r in records
    )
    assert "n/a" not in (tmp_path / "l" / "results.md").read_text()
    # a bad weights file stops before any work, with the reason
    (tmp_path / "bad.pt").write_bytes(b"not a state dict")
    assert (
        eval_cli.run(
            [f"ckpt={ckpt}", f"testset={testset}", f"out={tmp_path / 'b'}", f"lpips={tmp_path / 'bad.pt'}"]
        )
        == 2
    )
    assert "cannot read LPIPS weights" in capsys.readouterr().err


def test_table2_ablations():
    torch.manual_seed(0)
    x, f = torch.rand(1, 3, 24, 24), torch.rand(1, 3, 24, 24)
    s = torch.full_like(x, 0.01)
    net = SAECNN(num_basis=4, width=1 / 16, fusion="add").eval()
    out = net(x, f, s, s)
    torch.testing.assert_close(out["output"], out["from_noflash"] + out["from_flash"])
    blind = SAECNN(num_basis=4, width=1 / 16, flash_branch="noflash").eval()
    with torch.no_grad():
        torch.testing.assert_close(blind(x, f, s, s)["output"], blind(x, torch.zeros_like(f), s, s)["output"])
    one = SAECNN(num_basis=4, width=1 / 16, kernel_sizes=(15,))
    assert one(x, f, s, s)["output"].shape == x.shape
