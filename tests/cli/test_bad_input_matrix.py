"""The bad-input matrix of every ``fnflight`` command (issue 25): nonsense is refused before any work, in ONE
line naming the problem, with the documented exit code, no traceback, and nothing left behind.

One table per command (and per ``enhance`` mode): ``(argv, exit code, words the line must contain)``, run
in-process through :func:`fnflight.cli.main.main`. ``{d}`` is a folder of shared inputs (tiny images, damaged
checkpoints, a tiny test set), ``{o}`` an empty output folder per case that must stay empty (no output, no
``.part`` temporary, no sub-folder). Signals run in subprocesses (the only slow tests here).
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import raw_helpers
from PIL import Image

from fnflight.cli.main import main
from fnflight.data.sources import write_png

MODELS = Path(__file__).resolve().parents[2] / "src" / "fnflight" / "models"


def _png(path: Path, h: int, w: int, seed: int = 0) -> Path:
    rgb = (np.random.default_rng(seed).random((h, w, 3)) * 60).astype(np.uint8)
    Image.fromarray(rgb).save(path)
    return path


@pytest.fixture(scope="module")
def d(tmp_path_factory) -> Path:
    """The shared inputs of every case (written once)."""
    from fnflight.data.testset import write_testset
    from fnflight.imaging import XTRANS_CFA

    d = tmp_path_factory.mktemp("inputs")
    _png(d / "A.png", 32, 32, 0)
    _png(d / "B.png", 32, 32, 1)
    write_png(d / "nf16.png", (np.random.default_rng(2).random((32, 32, 3)) * 4000).astype(np.uint16))
    (d / "empty_dir").mkdir()
    # a folder of short/long pairs: a, b fine; c unpaired; d mismatched sizes (fails, the others go on)
    pairs = d / "pairs"
    pairs.mkdir()
    for i, name in enumerate(("a", "b")):
        _png(pairs / f"{name}_short.png", 32, 32, i)
        _png(pairs / f"{name}_long.png", 32, 32, 10 + i)
    _png(pairs / "c_short.png", 32, 32, 3)
    _png(pairs / "d_short.png", 32, 32, 4)
    _png(pairs / "d_long.png", 24, 32, 5)
    # checkpoints that must be refused, each with its own reason
    (d / "text.ckpt").write_text("not a checkpoint\n")
    data = (MODELS / "lsd2.pt").read_bytes()
    (d / "trunc.pt").write_bytes(data[: len(data) // 2])
    (d / "raw.pkl").write_bytes(pickle.dumps({"state_dict": {}}))
    torch.save({"state_dict": {}, "x": _Payload()}, d / "pickled.ckpt")
    # raw files: not raw at all, and a real DNG from another camera (X-Trans; the shipped sid is Bayer)
    (d / "fake.dng").write_text("a text file named like a raw file\n" * 10)
    h = raw_helpers("_matrix_dng_helpers")
    h.write_dng(d / "xtrans.RAF", h.scene_mosaic(72, 72, 0.01), XTRANS_CFA.numpy())
    # raw flash/no-flash pairs and bursts (enhance noflash=A.dng flash=B.dng, burst='*.dng')
    h.write_dng(d / "bayer.dng", h.scene_mosaic(32, 32, 0.01))
    h.write_dng(d / "bayer_big.dng", h.scene_mosaic(48, 48, 0.02))
    # a training folder: two usable images and every kind of bad one
    train = d / "train"
    train.mkdir()
    _png(train / "good1.png", 48, 48, 6)
    _png(train / "good2.png", 48, 48, 7)
    (train / "empty.png").write_bytes(b"")
    (train / "text.png").write_text("hello\n")
    _png(train / "one.png", 1, 1)
    _png(train / "small.png", 16, 16)
    # a tiny test set, a damaged copy, and an earlier evaluation
    photos = d / "photos"
    photos.mkdir()
    _png(photos / "p.png", 40, 40, 8)
    source = {"class_path": "fnflight.data.sources.EmbeddedPhotos", "init_args": {"split": "val"}}
    write_testset("fnf", source, d / "ts", seed=0, crop=32, limit=1, progress=False)
    shutil.copytree(d / "ts", d / "ts_bad")
    (d / "ts_bad" / "samples" / "00000.npz").write_bytes(b"PK\x03\x04 damaged")
    (d / "evaldone").mkdir()
    (d / "evaldone" / "results.json").write_text("[]\n")
    return d


class _Payload:
    def __reduce__(self):  # would run code if it were ever unpickled
        return (print, ("unpickled!",))


def _case(argv: list[str], rc: int, words: list[str], d: Path, o: Path, capsys) -> str:
    """Run one case; check the exit code, the one line, its words, no traceback, nothing left in ``o``."""
    names = {"d": str(d), "o": str(o)}
    code = main([a.format(**names) for a in argv])
    captured = capsys.readouterr()
    everything = captured.out + captured.err
    assert code == rc, everything
    assert "Traceback" not in everything, everything
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    for word in words:
        assert word.format(**names) in lines[0], (word, lines[0])
    assert "unpickled!" not in everything
    assert sorted(p.name for p in o.rglob("*")) == []  # no output, no temporary, no empty folder
    return lines[0]


BAD_CKPTS = [
    ("ckpt={d}/text.ckpt", ["text.ckpt", "not a checkpoint"]),
    ("ckpt={d}/trunc.pt", ["trunc.pt", "truncated"]),
    ("ckpt={d}/pickled.ckpt", ["pickled.ckpt", "code executed"]),
    ("ckpt={d}/raw.pkl", ["raw.pkl", "plain Python pickle", "code executed"]),
    ("ckpt={d}/missing.ckpt", ["missing.ckpt", "does not exist"]),
    ("ckpt={d}", ["is a folder"]),
]
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this case needs a machine without CUDA")

FNF = ["enhance", "model=deepfnf", "noflash={d}/A.png", "flash={d}/B.png", "out={o}/x.png"]
ENHANCE_FNF = {
    "dim_negative": (FNF + ["dim=-1"], 2, ["dim=-1", "> 0"]),
    "dim_zero": (FNF + ["dim=0"], 2, ["dim=0", "> 0"]),
    "dim_nan": (FNF + ["dim=nan"], 2, ["dim=nan", "finite"]),
    "dim_text": (FNF + ["dim=abc"], 2, ["dim=abc", "not a number"]),
    "std_read_nan": (FNF + ["std_read=nan"], 2, ["std_read=nan", "finite"]),
    "std_read_negative": (FNF + ["std_read=-1"], 2, ["std_read=-1", ">= 0"]),
    "std_shot_inf": (FNF + ["std_shot=inf"], 2, ["std_shot=inf"]),
    "compare_typo": (FNF + ["compare=ture"], 2, ["compare=ture", "true or false"]),
    "tile_zero": (FNF + ["tile=0"], 2, ["tile=0", ">= 1"]),
    "tile_one": (FNF + ["tile=1"], 2, ["tile=1", "too small"]),
    "tile_fraction": (FNF + ["tile=2.5"], 2, ["tile=2.5", "whole number"]),
    "bits": (FNF + ["bits=12"], 2, ["bits=12", "8, 16"]),
    "noise": (FNF + ["noise=lots"], 2, ["noise=lots", "paper, estimate"]),
    "noflash_dir": (FNF[:2] + ["noflash={d}", *FNF[3:]], 2, ["noflash=", "is a folder"]),
    "noflash_missing": (FNF[:2] + ["noflash={d}/nope.png", *FNF[3:]], 2, ["nope.png", "no such image"]),
    "flash_missing": (FNF[:3] + FNF[4:], 2, ["needs both noflash=IMG and flash=IMG"]),
    "mixed_depths": (
        FNF[:2] + ["noflash={d}/nf16.png", *FNF[3:]],
        2,
        ["16-bit", "8-bit", "mixed bit depths"],
    ),
    "raw_with_image": (
        FNF[:2] + ["noflash={d}/bayer.dng", *FNF[3:]],
        2,
        ["bayer.dng is a camera raw file", "B.png is an image", "cannot be mixed"],
    ),
    "raw_not_raw": (FNF[:2] + ["noflash={d}/fake.dng", "flash={d}/bayer.dng", FNF[4]], 2, ["fake.dng"]),
    "raw_sizes": (
        FNF[:2] + ["noflash={d}/bayer.dng", "flash={d}/bayer_big.dng", FNF[4]],
        2,
        ["differ in size"],
    ),
    "out_proc": (FNF[:4] + ["out=/proc/x.png"], 2, ["out=/proc/x.png", "cannot write"]),
    "out_exists": (FNF[:4] + ["out={d}/A.png"], 2, ["A.png", "exists", "overwrite=true"]),
    "out_bmp": (FNF[:4] + ["out={o}/x.bmp"], 2, ["unsupported output format"]),
    "out_missing_folder": (FNF[:4] + ["out={o}/sub/x.png"], 2, ["does not exist"]),
    "unknown_key": (FNF + ["bogus=1"], 2, ["bogus", "valid keys"]),
    "not_key_value": (FNF + ["dim"], 2, ["'dim'", "key=value"]),
    "unknown_model": (["enhance", "model=nope", *FNF[2:]], 2, ["no shipped model", "nope"]),
    "ckpt_and_model": (FNF + ["ckpt={d}/text.ckpt"], 2, ["ckpt=PATH or model=NAME"]),
    "two_modes": (FNF + ["short={d}/A.png"], 2, ["pass one of"]),
    "option_of_another_mode": (FNF + ["ratio=100"], 2, ["ratio= is not an option of this mode"]),
    "device_bad": (FNF + ["device=toaster"], 2, ["device=toaster"]),
    "device_cuda": pytest.param(FNF + ["device=cuda"], 2, ["device=cuda", "no CUDA"], marks=NO_CUDA),
    **{
        f"ckpt_{Path(c.split('/')[-1]).stem or 'dir'}": (["enhance", c, *FNF[2:]], 2, w) for c, w in BAD_CKPTS
    },
}
RAW = ["enhance", "model=sid", "raw={d}/xtrans.RAF", "ratio=100", "out={o}/x.png"]
ENHANCE_RAW = {
    "ratio_negative": (RAW[:3] + ["ratio=-1", RAW[4]], 2, ["ratio=-1", "> 0"]),
    "ratio_zero": (RAW[:3] + ["ratio=0", RAW[4]], 2, ["ratio=0", "> 0"]),
    "ratio_text": (RAW[:3] + ["ratio=abc", RAW[4]], 2, ["ratio=abc", "not a number"]),
    "ratio_missing": (RAW[:3] + [RAW[4]], 2, ["needs ratio=R"]),
    "tile_zero": (RAW + ["tile=0"], 2, ["tile=0"]),
    "wrong_camera": (RAW, 2, ["xtrans.RAF", "X-Trans colour filters", "trained on Bayer"]),
    "not_raw": (RAW[:2] + ["raw={d}/fake.dng", *RAW[3:]], 2, ["fake.dng", "rawpy cannot read"]),
    "raw_dir": (RAW[:2] + ["raw={d}", *RAW[3:]], 2, ["raw=", "is a folder"]),
    "raw_missing": (RAW[:2] + ["raw={d}/nope.dng", *RAW[3:]], 2, ["nope.dng", "no such raw file"]),
    "out_proc": (RAW[:4] + ["out=/proc/x.png"], 2, ["/proc", "cannot write"]),
    "out_exists": (RAW[:4] + ["out={d}/A.png"], 2, ["exists", "overwrite=true"]),
    "flash_model": (["enhance", "model=deepfnf", *RAW[2:]], 2, ["not a raw model"]),
}
SL = ["enhance", "model=lsd2", "short={d}/A.png", "long={d}/B.png", "out={o}/x.png"]
ENHANCE_SHORTLONG = {
    "tile_zero": (SL + ["tile=0"], 2, ["tile=0"]),
    "tile_one": (SL + ["tile=1"], 2, ["tile=1", "too small"]),
    "long_missing": (SL[:3] + [SL[4]], 2, ["both short=IMG and long=IMG"]),
    "long_dir": (SL[:3] + ["long={d}", SL[4]], 2, ["long=", "is a folder"]),
    "out_proc": (SL[:4] + ["out=/proc/x.png"], 2, ["/proc", "cannot write"]),
    "out_exists": (SL[:4] + ["out={d}/A.png"], 2, ["exists", "overwrite=true"]),
    "bits": (SL + ["bits=16", "out={o}/x.jpg"], 2, ["JPEG is 8-bit only"]),
    "dim_not_an_option": (SL + ["dim=4"], 2, ["dim= is not an option of this mode"]),
}
BURST = ["enhance", "model=kpn_burst", "burst={d}/pairs", "out={o}/x.png"]
ENHANCE_BURST = {
    "std_negative": (BURST + ["std_read=-1", "std_shot=-1"], 2, ["std_read=-1", ">= 0"]),
    "std_text": (BURST + ["std_shot=abc"], 2, ["std_shot=abc", "not a number"]),
    "tile_zero": (BURST + ["tile=0"], 2, ["tile=0"]),
    "no_frames": (BURST[:2] + ["burst={d}/empty_dir", BURST[3]], 2, ["no image files"]),
    "frame_count": (BURST, 2, ["frames, but checkpoint", "takes 8"]),
    "out_proc": (BURST[:3] + ["out=/proc/x.png"], 2, ["/proc", "cannot write"]),
    "noise_typo": (BURST + ["noise=estimat"], 2, ["noise=estimat"]),
}
TS = ["enhance", "model=deepfnf", "testset={d}/ts", "out={o}/x.png"]
ENHANCE_TESTSET = {
    "index_negative": (TS + ["index=-1"], 2, ["index=-1", ">= 0"]),
    "index_out_of_range": (TS + ["index=99"], 2, ["index=99", "4 samples"]),
    "index_text": (TS + ["index=first"], 2, ["index=first"]),
    "damaged_sample": (TS[:2] + ["testset={d}/ts_bad", TS[3]], 2, ["00000.npz", "damaged"]),
    "not_a_testset": (TS[:2] + ["testset={d}/pairs", TS[3]], 2, ["not a test set"]),
    "out_proc": (TS[:3] + ["out=/proc/x.png"], 2, ["/proc", "cannot write"]),
}
FOLDER = ["enhance", "model=lsd2", "in={d}/pairs", "out={o}/res"]
ENHANCE_FOLDER = {
    "tile_zero_once": (FOLDER + ["tile=0"], 2, ["tile=0"]),
    "noflash_with_in": (FOLDER + ["noflash={d}/A.png"], 2, ["noflash=", "in=DIR"]),
    "ext": (FOLDER + ["ext=bmp"], 2, ["ext=bmp", "png"]),
    "option_of_another_mode": (FOLDER + ["dim=4"], 2, ["dim= is not an option of this mode"]),
    "out_proc": (FOLDER[:3] + ["out=/proc/res"], 2, ["/proc", "cannot write"]),
    "out_is_file": (FOLDER[:3] + ["out={d}/A.png"], 2, ["not a folder"]),
    "in_missing": (["enhance", "model=lsd2", "in={d}/nope", FOLDER[3]], 2, ["in=", "not a folder"]),
    "nothing_pairs": (["enhance", "model=lsd2", "in={d}/empty_dir", FOLDER[3]], 2, ["no NAME_short"]),
}
EV = ["eval", "model=deepfnf", "testset={d}/ts", "out={o}/ev", "figures=0", "baselines=false"]
EVAL = {
    "out_proc": (EV[:3] + ["out=/proc/x"], 2, ["out=/proc/x", "cannot write"]),
    "out_holds_results": (EV[:3] + ["out={d}/evaldone"], 2, ["results.json", "overwrite=true"]),
    "sigmas_negative": (EV + ["sigmas=-1"], 2, ["sigmas=-1", "> 0"]),
    "sigmas_text": (EV + ["sigmas=1,x"], 2, ["sigmas=1,x"]),
    "batch_size_zero": (EV + ["batch_size=0"], 2, ["batch_size=0", ">= 1"]),
    "limit_negative": (EV + ["limit=-1"], 2, ["limit=-1", ">= 1"]),
    "figures_negative": (EV + ["figures=-1"], 2, ["figures=-1"]),
    "baselines_typo": (EV + ["baselines=ture"], 2, ["baselines=ture", "true or false"]),
    "device_cuda": pytest.param(EV + ["device=cuda"], 2, ["device=cuda", "no CUDA"], marks=NO_CUDA),
    "device_bad": (EV + ["device=gpu"], 2, ["device=gpu"]),
    "damaged_sample": (EV[:2] + ["testset={d}/ts_bad", *EV[3:]], 2, ["00000.npz", "damaged"]),
    "no_testset": (EV[:2] + EV[3:], 2, ["testset=DIR"]),
    "not_a_testset": (EV[:2] + ["testset={d}/pairs", *EV[3:]], 2, ["not a test set"]),
    "unknown_key": (EV + ["bogus=1"], 2, ["bogus", "valid keys"]),
    "unknown_model": (["eval", "model=nope", *EV[2:]], 2, ["no shipped model"]),
    **{f"ckpt_{Path(c.split('/')[-1]).stem or 'dir'}": (["eval", c, *EV[2:]], 2, w) for c, w in BAD_CKPTS},
}
TSET = ["testset", "task=fnf", "source.path={d}/photos", "out={o}/ts", "progress=false"]
TESTSET = {
    "crop_text": (TSET + ["crop=abc"], 2, ["crop=abc", "not a number"]),
    "crop_zero": (TSET + ["crop=0"], 2, ["crop=0", ">= 1"]),
    "crop_negative": (TSET + ["crop=-5"], 2, ["crop=-5", ">= 1"]),
    "limit_negative": (TSET + ["limit=-1"], 2, ["limit=-1", ">= 1"]),
    "seed_text": (TSET + ["seed=x"], 2, ["seed=x"]),
    "overwrite_typo": (TSET + ["overwrite=ture"], 2, ["overwrite=ture", "true or false"]),
    "out_proc": (TSET[:3] + ["out=/proc/ts"], 2, ["/proc", "cannot write"]),
    "out_holds_testset": (TSET[:3] + ["out={d}/ts"], 2, ["already holds a test set", "overwrite=true"]),
    "task_unknown": (["testset", "task=nope", *TSET[2:]], 2, ["nope", "valid tasks"]),
    "source_kind": (TSET + ["source.kind=zip"], 2, ["source.kind=zip", "folder, faid, sid"]),
    "source_missing": (["testset", "task=fnf", "source.path={d}/nope", *TSET[3:]], 2, ["nope", "not exist"]),
    "dm_unknown": (TSET + ["dm.bogus=1"], 2, ["bogus"]),
}
EX = ["export", "model=lsd2", "out={o}/x.onnx"]
EXPORT = {
    "out_proc": (EX[:2] + ["out=/proc/x.pt"], 2, ["/proc/x.pt", "cannot write"]),
    "out_exists": (EX[:2] + ["out={d}/A.png"], 2, ["A.png"]),
    "out_pt_exists": (EX[:2] + ["out={d}/trunc.pt"], 2, ["trunc.pt", "exists", "overwrite=true"]),
    "size_zero": (EX + ["size=0"], 2, ["size=0", ">= 1"]),
    "size_text": (EX + ["size=big"], 2, ["size=big"]),
    "check_typo": (EX + ["check=maybe"], 2, ["check=maybe", "true or false"]),
    "dtype": (EX[:2] + ["out={o}/x.pt", "dtype=float8"], 2, ["dtype=float8", "float16"]),
    "dtype_onnx": (EX + ["dtype=float16"], 2, ["dtype=float16", ".pt files only"]),
    "suffix": (EX[:2] + ["out={o}/x.txt"], 2, ["x.txt", ".pt", ".onnx"]),
    "no_out": (EX[:2], 2, ["out="]),
    **{
        f"ckpt_{Path(c.split('/')[-1]).stem or 'dir'}": (["export", c, "out={o}/x.pt"], 2, w)
        for c, w in BAD_CKPTS
    },
}
TR = ["train", "out_dir={o}/runs", "logger=csv", "trainer.max_steps=1"]
FOLDER_DATA = ["data=fnf_folder", "data.init_args.source.init_args.path={d}/train", "data.init_args.crop=32"]
TRAIN = {
    "out_dir_proc": (["train", "out_dir=/proc"], 2, ["out_dir=/proc", "cannot write"]),
    "crop_negative": (TR + ["data.init_args.crop=-5"], 2, ["data.init_args.crop=-5"]),
    "batch_size_zero": (TR + ["data.init_args.batch_size=0"], 2, ["batch_size=0", ">= 1"]),
    "max_steps_text": (TR[:3] + ["trainer.max_steps=abc"], 2, ["trainer.max_steps"]),
    "unknown_key": (TR + ["trainer.max_step=4"], 2, ["trainer.max_step", "valid keys"]),
    "bad_images": (
        TR + FOLDER_DATA,
        2,
        ["4 of 6", "empty.png", "text.png", "one.png (1x1", "small.png (16x16", "32x32 crop"],
    ),
    **{
        f"ckpt_path_{name}": (TR + [f"ckpt_path={{d}}/{name}"], 2, [name, why])
        for name, why in (
            ("text.ckpt", "not a checkpoint"),
            ("trunc.pt", "truncated"),
            ("pickled.ckpt", "code executed"),
            ("raw.pkl", "plain Python pickle"),
        )
    },
}
OTHERS = {
    "models_two_names": (["models", "sid", "lsd2"], 2, ["at most one NAME"]),
    "models_unknown": (["models", "nope"], 2, ["no shipped model", "nope"]),
    "models_key_value": (["models", "name=sid"], 2, ["at most one NAME"]),
    "unknown_command": (["enhanse"], 2, ["unknown command", "enhance"]),
}
TABLES = {
    "enhance_fnf": ENHANCE_FNF,
    "enhance_raw": ENHANCE_RAW,
    "enhance_shortlong": ENHANCE_SHORTLONG,
    "enhance_burst": ENHANCE_BURST,
    "enhance_testset": ENHANCE_TESTSET,
    "enhance_folder": ENHANCE_FOLDER,
    "eval": EVAL,
    "testset": TESTSET,
    "export": EXPORT,
    "train": TRAIN,
    "others": OTHERS,
}


def _cases():
    for table, cases in TABLES.items():
        for name, case in cases.items():
            values, marks = (case.values, case.marks) if hasattr(case, "values") else (case, ())
            yield pytest.param(*values, marks=marks, id=f"{table}-{name}")


@pytest.mark.parametrize(("argv", "rc", "words"), list(_cases()))
def test_bad_input(argv, rc, words, d, tmp_path, capsys):
    o = tmp_path / "o"
    o.mkdir()
    _case(argv, rc, words, d, o, capsys)


@pytest.mark.parametrize(
    ("argv", "word"), [(["bench", "nope"], "unknown benchmark"), (["bench", "ops", "repeats"], "key=value")]
)
def test_bench_bad_input(argv, word, capsys):
    """``fnflight bench`` (its module belongs to the benchmarks): the error line first, then its usage."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert word in err.splitlines()[0] and "Traceback" not in err


