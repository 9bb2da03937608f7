"""The training-step benchmark's code path on its tiny case (no timing assertions: speed belongs in
``fnflight bench``); the real Trainer, DataModule and task run in the benchmark's subprocess."""

from __future__ import annotations

import json
import math

from fnflight.bench import train as bench_train
from fnflight.cli import bench as cli_bench


def test_bench_train_tiny_json(capsys):
    rc = cli_bench.run(
        ["train", "--json", "cases=[deepfnf_tiny]", "steps=2", "warmup=1", "repeats=1", "sgemm_n=256"]
    )
    assert rc == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["case"] for r in rows] == ["deepfnf_tiny"]
    row = rows[0]
    assert set(bench_train.KEYS) <= set(row)
    for key in ("steps_per_s", "samples_per_s", "flops_per_step", "roofline_fraction", "peak_mb"):
        assert math.isfinite(row[key]) and row[key] > 0, (key, row[key])
    assert 0 < row["data_wait_fraction"] < 1 and 0 <= row["degrade_fraction"] <= row["data_wait_fraction"]
    assert (row["device"], row["precision"], row["batch_size"], row["crop"]) == ("cpu", "32-true", 2, 32)


def test_bench_train_bad_options(capsys):
    from fnflight.cli import bench as cli_bench

    assert cli_bench.run(["train", "bogus=1"]) == 2
    assert "unknown key 'bogus'" in capsys.readouterr().err
    assert cli_bench.run(["train", "cases=[nope]"]) == 2
    assert "bad cases=" in capsys.readouterr().err
    assert cli_bench.run(["train", "precision=8-true"]) == 2
    assert "8-true is not one of" in capsys.readouterr().err
    assert cli_bench.run(["train", "device=tpu"]) == 2
    assert "bad device=tpu" in capsys.readouterr().err
