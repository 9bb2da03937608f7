from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from fnflight.cli.testset import run as cli_run
from fnflight.data import FAIDPairs, ImageFolder, TestSet, write_testset
from fnflight.data import batch as K


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_fnf_testset_byte_identical(photo_folder: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_testset(
            "fnf", ImageFolder(photo_folder), tmp_path / name, seed=0, crop=32, limit=2, progress=False
        )
    a, b = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert a == b and len(a) == 1 + 2 * 4
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["task"] == "fnf" and manifest["seed"] == 0 and manifest["crop"] == 32
    assert [s["params"]["dim"] for s in manifest["samples"]] == [100.0, 50.0, 25.0, 12.5] * 2
    assert manifest["source"]["files"] == [{"ambient": "img0.png"}, {"ambient": "img1.png"}]
    assert abs(manifest["samples"][0]["params"]["std_read"] - 10**-2.6) < 1e-9
    # another seed gives other noise
    write_testset("fnf", ImageFolder(photo_folder), tmp_path / "c", seed=1, crop=32, limit=2, progress=False)
    assert _hashes(tmp_path / "c")["samples/00000.npz"] != a["samples/00000.npz"]


def test_reader_yields_stored_batches(photo_folder: Path, tmp_path: Path) -> None:
    write_testset("fnf", ImageFolder(photo_folder), tmp_path / "t", seed=0, crop=32, limit=1, progress=False)
    ts = TestSet(tmp_path / "t", verify=True)
    assert len(ts) == 4 and ts.task == "fnf" and ts.name(0) == "img0.png"
    batch = next(iter(ts.loader(batch_size=4)))
    assert batch[K.NOFLASH].shape == (4, 3, 32, 32) and batch[K.NOFLASH].dtype == torch.float32
    assert batch[K.DIM].tolist() == [100.0, 50.0, 25.0, 12.5]
    # the homography applied to the flash is the same for every dim of one image
    assert all(torch.equal(batch[K.HOMOGRAPHY][0], h) for h in batch[K.HOMOGRAPHY])
    (tmp_path / "t" / "samples" / "00001.npz").write_bytes(b"x")
    with pytest.raises(ValueError, match="00001.npz"):
        ts[1]


def test_burst_and_faid_testsets(photo_folder: Path, faid_folder: Path, tmp_path: Path) -> None:
    write_testset(
        "burst",
        ImageFolder(photo_folder),
        tmp_path / "burst",
        crop=16,
        limit=1,
        progress=False,
        datamodule_args={"frames": 3, "large": 4.0},
    )
    sample = TestSet(tmp_path / "burst")[0]
    assert sample[K.BURST].shape == (3, 3, 16, 16)
    write_testset("fnf", FAIDPairs(faid_folder), tmp_path / "faid", crop=32, progress=False)
    assert len(TestSet(tmp_path / "faid")) == 8


def test_cli(photo_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert (
        cli_run(
            [
                "task=fnf",
                f"source.path={photo_folder}",
                f"out={out}",
                "crop=32",
                "limit=1",
                "progress=false",
                "dm.extra_noflash=1",
            ]
        )
        == 0
    )
    assert TestSet(out)[0][K.EXTRA_NOFLASH].shape == (1, 3, 32, 32)
    assert cli_run(["task=fnf", f"source.path={photo_folder}", f"out={out}", "crop=32"]) == 2
    assert "already holds a test set" in capsys.readouterr().err
    cases = [
        (["task=nope", "out=x"], "valid tasks: burst, fnf"),
        (["task=fnf", f"source.path={tmp_path / 'missing'}", "out=x"], "missing does not exist"),
        (["task=fnf", f"source.path={photo_folder}"], "out=DIR"),
        (["task=fnf", "out=x"], "source.path"),
        (["task=fnf", f"source.path={photo_folder}", "out=x", "dm.bogus=1"], "dm.reference"),
        (["task=fnf", f"source.path={photo_folder}", "out=x", "bogus=1"], "valid keys"),
    ]
    for argv, message in cases:
        assert cli_run(argv) == 2
        assert message in capsys.readouterr().err


def test_bench_data_runs(photo_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fnflight.bench import data as bench

    old = bench.CASES
    bench.CASES = [
        ("burst", "fnflight.data.burst.BurstDataModule", {"crop": 16, "batch_size": 1, "large": 4.0})
    ]
    try:
        rows = bench.run([f"source.path={photo_folder}", "batches=2", "num_workers=0"], json_out=True)
    finally:
        bench.CASES = old
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line == rows[0] and line["task"] == "burst"
    assert {"samples_per_s", "degrade_ms_per_batch", "batch", "crop"} <= set(line)


@pytest.mark.parametrize(
    ("task", "crop", "args", "count"),
    [
        ("shortlong", 16, {"margin": 4, "blur_samples": 3}, 2),
        ("raw", 8, {"test_ratios": [100.0, 300.0]}, 4),
    ],
)
def test_shortlong_and_raw_testsets_byte_identical(
    photo_folder: Path, tmp_path: Path, task: str, crop: int, args: dict, count: int
) -> None:
    for name in ("a", "b"):
        write_testset(
            task,
            ImageFolder(photo_folder),
            tmp_path / name,
            seed=0,
            crop=crop,
            limit=2,
            progress=False,
            datamodule_args=args,
        )
    a, b = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert a == b and len(a) == 1 + count
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["task"] == task and manifest["crop"] == crop
    sample = TestSet(tmp_path / "a", verify=True)[0]
    key = K.SHORT if task == "shortlong" else K.RAW
    assert torch.isfinite(sample[key]).all()


def test_raw_testset_from_sid_list_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_raw_sources import make_sid

    from fnflight.cli import evaluate as eval_cli

    root = tmp_path / "sid"
    make_sid(root, size=48, pairs=3)
    args = ["task=raw", "source.kind=sid", f"source.path={root}", "source.list_file=Sony_train_list.txt"]
    for name in ("a", "b"):
        assert cli_run([*args, f"out={tmp_path / name}", "crop=0", "progress=false"]) == 0
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")  # byte-identical
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["protocol"]["mode"] == "real" and manifest["crop"] == 0
    assert [s["params"]["ratio"] for s in manifest["samples"]] == [100.0, 250.0, 300.0]
    sample = TestSet(tmp_path / "a")[0]
    assert sample[K.RAW].shape == (4, 24, 24) and sample[K.TARGET].shape == (3, 48, 48)
    # the classical floor runs on real captures too (24 px captures are too small to estimate their noise
    # level, so no traditional_denoise here)
    out = tmp_path / "eval"
    assert eval_cli.run([f"testset={tmp_path / 'a'}", f"out={out}", "figures=0"]) == 0
    records = json.loads((out / "results.json").read_text())
    assert {r["method"] for r in records} == {"traditional"}
    assert sorted(r["ratio"] for r in records) == [100, 250, 300]
    # errors: no list file, a list naming a missing capture
    assert cli_run([*args[:3], f"out={tmp_path / 'c'}"]) == 2
    assert "source.list_file" in capsys.readouterr().err
    (root / "Sony_train_list.txt").write_text("./Sony/short/00009_00_0.1s.ARW ./Sony/long/00009_00_10s.ARW\n")
    assert cli_run([*args, f"out={tmp_path / 'd'}"]) == 2
    err = capsys.readouterr().err
    assert "00009_00_0.1s.ARW does not exist" in err and not (tmp_path / "d" / "manifest.json").exists()


def test_a_failed_write_leaves_nothing_behind(photo_folder: Path, tmp_path: Path) -> None:
    import shutil

    from fnflight.data.sources import SourceError

    folder = tmp_path / "own_photos"
    shutil.copytree(photo_folder, folder)
    out = tmp_path / "ts"
    write_testset("fnf", ImageFolder(folder), out, seed=0, crop=32, limit=1, progress=False)
    before = _hashes(out)
    good = sorted(folder.iterdir())[0].read_bytes()
    (folder / "zz_broken.png").write_bytes(good[: len(good) // 2])  # a valid header, truncated pixels
    source = ImageFolder(folder)  # the header reads: the failure comes in the middle of the writing
    with pytest.raises(SourceError, match="zz_broken"):
        write_testset("fnf", source, out, seed=0, crop=32, progress=False, overwrite=True)
    assert _hashes(out) == before  # the old test set is intact
    assert not list(tmp_path.glob(".ts.partial*"))  # and no half-written one is left
