"""SIDRawPairs: tiny DNG files written with pidng, read back with rawpy (paper 004, NOTES "SID")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rawpy
import torch

from fnflight.data.raw_sources import SIDRawPairs, exposure_from_name, read_sid_list
from fnflight.data.sources import SourceError
from fnflight.imaging import XTRANS_CFA, XTRANS_PACKED_COLORS

BLACK, WHITE = 512, 16383
# values above black per colour (R, G, B) for colour-coded mosaics
CODES = (1000, 2000, 3000)
_BAYER_CFA = {"RGGB": [0, 1, 1, 2], "GRBG": [1, 0, 2, 1], "BGGR": [2, 1, 1, 0], "GBRG": [1, 2, 0, 1]}


def write_dng(
    path: Path, mosaic: np.ndarray, cfa: str | np.ndarray = "RGGB", black: int = BLACK, white: int = WHITE
) -> Path:
    """Write a uint16 CFA mosaic as an uncompressed DNG (any file name, e.g. ``.ARW``)."""
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import CalibrationIlluminant, DNGVersion, Orientation, PhotometricInterpretation

    h, w = mosaic.shape
    tags = DNGTags()
    tags.set(Tag.ImageWidth, w)
    tags.set(Tag.ImageLength, h)
    tags.set(Tag.TileWidth, w)
    tags.set(Tag.TileLength, h)
    tags.set(Tag.Orientation, Orientation.Horizontal)
    tags.set(Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array)
    tags.set(Tag.SamplesPerPixel, 1)
    tags.set(Tag.BitsPerSample, 16)
    if isinstance(cfa, str):
        tags.set(Tag.CFARepeatPatternDim, [2, 2])
        tags.set(Tag.CFAPattern, _BAYER_CFA[cfa])
    else:
        tags.set(Tag.CFARepeatPatternDim, list(cfa.shape))
        tags.set(Tag.CFAPattern, [int(v) for v in cfa.flatten()])
    tags.set(Tag.BlackLevel, black)
    tags.set(Tag.WhiteLevel, white)
    ident = [[10000, 10000], [0, 10000], [0, 10000], [0, 10000], [10000, 10000], [0, 10000]]
    tags.set(Tag.ColorMatrix1, ident + [[0, 10000], [0, 10000], [10000, 10000]])
    tags.set(Tag.CalibrationIlluminant1, CalibrationIlluminant.D65)
    tags.set(Tag.AsShotNeutral, [[1, 2], [1, 1], [1, 2]])
    tags.set(Tag.Make, "fnflight")
    tags.set(Tag.Model, "test")
    tags.set(Tag.DNGVersion, DNGVersion.V1_4)
    tags.set(Tag.DNGBackwardVersion, DNGVersion.V1_2)
    writer = RAW2DNG()
    writer.options(tags, path="", compress=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(writer.convert(np.ascontiguousarray(mosaic, dtype=np.uint16))))
    return path


def coded_mosaic(colors: np.ndarray, h: int, w: int, black: int = BLACK) -> np.ndarray:
    """A mosaic whose value at each site encodes its colour (black + CODES[colour])."""
    tile = np.asarray(colors)
    idx = np.tile(tile, (h // tile.shape[0] + 1, w // tile.shape[1] + 1))[:h, :w]
    return (black + np.asarray(CODES)[idx]).astype(np.uint16)


def scene_mosaic(h: int, w: int, level: float, seed: int = 0) -> np.ndarray:
    """An asymmetric smooth ramp (so flips / transposes are visible) at brightness ``level`` in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w]
    scene = 0.2 + 0.8 * (0.7 * xx / w + 0.3 * (yy / h) ** 2)
    noise = np.random.default_rng(seed).normal(0, 0.01, (h, w))
    return np.clip(BLACK + (WHITE - BLACK) * np.clip(scene * level * (1 + noise), 0, 1), 0, WHITE).astype(
        np.uint16
    )


def make_sid(root: Path, size: int = 64, pairs: int = 3) -> Path:
    """A SID-layout folder: Sony/short, Sony/long and ``Sony_train_list.txt``; returns the list file."""
    exposures = ["0.1", "0.04", "0.033"]  # ratios 100, 250, 303 -> capped at 300
    lines = []
    for i in range(pairs):
        scene = f"{i + 1:05d}"
        write_dng(
            root / "Sony/short" / f"{scene}_00_{exposures[i % 3]}s.ARW", scene_mosaic(size, size, 0.003, i)
        )
        write_dng(root / "Sony/long" / f"{scene}_00_10s.ARW", scene_mosaic(size, size, 0.5, 10 + i))
        lines.append(
            f"./Sony/short/{scene}_00_{exposures[i % 3]}s.ARW ./Sony/long/{scene}_00_10s.ARW ISO200 F8"
        )
    list_file = root / "Sony_train_list.txt"
    list_file.write_text("\n".join(lines) + "\n")
    return list_file


