"""SID (paper 004) end to end on tiny settings: train (Bayer, X-Trans), raw test sets, eval with the
classical floors, weights-only export, and the full-resolution benchmark's path."""

from __future__ import annotations

import json

import pytest
import torch
from cli_helpers import tiny_raw

from fnflight.bench import enhance as bench_enhance
from fnflight.cli import evaluate as eval_cli
from fnflight.cli import export as export_cli
from fnflight.cli import train as train_cli
from fnflight.data.testset import write_testset
from fnflight.model_io.checkpoint import load_task


@pytest.mark.parametrize("cfa", ["bayer", "xtrans"])
def test_fast_dev_run_sid_small(cfa, tmp_path, capsys):
    # fast_dev_run=1 (a count, as Lightning takes it) is accepted like true
    rc = train_cli.run(tiny_raw(tmp_path, "trainer.fast_dev_run=1", f"data.init_args.cfa={cfa}"))
    assert rc == 0, capsys.readouterr().err
    run = tmp_path / "sid_small"
    assert (run / "sample.png").is_file()
    assert list((run / "images").glob("val_images_step*.png"))
    config = (run / "config.yaml").read_text()
    assert f"cfa: {cfa}" in config


@pytest.fixture(scope="module")
def sid_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    args = tiny_raw(out, "trainer.max_steps=2", "after_fit.evaluate=false", "after_fit.sample=false")
    assert train_cli.run([*args, "trainer.limit_val_batches=0"]) == 0
    path = out / "sid_small" / "checkpoints" / "last.ckpt"
    assert path.is_file()
    return path


@pytest.fixture(scope="module")
def raw_testset(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw_testset")
    source = {"class_path": "fnflight.data.sources.EmbeddedPhotos", "init_args": {"split": "val"}}
    write_testset("raw", source, out, seed=0, crop=24, limit=1, progress=False)
    return out


def test_eval_raw_table_with_floors(sid_ckpt, raw_testset, tmp_path, capsys):
    out = tmp_path / "eval"
    rc = eval_cli.run([f"ckpt={sid_ckpt}", f"testset={raw_testset}", f"out={out}", "figures=1"])
    assert rc == 0, capsys.readouterr().err
    records = json.loads((out / "results.json").read_text())
    assert {r["method"] for r in records} == {"sid", "traditional", "traditional_denoise"}
    assert all(set(r) == {"method", "ratio", "psnr", "ssim"} for r in records)
    assert sorted({r["ratio"] for r in records}) == [100, 250, 300]
    md = (out / "results.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Method"))
    assert header.split(" | ")[1:3] == ["300x PSNR", "300x SSIM"] and "mean PSNR" in header
    rows = {line.split(" | ")[0].strip("| "): line for line in md.splitlines() if line.startswith("| ")}
    assert len(rows["traditional_denoise"].split(" | ")) == 9  # method + 3 ratios + mean, PSNR and SSIM
    # the denoised floor is better than the noisy pipeline at every ratio (true noise level given)
    by = {(r["method"], r["ratio"]): r["psnr"] for r in records}
    assert all(by[("traditional_denoise", q)] > by[("traditional", q)] for q in (100, 250, 300))
    assert list(out.glob("comparison_*.png"))


def test_export_weights_evaluate_identically(sid_ckpt, raw_testset, tmp_path, capsys):
    weights = tmp_path / "sid.pt"
    assert export_cli.run([f"ckpt={sid_ckpt}", f"out={weights}"]) == 0
    data = torch.load(weights, weights_only=True)  # no code unpickled
    assert data["format"] == "fnflight-weights"
    a, b = load_task(sid_ckpt), load_task(weights)
    assert type(a) is type(b) and list(a.hparams["dims"]) == list(b.hparams["dims"]) == [100, 250, 300]
    for k, v in a.net.state_dict().items():
        assert torch.equal(v, b.net.state_dict()[k])
    runs = []
    for ckpt in (sid_ckpt, weights):
        out = tmp_path / ckpt.stem
        assert eval_cli.run([f"ckpt={ckpt}", f"testset={raw_testset}", f"out={out}", "baselines=false"]) == 0
        runs.append(json.loads((out / "results.json").read_text()))
    assert runs[0] == runs[1]
    assert export_cli.run([f"ckpt={sid_ckpt}", f"out={tmp_path / 'x.bin'}"]) == 2  # .pt or .onnx only
    assert not (tmp_path / "x.bin").exists()
    assert export_cli.run([f"ckpt={tmp_path / 'missing.ckpt'}", f"out={weights}"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bench_enhance_tiny_case(capsys):
    assert bench_enhance.run(["cases=[sid_tiny]", "tile=96", "check_size=100"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    keys = {
        "case",
        "megapixels",
        "seconds",
        "peak_mb",
        "max_abs_diff_vs_untiled",
        "tiles",
        "roofline_fraction",
    }
    assert keys <= set(row)
    assert row["case"] == "sid_tiny" and row["tiles"] > 1 and row["check_tiles"] > 1
    assert row["max_abs_diff_vs_untiled"] <= 1e-4 and row["peak_mb"] > 0
    from fnflight.cli import bench as cli_bench

    assert cli_bench.run(["enhance", "cases=[nope]"]) == 2  # the one argument layer: one line, exit 2


def test_eval_refuses_a_raw_model_on_another_task(sid_ckpt, tmp_path, capsys):
    fnf = tmp_path / "fnf_testset"
    source = {"class_path": "fnflight.data.sources.EmbeddedPhotos", "init_args": {"split": "val"}}
    write_testset("fnf", source, fnf, seed=0, crop=32, limit=1, progress=False)
    rc = eval_cli.run([f"ckpt={sid_ckpt}", f"testset={fnf}", f"out={tmp_path / 'e'}", "figures=0"])
    assert rc == 1
    assert "is a 'raw' model" in capsys.readouterr().err


def test_init_from_fine_tunes_from_weights(sid_ckpt, tmp_path, capsys):
    # the fine-tuning entry point (init_from=): the net starts from the given weights, a fresh run otherwise
    args = tiny_raw(tmp_path, "trainer.max_steps=1", "trainer.limit_val_batches=0", "after_fit.sample=false")
    assert train_cli.run([*args, f"init_from={sid_ckpt}", "optim.lr=1e-12"]) == 0
    tuned = load_task(tmp_path / "sid_small" / "checkpoints" / "last.ckpt").net.state_dict()
    start = load_task(sid_ckpt).net.state_dict()
    assert all(torch.allclose(tuned[k], start[k], atol=1e-6) for k in start)
    bad = tiny_raw(tmp_path, "name=bad", "model.net.init_args.width=0.125", "trainer.max_steps=1")
    assert train_cli.run([*bad, f"init_from={sid_ckpt}"]) == 2
    assert "does not match this model" in capsys.readouterr().err
