"""The summary `fnflight train` prints at the end of a run."""

from pathlib import Path

from fnflight.training.run import RunResult


def test_summary_paths_relative_and_dims_in_table_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = Path("runs/x")
    result = RunResult(
        run_dir=run,
        config_path=run / "config.yaml",
        last_ckpt=run / "checkpoints/last.ckpt",
        best_ckpt=(tmp_path / run / "checkpoints/best.ckpt").resolve(),  # Lightning gives absolute paths
        metrics={"val/psnr_dim12.5": 30.0, "val/psnr": 25.0, "val/psnr_dim100": 20.0, "val/ssim_dim50": 0.5},
        global_step=7,
    )
    text = result.summary()
    assert "best ckpt    runs/x/checkpoints/best.ckpt" in text
    assert "last ckpt    runs/x/checkpoints/last.ckpt" in text
    assert "sample       (none)" in text
    assert "val/psnr=25, val/psnr_dim100=20, val/psnr_dim12.5=30, val/ssim_dim50=0.5" in text
    outside = RunResult(run_dir=run, config_path=Path("/elsewhere/config.yaml"))
    assert "config       /elsewhere/config.yaml" in outside.summary()