@pytest.fixture
def sid_root(tmp_path: Path) -> Path:
    make_sid(tmp_path)
    return tmp_path


def test_exposure_and_list_parsing(tmp_path: Path) -> None:
    assert exposure_from_name("a/10034_00_0.033s.ARW") == pytest.approx(0.033)
    assert exposure_from_name("10034_00_30s.RAF") == 30.0
    with pytest.raises(SourceError, match="no exposure time"):
        exposure_from_name("IMG_0001.ARW")
    lst = tmp_path / "l.txt"
    lst.write_text("# comment\n./s/a_0.1s.ARW ./l/a_10s.ARW ISO200 F8\n\n./s/b_0.1s.ARW ./l/b_10s.ARW\n")
    entries = read_sid_list(lst)
    assert [e["line"] for e in entries] == [2, 4]
    assert entries[0]["iso"] == 200 and entries[0]["fnumber"] == 8
    lst.write_text("./s/a_0.1s.ARW\n")
    with pytest.raises(SourceError, match="line 1"):
        read_sid_list(lst)


def test_round_trip_ratio_levels_and_shapes(sid_root: Path) -> None:
    sid = SIDRawPairs(sid_root, "Sony_train_list.txt")
    assert len(sid) == 3 and sid.split == "train"
    assert [sid.ratio(i) for i in range(3)] == pytest.approx([100.0, 250.0, 300.0])
    assert sid.cfa == "bayer" and sid.factor() == 2 and sid.size(0) == (32, 32)
    sample = sid[0]
    assert sample["raw"].shape == (4, 32, 32) and sample["raw"].dtype == torch.float32
    assert sample["target"].shape == (3, 64, 64) and sample["target"].dtype == torch.float32
    assert sample["ratio"] == pytest.approx(100.0) and sample["index"] == 0
    # levels: (raw - 512) / (16383 - 512), amplified by the ratio and clipped at 1
    path = sid.files(0)["input"]
    with rawpy.imread(str(path)) as raw:
        mosaic = raw.raw_image_visible.astype(np.float32)
        assert list(raw.black_level_per_channel) == [BLACK] * 4 and raw.white_level == WHITE
    norm = np.maximum(mosaic - BLACK, 0) / (WHITE - BLACK)
    np.testing.assert_allclose(sample["raw"][0].numpy(), np.minimum(norm[0::2, 0::2] * 100, 1), atol=1e-5)
    np.testing.assert_allclose(sample["raw"][3].numpy(), np.minimum(norm[1::2, 1::2] * 100, 1), atol=1e-5)
    unamp = sid.read(0, amplify=False)["raw"]
    np.testing.assert_allclose(unamp[..., 1], norm[0::2, 1::2], atol=1e-6)
    # ground truth: LibRaw with camera WB, no auto-bright, 16 bit, / 65535
    with rawpy.imread(str(sid.files(0)["reference"])) as raw:
        ref = raw.postprocess(use_camera_wb=True, no_auto_bright=True, output_bps=16, user_flip=0)
    np.testing.assert_allclose(sample["target"].numpy().transpose(1, 2, 0), ref / 65535.0, atol=1e-6)
    assert 0 <= float(sample["target"].min()) and float(sample["target"].max()) <= 1


def test_packing_colour_sites_and_phase(tmp_path: Path) -> None:
    rggb = np.array([[0, 1], [1, 2]])
    write_dng(tmp_path / "s/a_0.1s.ARW", coded_mosaic(rggb, 32, 32), "RGGB")  # LibRaw rejects tinier files
    grbg = np.array([[1, 0], [2, 1]])
    write_dng(tmp_path / "s/b_0.1s.ARW", coded_mosaic(grbg, 32, 32), "GRBG")
    for name in ("a", "b"):
        write_dng(tmp_path / f"l/{name}_10s.ARW", scene_mosaic(32, 32, 0.5))
    (tmp_path / "list.txt").write_text("s/a_0.1s.ARW l/a_10s.ARW\ns/b_0.1s.ARW l/b_10s.ARW\n")
    sid = SIDRawPairs(tmp_path, tmp_path / "list.txt")
    expect = np.array(CODES, np.float32)[[0, 1, 1, 2]] / (WHITE - BLACK)  # raster order R, G, G, B
    for i in range(2):
        raw = sid.read(i, amplify=False)["raw"]
        np.testing.assert_allclose(raw.reshape(-1, 4).min(0), expect, rtol=1e-6)
        np.testing.assert_allclose(raw.reshape(-1, 4).max(0), expect, rtol=1e-6)
    assert sid.size(0) == (16, 16) and sid.size(1) == (16, 15)  # GRBG: first column dropped, width trimmed
    assert sid.read(1)["target"].shape == (32, 30, 3)
    # SID's channel order R, G, B, G and level overrides
    sid2 = SIDRawPairs(
        tmp_path, tmp_path / "list.txt", bayer_order="sid", black_level=0, white_level=2**16 - 1
    )
    raw = sid2.read(0, amplify=False)["raw"]
    np.testing.assert_allclose(raw[0, 0], (BLACK + np.array(CODES)[[0, 1, 2, 1]]) / (2**16 - 1), rtol=1e-6)


