"""`fnflight enhance raw=FILE ratio=R`: tiny SID checkpoints on tiny pidng DNG files (paper 004)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from cli_helpers import raw_helpers, tiny, tiny_raw
from PIL import Image

from fnflight.cli import enhance as enhance_cli
from fnflight.cli import train as train_cli
from fnflight.data import image_writer
from fnflight.data.raw_sources import SIDRawPairs, read_raw_capture
from fnflight.data.sources import decode_image, probe_image
from fnflight.imaging import XTRANS_CFA, amplify

_H = raw_helpers("_enhance_raw_dng_helpers")
write_dng, scene_mosaic, BLACK, WHITE = _H.write_dng, _H.scene_mosaic, _H.BLACK, _H.WHITE

ONE_STEP = [
    "trainer.max_steps=1",
    "trainer.limit_val_batches=0",
    "after_fit.evaluate=false",
    "after_fit.sample=false",
]
BAYER_SHAPE = (34, 50)  # GRBG: the phase crop drops the first column -> 34 x 48 visible, packed 17 x 24


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory) -> dict[str, Path]:
    """One-step checkpoints: SID on Bayer, SID on X-Trans, and a flash / no-flash model (direct)."""
    out = tmp_path_factory.mktemp("runs")
    runs = {
        "bayer": tiny_raw(out, "name=sid_bayer", *ONE_STEP),
        "xtrans": tiny_raw(out, "name=sid_xtrans", "data.init_args.cfa=xtrans", *ONE_STEP),
        "direct": tiny("direct", out, *ONE_STEP),
    }
    paths = {}
    for key, args in runs.items():
        assert train_cli.run(args) == 0
        name = {"bayer": "sid_bayer", "xtrans": "sid_xtrans", "direct": "direct"}[key]
        paths[key] = out / name / "checkpoints" / "last.ckpt"
        assert paths[key].is_file()
    return paths


def _write_linear_dng(path: Path, samples: int) -> Path:
    """A LinearRaw DNG (no CFA): 3 samples per pixel (demosaicked) or 1 (monochrome)."""
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import DNGVersion, Orientation, PhotometricInterpretation

    shape = (32, 32, 3) if samples == 3 else (32, 32)
    tags = DNGTags()
    tags.set(Tag.ImageWidth, 32)
    tags.set(Tag.ImageLength, 32)
    tags.set(Tag.TileWidth, 32)
    tags.set(Tag.TileLength, 32)
    tags.set(Tag.Orientation, Orientation.Horizontal)
    tags.set(Tag.PhotometricInterpretation, PhotometricInterpretation.Linear_Raw)
    tags.set(Tag.SamplesPerPixel, samples)
    tags.set(Tag.BitsPerSample, 16)
    tags.set(Tag.BlackLevel, BLACK)
    tags.set(Tag.WhiteLevel, WHITE)
    tags.set(Tag.Make, "fnflight")
    tags.set(Tag.Model, "test")
    tags.set(Tag.DNGVersion, DNGVersion.V1_4)
    tags.set(Tag.DNGBackwardVersion, DNGVersion.V1_2)
    writer = RAW2DNG()
    writer.options(tags, path="", compress=False)
    path.write_bytes(bytes(writer.convert(np.full(shape, BLACK + 1000, np.uint16))))
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Tiny input files: good Bayer / X-Trans raws and every kind of bad one."""
    d = tmp_path_factory.mktemp("inputs")
    files = {
        # a dark shot (~1 % of the range above black): plausible low-light values
        "bayer": write_dng(d / "bayer.dng", scene_mosaic(*BAYER_SHAPE, 0.01), "GRBG"),
        "xtrans": write_dng(
            d / "xtrans.RAF", scene_mosaic(72, 72, 0.01), XTRANS_CFA.numpy()
        ),  # LibRaw rejects tinier X-Trans DNGs
        "linear": _write_linear_dng(d / "linear.dng", 3),
        "mono": _write_linear_dng(d / "mono.dng", 1),
    }
    data = files["bayer"].read_bytes()
    (d / "truncated.dng").write_bytes(data[: len(data) // 2])
    (d / "garbage.ARW").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (d / "empty.dng").write_bytes(b"")
    (d / "notes.txt").write_text("not a raw file, just some notes\n" * 20)
    rgb = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for name in ("photo.png", "noflash.png", "flash.png"):
        Image.fromarray(rgb).save(d / name)
    for name in (
        "truncated.dng",
        "garbage.ARW",
        "empty.dng",
        "notes.txt",
        "photo.png",
        "noflash.png",
        "flash.png",
    ):
        files[name.split(".")[0]] = d / name
    return files


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_read_raw_capture_shares_sid_decoding(inputs, tmp_path) -> None:
    cap = read_raw_capture(inputs["bayer"])
    assert cap["raw"].shape == (1, 4, 17, 24) and cap["raw"].dtype == torch.float32
    assert cap["cfa"] == "bayer" and cap["factor"] == 2 and cap["offset"] == (0, 1)
    assert cap["wb_gains"].shape == (3,) and cap["color_matrix"].shape == (3, 3)
    # normalised, not amplified: R sits at odd columns of the GRBG mosaic
    import rawpy

    with rawpy.imread(str(inputs["bayer"])) as raw:
        mosaic = raw.raw_image_visible.astype(np.float32)
    norm = np.maximum(mosaic - BLACK, 0) / (WHITE - BLACK)
    np.testing.assert_allclose(cap["raw"][0, 0].numpy(), norm[0::2, 1:49:2], atol=1e-6)
    np.testing.assert_allclose(cap["raw"][0, 3].numpy(), norm[1::2, 2:49:2], atol=1e-6)
    assert 0 < float(cap["raw"].mean()) < 0.05
    # the same decoding as the dataset's inputs
    for sub, name in (("s", "a_0.1s.ARW"), ("l", "a_10s.ARW")):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / name).write_bytes(inputs["bayer"].read_bytes())
    (tmp_path / "list.txt").write_text("s/a_0.1s.ARW l/a_10s.ARW\n")
    for order in ("raster", "sid"):
        sid = SIDRawPairs(tmp_path, "list.txt", bayer_order=order)
        expect = torch.from_numpy(sid.read(0, amplify=False)["raw"]).permute(2, 0, 1)
        torch.testing.assert_close(read_raw_capture(inputs["bayer"], order)["raw"][0], expect)
    xt = read_raw_capture(inputs["xtrans"])
    assert xt["raw"].shape == (1, 9, 24, 24) and xt["cfa"] == "xtrans" and xt["factor"] == 3


def test_enhance_raw_png_jpeg_tiff(ckpts, inputs, tmp_path, capsys) -> None:
    def enhance(name: str, *extra: str) -> Path:
        out = tmp_path / name
        argv = [f"ckpt={ckpts['bayer']}", f"raw={inputs['bayer']}", "ratio=100", f"out={out}", *extra]
        assert enhance_cli.run(argv) == 0, capsys.readouterr().err
        assert f"wrote {out}" in capsys.readouterr().out
        return out

    h, w = 34, 48  # 2 x the packed 17 x 24
    png8 = enhance("out8.png")
    with Image.open(png8) as im:
        assert im.mode == "RGB" and im.size == (w, h)
    png16 = enhance("out16.png", "bits=16")
    assert probe_image(png16) == (h, w, 16)
    assert decode_image(png16).dtype == np.uint16 and decode_image(png16).shape == (h, w, 3)
    tif16 = enhance("out.tif")
    tif8 = enhance("out8.tiff", "bits=8", "tile=28")
    jpg = enhance("out.jpg", "device=cpu")
    with Image.open(jpg) as im:
        assert im.format == "JPEG" and im.size == (w, h)
    t16, t8 = tifffile.imread(tif16), tifffile.imread(tif8)
    assert (
        t16.dtype == np.uint16 and t16.shape == (h, w, 3) and t8.dtype == np.uint8 and t8.shape == (h, w, 3)
    )
    # the file is the net on the amplified capture, clipped: 16-bit TIFF = 16-bit PNG, 8-bit PNG = 8-bit TIFF
    from fnflight.model_io.checkpoint import load_task

    task = load_task(ckpts["bayer"])
    with torch.no_grad():
        y = task.net(amplify(read_raw_capture(inputs["bayer"])["raw"], 100.0))["output"][0].clamp(0, 1)
    expect = (y.permute(1, 2, 0).numpy() * 65535 + 0.5).astype(np.int64)
    assert np.abs(t16.astype(np.int64) - expect).max() <= 1
    np.testing.assert_array_equal(decode_image(png16), t16)
    diff = np.abs(np.asarray(Image.open(png8)).astype(int) - t8)  # tile=28 (4 tiles) = untiled, to rounding
    assert diff.max() <= 1 and diff.mean() < 0.01
    assert _files(tmp_path) == ["out.jpg", "out.tif", "out16.png", "out8.png", "out8.tiff"]  # no temp files


def test_enhance_raw_xtrans(ckpts, inputs, tmp_path) -> None:
    out = tmp_path / "x.png"
    assert (
        enhance_cli.run([f"ckpt={ckpts['xtrans']}", f"raw={inputs['xtrans']}", "ratio=250", f"out={out}"])
        == 0
    )
    with Image.open(out) as im:
        assert im.size == (72, 72)  # 3 x the packed 24 x 24


def test_enhance_raw_from_weights_only_file(ckpts, inputs, tmp_path) -> None:
    from fnflight.model_io.checkpoint import load_task, save_weights

    weights = save_weights(load_task(ckpts["bayer"]), tmp_path / "sid.pt")
    out, ref = tmp_path / "w.tif", tmp_path / "c.tif"
    for ckpt, path in ((weights, out), (ckpts["bayer"], ref)):
        assert enhance_cli.run([f"ckpt={ckpt}", f"raw={inputs['bayer']}", "ratio=300", f"out={path}"]) == 0
    np.testing.assert_array_equal(tifffile.imread(out), tifffile.imread(ref))


def test_enhance_help_mentions_raw(capsys) -> None:
    assert enhance_cli.run(["--help"]) == 0
    text = capsys.readouterr().out
    assert "raw=FILE ratio=R" in text and "bits=8|16" in text and "tile=auto" in text


# name -> (argv without out=, out file name or a callable(outdir, inputs) -> out path, expected message parts)
BAD: dict[str, tuple] = {
    "png_as_raw": (["raw={photo}"], None, ["photo.png", "PNG image", "not a camera raw file"]),
    "text_as_raw": (["raw={notes}"], None, ["notes.txt", "text file", "not a camera raw file"]),
    "truncated_raw": (["raw={truncated}"], None, ["truncated.dng", "truncated or damaged"]),
    "garbage_raw": (["raw={garbage}"], None, ["garbage.ARW", "rawpy cannot read this file"]),
    "empty_raw": (["raw={empty}"], None, ["empty.dng", "empty file"]),
    "missing_raw": (["raw={dir}/missing.dng"], None, ["missing.dng", "no such raw file"]),
    "bayer_net_xtrans_file": (
        ["raw={xtrans}"],
        None,
        ["xtrans.RAF", "X-Trans colour filters", "trained on Bayer"],
    ),
    "xtrans_net_bayer_file": (
        ["ckpt=xtrans", "raw={bayer}"],
        None,
        ["bayer.dng", "Bayer colour filters", "trained on X-Trans"],
    ),
    "linear_dng": (["raw={linear}"], None, ["linear.dng", "no colour filter array", "linear"]),
    "monochrome_dng": (["raw={mono}"], None, ["mono.dng", "no colour filter array", "monochrome"]),
    "flash_ckpt_given_raw": (["ckpt=direct", "raw={bayer}"], None, ["not a raw model", "direct"]),
    "raw_ckpt_given_noflash": (
        ["raw=", "noflash={noflash}", "flash={flash}", "ratio="],
        None,
        ["raw low-light model", "raw=FILE"],
    ),
    "missing_ckpt": (["ckpt=missing", "raw={bayer}"], None, ["missing.ckpt", "does not exist"]),
    "ratio_missing": (["raw={bayer}", "ratio="], None, ["needs ratio=R"]),
    "ratio_zero": (["raw={bayer}", "ratio=0"], None, ["ratio=0", "> 0"]),
    "ratio_negative": (["raw={bayer}", "ratio=-100"], None, ["ratio=-100", "> 0"]),
    "ratio_nan": (["raw={bayer}", "ratio=nan"], None, ["ratio=nan", "> 0"]),
    "ratio_inf": (["raw={bayer}", "ratio=inf"], None, ["ratio=inf", "finite"]),
    "ratio_text": (["raw={bayer}", "ratio=bright"], None, ["ratio=bright", "not a number"]),
    "no_output_folder": (["raw={bayer}"], "/nonexistent_dir/x.png", ["/nonexistent_dir", "does not exist"]),
    "output_folder_is_file": (["raw={bayer}"], "{notes}/x.png", ["notes.txt", "is not a folder"]),
    "output_is_folder": (["raw={bayer}"], "{out}", ["is a folder"]),
    "output_bmp": (["raw={bayer}"], "x.bmp", ["x.bmp", "unsupported output format", ".bmp"]),
    "output_no_extension": (["raw={bayer}"], "x", ["no extension"]),
    "jpeg_16_bit": (["raw={bayer}", "bits=16"], "x.jpg", ["JPEG is 8-bit only"]),
    "bits_12": (["raw={bayer}", "bits=12"], None, ["bits=12", "one of 8, 16"]),
    "tile_too_small": (["raw={bayer}", "tile=8"], None, ["tile=8", "too small for this net"]),
    "tile_text": (["raw={bayer}", "tile=big"], None, ["tile=big", "not a number"]),
    "raw_and_flash": (["raw={bayer}", "noflash={noflash}", "flash={flash}"], None, ["pass one of"]),
    "flash_option_with_raw": (["raw={bayer}", "dim=4"], None, ["dim= is not an option of this mode"]),
    "bad_device": (["raw={bayer}", "device=toaster"], None, ["device=toaster", "cuda:N"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_raw_request_exits_2_without_output(case, ckpts, inputs, tmp_path, capsys) -> None:
    args, out_name, expected = BAD[case]
    outdir = tmp_path / "out"
    outdir.mkdir()
    names = {k: str(v) for k, v in inputs.items()} | {"dir": str(tmp_path), "out": str(outdir)}
    out = Path((out_name or "result.png").format(**names))
    out = out if out.is_absolute() else outdir / out
    argv = {"ckpt": str(ckpts["bayer"]), "ratio": "100", "out": str(out)}
    for arg in args:
        key, value = arg.split("=", 1)
        if key == "ckpt":
            value = str(ckpts[value]) if value in ckpts else str(tmp_path / f"{value}.ckpt")
        argv[key] = value.format(**names)
    argv = {k: v for k, v in argv.items() if v}  # "key=" drops a default
    rc = enhance_cli.run([f"{k}={v}" for k, v in argv.items()])
    captured = capsys.readouterr()
    assert rc == 2, captured
    assert captured.err.startswith("fnflight enhance: ") and "Traceback" not in captured.err
    for part in expected:
        assert part in captured.err, (part, captured.err)
    assert "wrote" not in captured.out
    if out != outdir:
        assert not out.exists()
    assert _files(outdir) == []  # no output, no temporary file
    assert not Path("/nonexistent_dir").exists()


def test_image_writer_refuses_and_leaves_nothing(tmp_path) -> None:
    image = torch.rand(3, 4, 5)
    (tmp_path / "taken.png").mkdir()
    for name, bits, message in (
        ("taken.png", None, "is a folder"),
        ("missing/x.png", None, "does not exist"),
        ("x.gif", None, "unsupported output format"),
        ("x.jpeg", 16, "JPEG is 8-bit only"),
        ("x.png", 12, "bits must be 8 or 16"),
    ):
        with pytest.raises(image_writer.ImageWriteError, match=message):
            image_writer.write_image(tmp_path / name, image, bits)
    with pytest.raises(image_writer.ImageWriteError, match="bits=16"):
        image_writer.write_image(tmp_path / "x.png", np.zeros((4, 5, 3), np.uint8), 16)
    assert _files(tmp_path) == ["taken.png"]
    pixels = np.arange(60, dtype=np.uint16).reshape(4, 5, 3) * 1000
    np.testing.assert_array_equal(
        tifffile.imread(image_writer.write_image(tmp_path / "p.tiff", pixels)), pixels
    )
    np.testing.assert_array_equal(decode_image(image_writer.write_image(tmp_path / "p.png", pixels)), pixels)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(ckpts, inputs, tmp_path, capsys) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        argv = [f"ckpt={ckpts['bayer']}", f"raw={inputs['bayer']}", "ratio=100", f"out={folder / 'x.png'}"]
        assert enhance_cli.run(argv) == 2
        assert "permission denied" in capsys.readouterr().err
        assert _files(folder) == []
    finally:
        folder.chmod(0o700)


def test_unwritable_output_folder_is_named(ckpts, inputs, tmp_path, capsys, monkeypatch) -> None:
    """As the previous test, but also under root (which may write anywhere): the folder check reports it."""
    monkeypatch.setattr(image_writer, "_can_write", lambda folder: False)
    out = tmp_path / "x.png"
    assert (
        enhance_cli.run([f"ckpt={ckpts['bayer']}", f"raw={inputs['bayer']}", "ratio=100", f"out={out}"]) == 2
    )
    err = capsys.readouterr().err
    assert f"cannot write to the output folder {tmp_path}" in err and "permission denied" in err
    assert not out.exists()


def test_failed_write_leaves_no_partial_file(ckpts, inputs, tmp_path, capsys, monkeypatch) -> None:
    out = tmp_path / "x.tif"
    out.write_bytes(b"previous result")  # replaced only with overwrite=true; kept whole when that fails

    def disk_full(tmp: Path, pixels, fmt, quality) -> None:
        tmp.write_bytes(b"II*\x00 half an image")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(image_writer, "_encode", disk_full)
    assert (
        enhance_cli.run(
            [f"ckpt={ckpts['bayer']}", f"raw={inputs['bayer']}", "ratio=100", f"out={out}", "overwrite=true"]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "x.tif: cannot write the image" in err and os.strerror(errno.ENOSPC) in err
    assert out.read_bytes() == b"previous result" and _files(tmp_path) == ["x.tif"]
