"""`fnflight eval` and `fnflight enhance` on tiny checkpoints and a tiny generated test set."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from cli_helpers import tiny
from PIL import Image

from fnflight.cli import enhance as enhance_cli
from fnflight.cli import evaluate as eval_cli
from fnflight.cli import train as train_cli
from fnflight.data.testset import TestSet, write_testset


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    paths = {}
    for model in ("deepfnf_small", "direct"):
        args = tiny(
            model,
            out,
            "trainer.max_steps=1",
            "trainer.limit_val_batches=0",
            "after_fit.evaluate=false",
            "after_fit.sample=false",
        )
        assert train_cli.run(args) == 0
        paths[model] = out / model / "checkpoints" / "last.ckpt"
        assert paths[model].is_file()
    return paths


@pytest.fixture(scope="module")
def testset(tmp_path_factory):
    out = tmp_path_factory.mktemp("testset")
    source = {"class_path": "fnflight.data.sources.EmbeddedPhotos", "init_args": {"split": "val"}}
    write_testset("fnf", source, out, seed=0, crop=64, limit=1, progress=False)
    return out


def test_eval_writes_table_1_records(ckpts, testset, tmp_path, capsys):
    out = tmp_path / "eval"
    rc = eval_cli.run(
        [f"ckpt={ckpts['deepfnf_small']}", f"ckpt={ckpts['direct']}", f"testset={testset}", f"out={out}"]
    )
    assert rc == 0
    records = json.loads((out / "results.json").read_text())
    assert all(
        set(r) - {"chroma_off"} == {"method", "dim", "psnr", "ssim"} for r in records
    )  # chroma_off: nets
    methods = {r["method"] for r in records}
    assert methods == {
        "deepfnf",
        "direct",
        "noisy_input",
        "gaussian_denoise",
        "petschnigg",
        "nlmeans_noflash",
    }
    assert {r["dim"] for r in records} == {100, 50, 25, 12.5}
    assert all(np.isfinite(r["psnr"]) and -1 <= r["ssim"] <= 1 for r in records)
    by = {(r["method"], r["dim"]): r["psnr"] for r in records}
    assert (
        by[("gaussian_denoise", 50)] >= by[("noisy_input", 50)]
    )  # the oracle never does worse than its input
    # the classical peers denoise: above the noisy input where the noise is strongest
    assert min(by[("petschnigg", 100)], by[("nlmeans_noflash", 100)]) > by[("noisy_input", 100)]
    table = (out / "results.md").read_text()
    assert "| deepfnf |" in table and "100x PSNR" in table and "12.5x SSIM" in table
    assert "| noisy_input |" in capsys.readouterr().out
    # one picture per test image: a label band, then per dim (darkest first) a label band and the panels:
    # noisy input | flash | gaussian oracle | petschnigg | nlmeans_noflash | deepfnf | direct | target
    # (64-px crops, whole here)
    (png,) = out.glob("comparison_*.png")
    picture = np.asarray(Image.open(png))
    band, size, pad, cols = 14, 64, 2, 8
    assert picture.shape == (band + 4 * (band + size), cols * size + (cols - 1) * pad, 3)
    sample = TestSet(testset)[0]  # the 100x sample of the first image: the first row
    assert float(sample["dim"]) == 100
    from fnflight.evaluation.pictures import to_uint8
    from fnflight.metrics.image_quality import render_for_metrics

    target = render_for_metrics(
        sample["target"][None], sample["gain"].reshape(1), sample["color_matrix"][None]
    )
    top, left = 2 * band, (cols - 1) * (size + pad)
    np.testing.assert_array_equal(picture[top : top + size, left : left + size], to_uint8(target[0]))


def test_eval_figures_off(ckpts, testset, tmp_path):
    out = tmp_path / "eval"
    assert eval_cli.run([f"ckpt={ckpts['direct']}", f"testset={testset}", f"out={out}", "figures=0"]) == 0
    assert (out / "results.json").is_file() and not list(out.glob("*.png"))
    assert eval_cli.run([f"ckpt={ckpts['direct']}", f"testset={testset}", "figures=-1"]) == 2
    # the chroma_off column (issue 22): the learned net's share of pixels with a colour no input has, per
    # level, in [0, 1]; the floors have none
    records = json.loads((out / "results.json").read_text())
    net = [r for r in records if r["method"] == "direct"]
    assert net and all(0.0 <= r["chroma_off"] <= 1.0 for r in net)
    assert all("chroma_off" not in r for r in records if r["method"] != "direct")
    assert "chroma_off |" in (out / "results.md").read_text()


def test_eval_errors(ckpts, testset, tmp_path, capsys):
    assert eval_cli.run([f"ckpt={tmp_path / 'missing.ckpt'}", f"testset={testset}", f"out={tmp_path}"]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.ckpt"
    bad.write_text("not a checkpoint")
    assert eval_cli.run([f"ckpt={bad}", f"testset={testset}"]) == 2
    assert "is not a checkpoint" in capsys.readouterr().err
    assert eval_cli.run([f"ckpt={ckpts['direct']}", f"testset={tmp_path / 'nothing'}"]) == 2
    assert "not a test set" in capsys.readouterr().err
    assert eval_cli.run([f"ckpt={ckpts['direct']}"]) == 2
    assert eval_cli.run([f"ckpt={ckpts['direct']}", f"testset={testset}", "bogus=1"]) == 2
    assert "valid keys" in capsys.readouterr().err


def test_enhance_own_images_and_testset_sample(ckpts, testset, tmp_path):
    sample = TestSet(testset)[1]
    for key in ("noflash", "flash"):
        arr = (np.clip(sample[key].permute(1, 2, 0).numpy() * 4, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8)
        Image.fromarray(arr).save(tmp_path / f"{key}.png")
    out = tmp_path / "out.png"
    rc = enhance_cli.run(
        [
            f"ckpt={ckpts['deepfnf_small']}",
            f"noflash={tmp_path / 'noflash.png'}",
            f"flash={tmp_path / 'flash.png'}",
            f"out={out}",
            "noise=estimate",
        ]
    )
    assert rc == 0 and Image.open(out).size == (64, 64)
    out2 = tmp_path / "sample.png"
    assert enhance_cli.run([f"ckpt={ckpts['direct']}", f"testset={testset}", "index=2", f"out={out2}"]) == 0
    assert Image.open(out2).size[0] > 3 * 64  # noisy | output | target
    assert (
        enhance_cli.run([f"ckpt={ckpts['direct']}", f"noflash={tmp_path / 'noflash.png'}", f"out={out}"]) == 2
    )


@pytest.mark.parametrize("tiled", [False, True])
def test_bright_user_pairs_reach_the_net_at_the_trained_exposure(tiled):
    """A well-exposed photo is scaled down to the dim exposure the FnF nets trained at (images and noise std
    maps alike) and the output scaled back; a dim capture is left as it is; in the tiled path of `enhance`
    as in the task's own prediction."""
    from fnflight.cli.enhance import _fnf_output
    from fnflight.data import batch as K
    from fnflight.tasks.fnf import TRAINED_MEAN, FlashNoFlashTask

    seen = []

    class Passthrough(torch.nn.Module):  # a net that returns its no-flash input
        receptive_field = 1 if tiled else None
        stride = 1

        def forward(self, noflash, flash, noflash_std, flash_std, **_):
            seen.append(float(noflash.mean()))
            assert torch.allclose(noflash_std, 0.1 * noflash)
            return {"output": noflash}

    task = FlashNoFlashTask(Passthrough())
    for mean in (0.4, 0.001):
        x = torch.full((1, 3, 8, 8), mean)
        batch = {K.NOFLASH: x, K.FLASH: 2 * x, K.NOFLASH_STD: 0.1 * x, K.FLASH_STD: 0.2 * x}
        torch.testing.assert_close(_fnf_output(task, batch, None), x)
    assert seen[0] == pytest.approx(TRAINED_MEAN) and seen[-1] == pytest.approx(0.001)
