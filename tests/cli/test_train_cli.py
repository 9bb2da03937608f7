"""`fnflight train` end to end on tiny settings: every FnF model, bf16, wandb offline, resume, errors."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from cli_helpers import tiny

from fnflight.cli import train as train_cli
from fnflight.config import available, compose
from fnflight.training.run import train

FNF_MODELS = [
    m
    for m in available("model")
    if compose("train", [f"model={m}"]).model.task.class_path == "fnflight.tasks.fnf.FlashNoFlashTask"
]


def test_fnf_models_are_all_configured():
    assert {"deepfnf", "deepfnf_small", "nfonly", "bpn", "bpn_burst", "kpn", "direct", "saecnn"} <= set(
        FNF_MODELS
    )


@pytest.mark.parametrize("model", FNF_MODELS)
def test_fast_dev_run_every_fnf_model(model, tmp_path, capsys):
    rc = train_cli.run(tiny(model, tmp_path, "trainer.fast_dev_run=true"))
    assert rc == 0
    run_dir = tmp_path / model
    assert (run_dir / "config.yaml").is_file()
    assert (run_dir / "sample.png").is_file()
    assert list((run_dir / "images").glob("val_images_step*.png"))
    assert "Run directory" in capsys.readouterr().out


def test_bf16_mixed(tmp_path):
    rc = train_cli.run(
        tiny("deepfnf_small", tmp_path, "trainer.fast_dev_run=true", "trainer.precision=bf16-mixed")
    )
    assert rc == 0


def test_wandb_offline_logs_images(tmp_path):
    cfg = compose(
        "train",
        [
            *tiny("direct", tmp_path, "trainer.max_steps=2", "trainer.val_check_interval=2"),
            "logger=wandb_offline",
        ],
    )
    result = train(cfg)
    run_dir = tmp_path / "direct"
    runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, list((run_dir / "wandb").iterdir())
    media = list(runs[0].glob("files/media/images/**/*.png"))
    assert media, "no image in the wandb run folder"
    assert _csvs(run_dir)  # CSV alongside wandb
    assert result.wandb_dir == run_dir / "wandb"


def _train_steps(path):
    with open(path) as f:
        return [int(r["step"]) for r in csv.DictReader(f) if r.get("train/loss")]


def _csvs(run_dir):
    return sorted((run_dir / "logs").glob("version_*/metrics.csv"))


def test_resume_continues_at_the_right_step(tmp_path):
    base = tiny("direct", tmp_path, "trainer.val_check_interval=2", "checkpoint.every_n_train_steps=1")
    first = train(compose("train", [*base, "trainer.max_steps=2"]))
    last = tmp_path / "direct" / "checkpoints" / "last.ckpt"
    assert first.global_step == 2 and last.is_file()
    assert torch.load(last, weights_only=False)["global_step"] == 2

    # a fresh run into the same run dir is refused
    assert train_cli.run([*base, "trainer.max_steps=2"]) == 2

    second = train(compose("train", [*base, "trainer.max_steps=4", "ckpt_path=last"]))
    assert second.global_step == 4
    assert torch.load(last, weights_only=False)["global_step"] == 4
    first_steps, second_steps = (_train_steps(p) for p in _csvs(tmp_path / "direct"))
    assert len(first_steps) == 2 and len(second_steps) == 2  # 2 steps, then 2 more
    assert min(second_steps) > max(first_steps)  # continued, not restarted
    metrics = json.loads((tmp_path / "direct" / "metrics.json").read_text())
    assert "val/psnr" in metrics["metrics"] and "val/psnr_dim50" in metrics["metrics"]


def test_resume_without_checkpoint_is_an_error(tmp_path, capsys):
    assert train_cli.run(tiny("direct", tmp_path, "ckpt_path=last")) == 2
    assert "last.ckpt" in capsys.readouterr().err


def test_config_error_exit_code(tmp_path, capsys):
    assert train_cli.run(["model=nope", f"out_dir={tmp_path}"]) == 2
    assert "valid:" in capsys.readouterr().err


def test_help_lists_groups(capsys):
    assert train_cli.run(["--help"]) == 0
    out = capsys.readouterr().out
    assert "deepfnf_paper" in out and "wandb_offline" in out


def _train_lrs(path):
    with open(path) as f:
        return [float(r["train/lr"]) for r in csv.DictReader(f) if r.get("train/lr")]


def test_fixed_lr_drops_survive_a_resume(tmp_path):
    base = tiny(
        "direct",
        tmp_path,
        "trainer.val_check_interval=2",
        "checkpoint.every_n_train_steps=1",
        "optim.drop_steps=[3]",
    )
    train(compose("train", [*base, "trainer.max_steps=2"]))
    train(compose("train", [*base, "trainer.max_steps=4", "ckpt_path=last"]))
    lrs = [lr for p in _csvs(tmp_path / "direct") for lr in _train_lrs(p)]
    assert lrs == pytest.approx([1e-4, 1e-4, 1e-4, 1e-4 * 10**-0.5])


def test_bad_drop_steps_is_a_config_error(tmp_path, capsys):
    assert train_cli.run(tiny("direct", tmp_path, "optim.drop_steps=[0.5]", "trainer.max_steps=1")) == 2
    assert "drop_steps" in capsys.readouterr().err


def test_fast_dev_run_next_to_a_real_run(tmp_path, capsys):
    # a smoke test in a used run directory goes beside it instead of stopping or replacing its files
    args = tiny("deepfnf_small", tmp_path, "trainer.max_steps=1", "trainer.limit_val_batches=0")
    assert train_cli.run([*args, "after_fit.sample=false"]) == 0
    config = (tmp_path / "deepfnf_small" / "config.yaml").read_text()
    assert train_cli.run(tiny("deepfnf_small", tmp_path, "trainer.fast_dev_run=1")) == 0
    assert (tmp_path / "deepfnf_small-fast_dev_run" / "sample.png").is_file()
    assert (tmp_path / "deepfnf_small" / "config.yaml").read_text() == config


def test_flash_aligner_trains_then_starts_the_aligned_deepfnf(tmp_path, capsys):
    """The aligner's own run keeps its best checkpoint by the LOWEST residual; deepfnf_aligned starts its
    aligner from it with init_from={aligner: PATH}; a wrong submodule name is a config error."""
    rc = train_cli.run(tiny("flash_aligner", tmp_path, "trainer.max_steps=2", "trainer.val_check_interval=1"))
    assert rc == 0
    out = capsys.readouterr().out
    assert "val/residual_px" in out
    best = sorted((tmp_path / "flash_aligner" / "checkpoints").glob("best-*.ckpt"))
    assert len(best) == 1
    state = torch.load(best[0], map_location="cpu", weights_only=False)
    assert any("'monitor': 'val/residual_px', 'mode': 'min'" in k for k in state["callbacks"])

    args = tiny("deepfnf_aligned", tmp_path, "trainer.fast_dev_run=true", f"init_from={{aligner: {best[0]}}}")
    assert train_cli.run(args) == 0
    bad = tiny("deepfnf_aligned", tmp_path, "trainer.fast_dev_run=true", f"init_from={{alinger: {best[0]}}}")
    assert train_cli.run(bad) == 2
    assert "no submodule 'alinger'" in capsys.readouterr().err
