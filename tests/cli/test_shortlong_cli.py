"""LSD2 (paper 003) end to end on tiny settings: train the fusion net and its single-image variants, eval on
a short/long test set with the floors, enhance a pair of your own images in exact tiles."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from cli_helpers import tiny_raw
from PIL import Image

from fnflight.cli import enhance as enhance_cli
from fnflight.cli import evaluate as eval_cli
from fnflight.cli import train as train_cli
from fnflight.data.sources import decode_image
from fnflight.data.testset import write_testset
from fnflight.model_io.checkpoint import load_task

TINY_SL = [
    "data=shortlong_embedded",
    "logger=csv",
    "data.init_args.crop=32",
    "data.init_args.batch_size=2",
    "data.init_args.val_batch_size=2",
    "data.init_args.num_workers=0",
    "data.init_args.limit_val=1",
    "model.net.init_args.width=0.0625",
    "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
]


@pytest.mark.parametrize("model", ["lsd2_small", "short_only", "long_only"])
def test_fast_dev_run_short_long_models(model, tmp_path, capsys):
    rc = train_cli.run([f"model={model}", f"out_dir={tmp_path}", *TINY_SL, "trainer.fast_dev_run=1"])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / model / "sample.png").is_file()
    assert list((tmp_path / model / "images").glob("val_images_step*.png"))


def test_non_square_crops_train(tmp_path, capsys):
    args = [f"out_dir={tmp_path}", "model=lsd2_small", *TINY_SL, "data.init_args.crop=[32,48]"]
    assert train_cli.run([*args, "trainer.fast_dev_run=1"]) == 0, capsys.readouterr().err


@pytest.fixture(scope="module")
def lsd2_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    args = [
        "model=lsd2_small",
        f"out_dir={out}",
        *TINY_SL,
        "trainer.max_steps=1",
        "trainer.limit_val_batches=0",
    ]
    assert train_cli.run([*args, "after_fit.evaluate=false", "after_fit.sample=false"]) == 0
    return out / "lsd2_small" / "checkpoints" / "last.ckpt"


def test_eval_short_long_table_1_layout(lsd2_ckpt, tmp_path, capsys):
    testset = tmp_path / "ts"
    source = {"class_path": "fnflight.data.sources.EmbeddedPhotos", "init_args": {"split": "val"}}
    write_testset("shortlong", source, testset, seed=0, crop=48, limit=1, progress=False)
    out = tmp_path / "eval"
    assert eval_cli.run([f"ckpt={lsd2_ckpt}", f"testset={testset}", f"out={out}", "figures=1"]) == 0
    records = json.loads((out / "results.json").read_text())
    assert [r["method"] for r in records] == ["lsd2", "noisy_short", "blurry_long", "short_denoise"]
    assert all(
        set(r) - {"chroma_off"} == {"method", "psnr", "ssim"} for r in records
    )  # chroma_off: nets only
    md = (out / "results.md").read_text()
    assert "| Method | PSNR | SSIM |" in md
    by = {r["method"]: r["psnr"] for r in records}
    assert by["short_denoise"] > by["noisy_short"]  # the classical denoiser removes some noise
    assert list(out.glob("comparison_*.png"))


def _pair(tmp_path, h=70, w=100, shift=0):
    g = np.random.default_rng(0)
    sharp = (g.random((h, w + shift, 3)) * 255).astype(np.uint8)
    short = (sharp[:, :w] * 0.2 + g.normal(0, 5, (h, w, 3))).clip(0, 255).astype(np.uint8)
    long = sharp[:, shift : shift + w]
    Image.fromarray(short).save(tmp_path / "s.png")
    Image.fromarray(long).save(tmp_path / "l.png")
    return tmp_path / "s.png", tmp_path / "l.png"


def test_enhance_pair_tiled_equals_untiled(lsd2_ckpt, tmp_path):
    short, long = _pair(tmp_path)
    out = tmp_path / "out.png"
    args = [f"ckpt={lsd2_ckpt}", f"short={short}", f"long={long}", f"out={out}", "bits=16", "tile=256"]
    assert enhance_cli.run(args) == 0
    got = decode_image(out).astype(np.float64) / 65535  # PIL reads 16-bit RGB PNG as 8-bit
    assert got.shape == (70, 100, 3)
    task = load_task(lsd2_ckpt)
    s = torch.from_numpy(np.asarray(Image.open(short)).astype(np.float32) / 255).permute(2, 0, 1)[None]
    lg = torch.from_numpy(np.asarray(Image.open(long)).astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        ref = task.net(s, lg)["output"][0].clamp(0, 1).permute(1, 2, 0).numpy()
    assert np.abs(got - ref).max() <= 1.5 / 65535  # 16 px cores over 70 x 100: many tiles, exact


def test_enhance_pair_errors(lsd2_ckpt, tmp_path, capsys):
    short, long = _pair(tmp_path)
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "small.png")
    out = tmp_path / "o.png"
    cases = [
        ([f"short={short}", f"long={tmp_path / 'small.png'}"], "same size"),
        ([f"short={short}"], "both short=IMG and long=IMG"),
        ([f"short={short}", f"long={tmp_path / 'missing.png'}"], "no such image file"),
        ([f"short={short}", f"long={long}", "ratio=3"], "ratio= is not an option of this mode"),
    ]
    for extra, message in cases:
        assert enhance_cli.run([f"ckpt={lsd2_ckpt}", f"out={out}", *extra]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()
    sid = tmp_path / "sid"
    assert train_cli.run([*tiny_raw(sid), "trainer.max_steps=1", "trainer.limit_val_batches=0"]) == 0
    ckpt = sid / "sid_small" / "checkpoints" / "last.ckpt"
    assert enhance_cli.run([f"ckpt={ckpt}", f"out={out}", f"short={short}", f"long={long}"]) == 2
    assert "not a short/long exposure model" in capsys.readouterr().err and not out.exists()
