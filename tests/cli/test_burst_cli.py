"""KPN bursts (paper 002) on a tiny checkpoint: test sets at fixed noise levels evaluated per level with the
floors; `fnflight enhance burst=...` (frames in name order, checks, the estimated noise); and the test-set
mode of a burst checkpoint (it rendered through the flash/no-flash path)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from fnflight.cli import enhance as enhance_cli
from fnflight.cli import evaluate as eval_cli
from fnflight.cli import train as train_cli
from fnflight.data.testset import write_testset

TINY_BURST = [
    "model=kpn_burst",  # brings data=burst_embedded
    "logger=csv",
    "model.net.init_args.frames=2",
    "model.net.init_args.width=0.0625",
    "data.init_args.crop=32",
    "data.init_args.batch_size=2",
    "data.init_args.val_batch_size=2",
    "data.init_args.num_workers=0",
    "data.init_args.limit_val=1",
    "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
    "trainer.max_steps=1",
    "trainer.limit_val_batches=0",
    "after_fit.sample=false",
]


@pytest.mark.parametrize("model", ["kpn_burst", "kpn_1frame", "kpn_noanneal", "kpn_blind", "kpn_direct"])
def test_fast_dev_run_every_kpn_variant(model, tmp_path, capsys):
    frames = "model.net.init_args.frames=1" if model == "kpn_1frame" else "model.net.init_args.frames=2"
    args = [
        a for a in TINY_BURST if not a.startswith(("model=", "model.net.init_args.frames", "trainer.max"))
    ]
    args += [
        f"model={model}",
        frames,
        f"out_dir={tmp_path}",
        "trainer.fast_dev_run=1",
        "after_fit.sample=true",
    ]
    assert train_cli.run(args) == 0, capsys.readouterr().err
    assert (tmp_path / model / "sample.png").is_file()


def test_grayscale_bursts(tmp_path):
    args = [*TINY_BURST, f"out_dir={tmp_path}", "data.init_args.grayscale=true", "trainer.max_steps=1"]
    assert train_cli.run(args) == 0
    from fnflight.data.burst import BurstDataModule

    dm = BurstDataModule(frames=2, crop=16, batch_size=2, num_workers=0, grayscale=True)
    batch = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    burst, target = batch["burst"], batch["target"]
    assert burst.shape[2] == 3 and bool((burst[:, :, 0] == burst[:, :, 2]).all())  # grey, noise included
    assert bool((target[:, 0] == target[:, 1]).all())


@pytest.fixture(scope="module")
def burst_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert train_cli.run([*TINY_BURST, f"out_dir={out}"]) == 0
    return out / "kpn_burst" / "checkpoints" / "last.ckpt"


def _frames(folder, count=2, size=(40, 52)):
    folder.mkdir(exist_ok=True)
    g = np.random.default_rng(0)
    base = g.random((*size, 3))
    for i in range(count):
        noisy = (base + g.normal(0, 0.05, base.shape)).clip(0, 1)
        Image.fromarray((noisy * 255).astype(np.uint8)).save(folder / f"frame_{i:02d}.png")
    return folder


def test_enhance_a_burst_folder_and_glob(burst_ckpt, tmp_path, capsys):
    folder = _frames(tmp_path / "burst")
    out = tmp_path / "out.png"
    assert enhance_cli.run([f"ckpt={burst_ckpt}", f"burst={folder}", f"out={out}"]) == 0
    assert np.asarray(Image.open(out)).shape == (40, 52, 3)
    assert "2 frames, std_read" in capsys.readouterr().out  # the noise was estimated
    out2 = tmp_path / "out2.tif"
    args = [
        f"ckpt={burst_ckpt}",
        f"burst={folder}/frame_*.png",
        f"out={out2}",
        "std_read=0.01",
        "std_shot=0.02",
    ]
    assert enhance_cli.run(args) == 0 and out2.is_file()


def test_enhance_burst_errors(burst_ckpt, tmp_path, capsys):
    out = tmp_path / "o.png"
    three = _frames(tmp_path / "three", count=3)
    odd = _frames(tmp_path / "odd", count=1)
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(odd / "frame_01.png")
    (tmp_path / "empty").mkdir()
    cases = [
        ([f"burst={three}"], "3 frames, but checkpoint"),
        ([f"burst={odd}"], "every frame must have the reference's size"),
        ([f"burst={tmp_path / 'empty'}"], "no image files"),
        ([f"burst={three}", "ratio=2"], "ratio= is not an option of this mode"),
    ]
    for extra, message in cases:
        assert enhance_cli.run([f"ckpt={burst_ckpt}", f"out={out}", *extra]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()


def test_enhance_burst_testset_sample(burst_ckpt, tmp_path):
    testset = tmp_path / "ts"
    source = {"class_path": "fnflight.data.sources.EmbeddedPhotos", "init_args": {"split": "val"}}
    write_testset(
        "burst", source, testset, seed=0, crop=32, limit=1, progress=False, datamodule_args={"frames": 2}
    )
    out = tmp_path / "sample.png"
    assert enhance_cli.run([f"ckpt={burst_ckpt}", f"testset={testset}", "index=0", f"out={out}"]) == 0
    assert np.asarray(Image.open(out)).shape[1] > 3 * 32  # input | output | target


def test_eval_burst_per_noise_level_with_floors(burst_ckpt, tmp_path, capsys):
    testset = tmp_path / "ts"
    source = {"class_path": "fnflight.data.sources.EmbeddedPhotos", "init_args": {"split": "val"}}
    write_testset(
        "burst", source, testset, seed=0, crop=32, limit=1, progress=False, datamodule_args={"frames": 2}
    )
    manifest = json.loads((testset / "manifest.json").read_text())
    assert manifest["protocol"]["test_levels"] == [1.0, 2.0, 4.0, 8.0]
    assert [s["params"]["level"] for s in manifest["samples"]] == [1.0, 2.0, 4.0, 8.0]
    out = tmp_path / "eval"
    assert eval_cli.run([f"ckpt={burst_ckpt}", f"testset={testset}", f"out={out}", "figures=1"]) == 0
    records = json.loads((out / "results.json").read_text())
    assert {r["method"] for r in records} == {"kpn_burst", "reference_frame", "average", "reference_denoise"}
    assert all(set(r) - {"chroma_off"} == {"method", "level", "psnr", "ssim"} for r in records)
    assert sorted({r["level"] for r in records}) == [1, 2, 4, 8]
    assert "gain 8 PSNR" in (out / "results.md").read_text()
    by = {(r["method"], r["level"]): r["psnr"] for r in records}
    # more noise at a higher gain; the classical denoiser beats the noisy reference frame
    assert by[("reference_frame", 8)] < by[("reference_frame", 1)]
    assert all(by[("reference_denoise", g)] > by[("reference_frame", g)] for g in (1, 2, 4, 8))


def test_a_one_frame_net_runs_on_longer_bursts():
    """kpn_1frame is evaluated on the 8-frame test bursts like the others: it sees their reference frame."""
    import torch

    from fnflight.data import batch as K
    from fnflight.nets.kpn_burst import KPNBurst
    from fnflight.tasks.burst import BurstTask

    torch.manual_seed(0)
    task = BurstTask(net=KPNBurst(frames=1, width=1 / 16)).eval()
    burst = torch.rand(1, 8, 3, 40, 40)
    noise = torch.full((1, 1, 40, 40), 0.02)
    with torch.no_grad():
        out = task.predict({K.BURST: burst, K.NOISE_STD: noise})["output"]
        ref = task.net(burst[:, :1], noise)["output"]
    torch.testing.assert_close(out, ref)