def test_eval_refuses_an_unwritable_out_before_any_model_runs(d, tmp_path, capsys, monkeypatch):
    """The done-when of issue 25: ``eval ... out=/proc/x`` stops before a model (or the test set) loads."""
    import fnflight.data.testset
    import fnflight.model_io.checkpoint

    def never(*args, **kwargs):
        raise AssertionError("a model or the test set was loaded before the output check")

    monkeypatch.setattr(fnflight.model_io.checkpoint, "load_task", never)
    monkeypatch.setattr(fnflight.data.testset.TestSet, "__init__", never)
    o = tmp_path / "o"
    o.mkdir()
    _case(EVAL["out_proc"][0], 2, ["/proc/x"], d, o, capsys)


def test_enhance_refuses_bad_values_before_the_model_loads(d, tmp_path, capsys, monkeypatch):
    import fnflight.model_io.checkpoint

    monkeypatch.setattr(
        fnflight.model_io.checkpoint, "load_task", lambda *a, **k: pytest.fail("model loaded")
    )
    o = tmp_path / "o"
    o.mkdir()
    for extra in (["dim=-1"], ["std_read=nan"], ["compare=ture"], ["tile=0"]):
        _case(FNF + extra, 2, [extra[0]], d, o, capsys)
    _case(FNF[:4] + ["out=/proc/x.png"], 2, ["/proc"], d, o, capsys)


