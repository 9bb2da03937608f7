"""The ops benchmark code path on a tiny case (no timing assertions)."""

from __future__ import annotations

import json

from fnflight.bench import ops as bench_ops
from fnflight.cli import bench as cli_bench


def test_bench_ops_tiny_json(capsys):
    rc = bench_ops.run(
        [
            "cases=[deepfnf,deepfnf_train,kpn,saecnn]",
            "size=36",
            "j=2",
            "frames=2",
            "repeats=1",
            "memory=false",
        ]
    )
    assert rc == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["case"] for r in lines] == ["deepfnf", "deepfnf_train", "kpn", "saecnn"]
    for row in lines:
        assert set(bench_ops.KEYS) <= set(row)
        assert row["max_rel_err"] < 1e-4
        assert row["ours_ms"] > 0 and row["naive_ms"] > 0 and row["sgemm_gflops"] > 0


def test_bench_cli_errors(capsys):
    assert cli_bench.run(["nope"]) == 2
    assert cli_bench.run(["ops", "--json", "notakeyvalue"]) == 2
    assert cli_bench.run(["--help"]) == 0
    capsys.readouterr()
    assert cli_bench.run(["ops", "bogus=1"]) == 2  # the one argument layer: one line, the valid keys
    assert "unknown key 'bogus'; valid keys: cases" in capsys.readouterr().err
    assert cli_bench.run(["ops", "memory=ture"]) == 2  # the one boolean rule
    assert "bad memory=ture: must be true or false" in capsys.readouterr().err
    assert cli_bench.run(["ops", "repeats=2.5"]) == 2
    assert "bad repeats=2.5: not a whole number" in capsys.readouterr().err
