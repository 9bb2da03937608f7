"""What `fnflight train` reports after a run: the model beside its input and the task's comparison
(results.json, the summary's per-level table, the sample's no-flash-only panel, the detail ratio), and the
cosine schedule."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch
from cli_helpers import tiny
from PIL import Image

from fnflight.config import compose
from fnflight.evaluation.validation_report import detail_ratio
from fnflight.tasks.base import cosine_rate
from fnflight.training.run import train


def test_results_json_summary_and_sample_show_the_comparison(tmp_path):
    args = tiny("deepfnf_small", tmp_path, "trainer.max_steps=2", "trainer.val_check_interval=2")
    result = train(compose("train", args))
    records = json.loads((tmp_path / "deepfnf_small" / "results.json").read_text())["records"]
    methods = {r["method"] for r in records}
    assert methods == {"deepfnf", "noisy_input", "nlmeans_noflash"}
    assert {r["dim"] for r in records} == {100.0, 50.0, 25.0, 12.5}
    assert all(math.isfinite(r["psnr"]) and r["count"] == 1 for r in records)
    # the noisy input's PSNR equals the one validation logs for it (same crops, same degradation)
    noisy = [r["psnr"] for r in records if r["method"] == "noisy_input"]
    assert sum(noisy) / len(noisy) == pytest.approx(result.metrics["val/input_psnr"], abs=1e-3)
    text = result.summary()
    assert "per level" in text and "nlmeans_noflash" in text and "dim 100 / dim 50" in text
    assert "detail       the output holds" in text and result.detail is not None and result.detail > 0
    # noisy | flash | no-flash only | output | target: five panels of the 256-px validation crops
    width = Image.open(tmp_path / "deepfnf_small" / "sample.png").size[0]
    assert width == 5 * 256 + 4 * 2


def test_detail_ratio_sees_a_blur():
    g = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, 32, 32, generator=g)
    blurred = torch.nn.functional.avg_pool2d(target, 3, stride=1, padding=1, count_include_pad=False)
    assert detail_ratio(target, target) == pytest.approx(1.0)
    assert detail_ratio(blurred, target) < 0.6


def test_cosine_schedule_reaches_min_lr_at_max_steps(tmp_path):
    args = tiny(
        "direct",
        tmp_path,
        "trainer.max_steps=6",
        "trainer.val_check_interval=6",
        "optim.schedule=cosine",
        "optim.warmup_steps=2",
        "optim.lr=1e-3",
        "optim.min_lr=1e-5",
        "after_fit.sample=false",
    )
    train(compose("train", args))
    [log] = sorted((tmp_path / "direct" / "logs").glob("*/metrics.csv"))
    with open(log) as f:
        lrs = [float(r["train/lr"]) for r in csv.DictReader(f) if r.get("train/lr")]
    want = [1e-3 * cosine_rate(s, 6, 2, 1e-2) for s in range(6)]
    assert lrs == pytest.approx(want, rel=1e-4)


def test_cosine_schedule_refuses_drop_steps(tmp_path):
    from fnflight.cli import train as train_cli

    bad = tiny("direct", tmp_path, "optim.schedule=cosine", "optim.drop_steps=[3]", "trainer.max_steps=1")
    assert train_cli.run(bad) == 2


def test_ema_weights_are_validated_and_checkpointed(tmp_path):
    args = tiny(
        "direct",
        tmp_path,
        "trainer.max_steps=4",
        "trainer.val_check_interval=4",
        "ema.decay=0.5",
        "ema.start_step=1",
        "after_fit.sample=false",
    )
    result = train(compose("train", args))
    # the after-fit validation, results.json and a fresh load of the best checkpoint score the same weights
    from fnflight.evaluation.validation_report import validation_records
    from fnflight.model_io.checkpoint import load_task
    from fnflight.training.run import build_datamodule

    own = [r["psnr"] for r in result.records if r["method"] == "direct"]
    assert sum(own) / len(own) == pytest.approx(result.metrics["val/psnr"], abs=1e-3)
    dm = build_datamodule(compose("train", args))
    dm.setup("validate")
    fresh = [
        r["psnr"] for r in validation_records(load_task(result.best_ckpt), dm, "x") if r["method"] == "x"
    ]
    assert fresh == pytest.approx(own, abs=1e-4)
    ckpt = torch.load(result.best_ckpt, weights_only=False)  # saved at a validation, during the fit
    averaged, current = ckpt["state_dict"], ckpt["current_model_state"]
    assert averaged.keys() == current.keys()
    assert any(not torch.equal(averaged[k], current[k]) for k in averaged)  # the average, not the weights


def test_bad_ema_decay_is_a_config_error(tmp_path):
    from fnflight.cli import train as train_cli

    assert train_cli.run(tiny("direct", tmp_path, "ema.decay=1.5", "trainer.max_steps=1")) == 2
