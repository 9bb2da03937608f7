"""`fnflight enhance noflash=A.dng flash=B.dng` and `burst='F/*.dng'`: raw pairs and bursts through the shared
rawpy decoder (issue 22), on tiny pidng DNGs the tests write, with the shipped `deepfnf` and `kpn_burst`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import raw_helpers
from PIL import Image

from fnflight.cli import enhance as enhance_cli
from fnflight.data.raw_sources import read_linear_camera_rgb

_H = raw_helpers("_enhance_dng_helpers")
SIZE = 64


def _other_camera(path: Path, source: Path) -> Path:
    """A copy of ``source`` whose TIFF ``Make`` tag names another camera: the shared writer always writes
    ``fnflight`` / ``test``, and the name is a string of the same length stored once, outside the pixels."""
    data = source.read_bytes()
    assert data.count(b"fnflight\x00") == 1
    path.write_bytes(data.replace(b"fnflight\x00", b"othercam\x00"))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("dng")
    f = {
        "noflash": _H.write_dng(d / "noflash.dng", _H.scene_mosaic(SIZE, SIZE, 0.02, 1)),
        "flash": _H.write_dng(d / "flash.dng", _H.scene_mosaic(SIZE, SIZE, 0.3, 2)),
        "wide": _H.write_dng(d / "wide.dng", _H.scene_mosaic(SIZE, SIZE + 32, 0.3, 3)),
    }
    f["other"] = _other_camera(d / "other.dng", f["flash"])
    rgb = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(d / "photo.png")
    f["photo"] = d / "photo.png"
    (d / "fake.dng").write_bytes((d / "photo.png").read_bytes())  # a PNG named like a raw file
    f["fake"] = d / "fake.dng"
    for name in ("burst", "mixed", "sizes", "fakes"):
        for i in range(8):
            shape = (SIZE, SIZE + 32) if name == "sizes" and i == 5 else (SIZE, SIZE)
            _H.write_dng(d / name / f"f{i}.dng", _H.scene_mosaic(*shape, 0.05, 10 + i))
        f[name] = d / name
    (d / "mixed" / "f7.dng").unlink()
    Image.fromarray(rgb).save(d / "mixed" / "f7.png")
    (d / "fakes" / "f7.dng").write_bytes(f["fake"].read_bytes())
    f["dir"] = d
    return f


def test_decoder_levels_phase_and_colour(tmp_path) -> None:
    """Black / white levels per the file, any Bayer phase to RGGB, demosaicked flat; the colour matrix is the
    file's white balance (AsShotNeutral 1/2, 1, 1/2 -> gains 2, 1, 2) times its (identity) matrix."""
    codes = np.asarray(_H.CODES, np.float32) / (_H.WHITE - _H.BLACK)
    for cfa in ("RGGB", "GRBG"):
        colors = np.array(_H._BAYER_CFA[cfa]).reshape(2, 2)
        path = _H.write_dng(tmp_path / f"{cfa}.dng", _H.coded_mosaic(colors, 32, 32), cfa)
        image, info = read_linear_camera_rgb(path)
        assert image.dtype == np.float32 and image.shape[2] == 3
        assert np.allclose(image, codes, atol=1e-6), cfa
        assert info["camera"] == "fnflight test" and info["cfa"] == "bayer" and info["orientation"] == 0
        assert np.allclose(info["color_matrix"], np.diag([2.0, 1.0, 2.0]))


def test_dng_pair_deepfnf(files, tmp_path, capsys) -> None:
    out = tmp_path / "pair.png"
    argv = [f"noflash={files['noflash']}", f"flash={files['flash']}", f"out={out}"]
    batch = enhance_cli.own_batch(enhance_cli.parse(["model=deepfnf", *argv]))
    assert torch.allclose(batch["color_matrix"], torch.diag(torch.tensor([2.0, 1.0, 2.0]))[None])
    assert enhance_cli.run(["model=deepfnf", *argv, "noise=estimate"]) == 0
    line = capsys.readouterr().out
    assert f"wrote {out} ({SIZE}x{SIZE}, 8-bit PNG" in line
    with Image.open(out) as im:
        assert im.size == (SIZE, SIZE) and im.mode == "RGB"


def test_dng_burst_kpn(files, tmp_path, capsys) -> None:
    out = tmp_path / "burst.png"
    assert enhance_cli.run(["model=kpn_burst", f"burst={files['burst']}/*.dng", f"out={out}"]) == 0
    assert "8 frames" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.size == (SIZE, SIZE)


def test_folder_of_dng_pairs(files, tmp_path, capsys) -> None:
    """``in=DIR``: ``NAME_ambient.dng`` + ``NAME_flash.dng`` pair up like images."""
    folder = tmp_path / "pairs"
    folder.mkdir()
    (folder / "room_ambient.dng").write_bytes(files["noflash"].read_bytes())
    (folder / "room_flash.dng").write_bytes(files["flash"].read_bytes())
    assert enhance_cli.run(["model=deepfnf", f"in={folder}", f"out={tmp_path / 'out'}"]) == 0
    assert "1 of 1 written" in capsys.readouterr().out
    assert (tmp_path / "out" / "room.png").is_file()


PAIR = ["model=deepfnf", "noflash={noflash}", "flash={flash}"]
BURST = ["model=kpn_burst"]
# name -> (argv without out=, words the one line must contain)
BAD = {
    "not_raw": (PAIR[:2] + ["flash={fake}"], ["flash=", "fake.dng", "PNG image", "not a camera raw file"]),
    "sizes": (PAIR[:2] + ["flash={wide}"], ["differ in size", "(64, 96)"]),
    "cameras": (PAIR[:2] + ["flash={other}"], ["other.dng", "othercam test", "one camera"]),
    "dng_png": (PAIR[:2] + ["flash={photo}"], ["noflash=", "camera raw file", "photo.png", "mixed"]),
    "png_dng": (["model=deepfnf", "noflash={photo}", "flash={flash}"], ["flash.dng", "mixed"]),
    "burst_not_raw": (BURST + ["burst={fakes}/*.dng"], ["f7.dng", "not a camera raw file"]),
    "burst_mixed": (BURST + ["burst={mixed}"], ["f7.png", "cannot be mixed"]),
    "burst_sizes": (BURST + ["burst={sizes}"], ["f5.dng", "reference's size"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_dng_request_exits_2_without_output(case, files, tmp_path, capsys) -> None:
    args, expected = BAD[case]
    out = tmp_path / "out" / "result.png"
    out.parent.mkdir()
    names = {k: str(v) for k, v in files.items()}
    rc = enhance_cli.run([a.format(**names) for a in args] + [f"out={out}"])
    captured = capsys.readouterr()
    assert rc == 2, captured
    err = captured.err.strip()
    assert err.startswith("fnflight enhance: ") and "\n" not in err and "Traceback" not in err, err
    for word in expected:
        assert word in err, (word, err)
    assert "wrote" not in captured.out
    assert list(out.parent.iterdir()) == []  # no output, no temporary file


def test_help_names_raw_pairs_and_bursts(capsys) -> None:
    assert enhance_cli.run(["--help"]) == 0
    text = capsys.readouterr().out
    assert "noflash=AMBIENT.dng flash=FLASH.dng" in text and "burst='FRAMES/*.dng'" in text