def test_folder_mode_goes_on_past_a_failure_and_reports_unpaired_files(d, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["enhance", "model=lsd2", f"in={d}/pairs", f"out={out}"]) == 1
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    assert "2 of 3 written" in captured.out and "1 failed: d" in captured.out
    assert "unpaired (not enhanced): c_short.png" in captured.out
    assert "fnflight enhance: d:" in captured.err and "Traceback" not in captured.err
    # the one overwrite rule: a second run into the same folder is refused, up front
    assert main(["enhance", "model=lsd2", f"in={d}/pairs", f"out={out}"]) == 2
    assert "overwrite=true" in capsys.readouterr().err
    assert main(["enhance", "model=lsd2", f"in={d}/pairs", f"out={out}", "overwrite=true"]) == 1


def test_folder_mode_a_file_that_disappears_mid_run(d, tmp_path, capsys, monkeypatch):
    """A pair's file removed after the folder was listed: that pair fails in one line, the others go on."""
    from fnflight.cli import enhance_folder

    pairs = tmp_path / "pairs"
    shutil.copytree(d / "pairs", pairs)
    listed = enhance_folder.folder_jobs

    def list_then_lose(kind, folder):
        jobs = listed(kind, folder)
        (pairs / "a_long.png").unlink()
        return jobs

    monkeypatch.setattr(enhance_folder, "folder_jobs", list_then_lose)
    out = tmp_path / "res"
    assert main(["enhance", "model=lsd2", f"in={pairs}", f"out={out}"]) == 1
    captured = capsys.readouterr()
    assert "a_long.png: no such image file" in captured.err and "Traceback" not in captured.err
    assert "1 of 3 written" in captured.out and sorted(p.name for p in out.iterdir()) == ["b.png"]