def test_xtrans_packing(tmp_path: Path) -> None:
    cfa = XTRANS_CFA.numpy()
    write_dng(tmp_path / "s/x_0.1s.RAF", coded_mosaic(cfa, 72, 72, 1024), cfa, black=1024)
    write_dng(tmp_path / "l/x_10s.RAF", scene_mosaic(72, 72, 0.5), cfa, black=1024)
    (tmp_path / "Fuji_test_list.txt").write_text("./s/x_0.1s.RAF ./l/x_10s.RAF ISO800 F7.1\n")
    # LibRaw's default X-Trans demosaic rejects these tiny DNGs; LINEAR renders them
    sid = SIDRawPairs(tmp_path, "Fuji_test_list.txt", demosaic="linear")
    assert sid.cfa == "xtrans" and sid.factor() == 3 and sid.channels() == 9
    out = sid.read(0, (2, 4, 12, 16), amplify=False)
    assert out["raw"].shape == (12, 16, 9) and out["target"].shape == (36, 48, 3)
    expect = np.array(CODES, np.float32)[list(XTRANS_PACKED_COLORS)] / (WHITE - 1024)
    np.testing.assert_allclose(out["raw"].reshape(-1, 9).min(0), expect, rtol=1e-6)
    np.testing.assert_allclose(out["raw"].reshape(-1, 9).max(0), expect, rtol=1e-6)
    with pytest.raises(SourceError, match="even"):
        sid.read(0, (1, 0, 4, 4))


def test_with_split(sid_root: Path) -> None:
    sid = SIDRawPairs(sid_root, "Sony_train_list.txt")
    (sid_root / "Sony_val_list.txt").write_text(
        (sid_root / "Sony_train_list.txt").read_text().splitlines()[0]
    )
    val = sid.with_split("val")
    assert val.split == "val" and len(val) == 1


def test_missing_list_and_missing_file(sid_root: Path) -> None:
    with pytest.raises(SourceError, match="nope_list.txt does not exist"):
        SIDRawPairs(sid_root, "nope_list.txt")
    (sid_root / "Sony/long/00002_00_10s.ARW").unlink()
    with pytest.raises(
        SourceError, match=r"line 2: listed reference file .*00002_00_10s\.ARW does not exist"
    ):
        SIDRawPairs(sid_root, "Sony_train_list.txt")
    with pytest.raises(SourceError, match="SID root"):
        SIDRawPairs(sid_root / "missing", "Sony_train_list.txt")


def test_unreadable_raw_names_the_file(sid_root: Path) -> None:
    bad = sid_root / "Sony/short/00001_00_0.1s.ARW"
    bad.write_bytes(b"this is not a raw file" * 10)
    sid = SIDRawPairs(sid_root, "Sony_train_list.txt")
    with pytest.raises(SourceError, match=r"00001_00_0\.1s\.ARW: rawpy cannot read this file \(LibRaw"):
        sid[0]
    assert sid[1]["raw"].shape == (4, 32, 32)  # the other pairs still read
    bad.unlink()
    with pytest.raises(SourceError, match=r"00001_00_0\.1s\.ARW: no such raw file"):
        sid.read(0)


def test_cache_and_pickling(sid_root: Path) -> None:
    import pickle

    sid = SIDRawPairs(sid_root, "Sony_train_list.txt")
    sid[0]
    assert sid._cached_bytes > 0
    clone = pickle.loads(pickle.dumps(sid))
    assert clone._cached_bytes == 0 and len(clone) == 3
    small = SIDRawPairs(sid_root, "Sony_train_list.txt", cache_mb=0)
    torch.testing.assert_close(small[0]["raw"], sid[0]["raw"])
    assert small._cached_bytes == 0