def test_a_full_disk_leaves_the_old_file_and_no_temporary(d, tmp_path, capsys, monkeypatch):
    from fnflight.data import image_writer

    out = tmp_path / "x.png"
    out.write_bytes(b"previous")

    def disk_full(tmp, pixels, fmt, quality):
        tmp.write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(image_writer, "_encode", disk_full)
    argv = ["enhance", "model=lsd2", f"short={d}/A.png", f"long={d}/B.png", f"out={out}", "overwrite=true"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert os.strerror(errno.ENOSPC) in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == b"previous" and sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


def test_export_full_disk(tmp_path, capsys, monkeypatch):
    def disk_full(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"PK half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", disk_full)
    assert main(["export", "model=lsd2", f"out={tmp_path / 'x.pt'}"]) == 1
    err = capsys.readouterr().err
    assert os.strerror(errno.ENOSPC) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_overwrite_rule_is_stated_in_every_help(capsys):
    for command in ("enhance", "eval", "testset", "export"):
        assert main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert "overwrite" in text and "examples:" in text, command
        assert ":func:" not in text and ":mod:" not in text and "``" not in text, command
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    assert "overwrite=true" in text and "``" not in text


def test_fnflight_alone_prints_usage_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: fnflight" in capsys.readouterr().err
    assert main(["--help"]) == 0


def test_models_help_matches_the_listing(capsys):
    assert main(["models", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert main(["models"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header == ["name", "enhances", "net", "params", "size"]
    for column in ("name", "enhances", "net", "parameter count", "file size"):
        assert column in help_text.replace("\n", " "), column


def test_shared_inputs_untouched(d):
    """The matrix's refused exports and enhances left the shared inputs as they were."""
    assert (d / "trunc.pt").stat().st_size == (MODELS / "lsd2.pt").stat().st_size // 2
    assert not list(d.rglob(".*.part")) and not list(d.rglob(".*.partial"))


SIGNAL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from fnflight.data import image_writer

    def slow_encode(tmp, pixels, fmt, quality):  # a write that takes long enough to be interrupted
        tmp.write_bytes(b"half an image")
        print("writing", flush=True)
        time.sleep(60)

    image_writer._encode = slow_encode
    from fnflight.cli.main import main

    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.parametrize(
    ("sig", "rc", "word"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")]
)
def test_an_interrupt_during_a_write_leaves_no_part_file(sig, rc, word, d, tmp_path):
    out = tmp_path / "x.png"
    argv = ["enhance", "model=lsd2", f"short={d}/A.png", f"long={d}/B.png", f"out={out}"]
    proc = subprocess.Popen(
        [sys.executable, "-c", SIGNAL_SCRIPT, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a pytest-xdist worker ignores SIGINT and a child inherits that (as a background job of a shell
        # does); a user's terminal delivers it: restore the default so the test sees what a user sees
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout.readline().strip() == "writing"
        assert len(list(tmp_path.glob(".x.png.*.part"))) == 1  # the temporary exists while writing
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == rc, err
    assert "Traceback" not in err and word in err
    assert [line for line in err.splitlines() if line.strip()] == [
        f"fnflight enhance: {'interrupted' if sig == signal.SIGINT else 'terminated'} ({word}); "
        "unfinished outputs removed"
    ]
    assert list(tmp_path.iterdir()) == []  # no output, no .part


def test_show_progress_only_on_a_terminal(capsys):
    from fnflight.cli.arguments import show_progress

    assert show_progress() is False  # captured stderr is no terminal
