"""Real short / long pairs (paper 003 sec. 3.2.1): the folder source and ShortLongDataModule's real mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from fnflight.data import ImageFolder, ShortLongPairs, SourceError
from fnflight.data import batch as K
from fnflight.data.short_long import ShortLongDataModule, decode, short_display_gain


def _img(h: int, w: int, seed: int, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.integers(20, 236, (h, w, 3)) * scale).astype(np.uint8)


def make_pairs(folder: Path, names=("a", "b", "c"), sharp=True, h=30, w=40, ext=".png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        scene = _img(h, w, i)
        Image.fromarray((scene * 0.2).astype(np.uint8)).save(folder / f"{name}_short{ext}")
        Image.fromarray(scene).save(folder / f"{name}_long{ext}")
        if sharp:
            Image.fromarray(scene).save(folder / f"{name}_sharp{ext}")
    return folder


def test_pairs_read_and_encoding(tmp_path: Path) -> None:
    src = ShortLongPairs(make_pairs(tmp_path / "p"))
    assert len(src) == 3 and src.name(0) == "a" and src.size(0) == (30, 40)
    assert src.has_sharp(0) and src.encoding_gamma(0) == 2.2 and src.without_sharp() == []
    arrays = src.read(1, (2, 3, 10, 12))
    assert set(arrays) == {K.SHORT, K.LONG, K.TARGET}
    assert arrays[K.LONG].shape == (10, 12, 3) and arrays[K.LONG].dtype == np.float32
    stored = np.asarray(Image.open(tmp_path / "p" / "b_long.png"))[2:12, 3:15] / 255.0
    np.testing.assert_allclose(arrays[K.LONG], stored, atol=1e-6)  # as stored, no curve applied
    short, long = src.pair(2)
    assert short.shape == long.shape == (30, 40, 3)
    assert src.with_split("all").items == src.items
    # 16-bit files are linear by default (the sources' convention)
    lin = tmp_path / "lin"
    lin.mkdir()
    for role in ("short", "long"):
        tifffile.imwrite(lin / f"x_{role}.tif", np.full((8, 9, 3), 30000, np.uint16))
    sixteen = ShortLongPairs(lin)
    assert sixteen.encoding_gamma(0) == 1.0 and not sixteen.has_sharp(0)
    assert ShortLongPairs(lin, sixteen_bit="gamma").encoding_gamma(0) == 2.2
    np.testing.assert_allclose(sixteen.pair(0)[0], 30000 / 65535, rtol=1e-6)


def test_pairs_without_sharp_work_for_inference(tmp_path: Path) -> None:
    src = ShortLongPairs(make_pairs(tmp_path / "p", sharp=False))
    assert src.without_sharp() == ["a", "b", "c"]
    short, long = src.pair(0)
    assert short.shape == (30, 40, 3) and float(short.mean()) < float(long.mean())
    with pytest.raises(SourceError, match="has no 'target' image"):
        src.read(0, None, (K.TARGET,))


def test_pair_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        ShortLongPairs(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="has no pairs"):
        ShortLongPairs(tmp_path / "empty")
    folder = make_pairs(tmp_path / "p", names=("a",))
    (folder / "a_long.png").unlink()
    with pytest.raises(SourceError, match=r"a_short\.png: missing its partner a_long"):
        ShortLongPairs(folder)
    Image.fromarray(_img(30, 40, 0)).save(folder / "a_long.png")
    Image.fromarray(_img(30, 40, 0)).save(folder / "a_long.jpg")
    with pytest.raises(SourceError, match="two long files"):
        ShortLongPairs(folder)
    (folder / "a_long.jpg").unlink()
    Image.fromarray(_img(30, 41, 0)).save(folder / "a_sharp.png")
    with pytest.raises(SourceError, match=r"differ in size .*a_sharp\.png is 30x41"):
        ShortLongPairs(folder)
    (folder / "a_sharp.png").write_bytes(b"not an image")
    with pytest.raises(SourceError, match=r"a_sharp\.png: not a PNG"):
        ShortLongPairs(folder)
    (folder / "a_sharp.png").unlink()
    Image.fromarray(_img(5, 5, 0)).save(folder / "lonely_sharp.png")
    with pytest.raises(SourceError, match="a sharp file without lonely_short"):
        ShortLongPairs(folder)
    (folder / "lonely_sharp.png").unlink()
    tifffile.imwrite(folder / "a_long.tif", np.zeros((30, 40, 3), np.uint16))
    (folder / "a_long.png").unlink()
    with pytest.raises(SourceError, match="differ in bit depth"):
        ShortLongPairs(folder)
    # a truncated file: the header reads, the pixels do not
    bad = make_pairs(tmp_path / "bad", names=("z",))
    data = (bad / "z_long.png").read_bytes()
    (bad / "z_long.png").write_bytes(data[: len(data) // 2])
    src = ShortLongPairs(bad)
    with pytest.raises(SourceError, match=r"z_long\.png: cannot decode"):
        src.pair(0)


def test_datamodule_real_mode(tmp_path: Path) -> None:
    src = ShortLongPairs(make_pairs(tmp_path / "p"))
    dm = ShortLongDataModule(source=src, val_source=src, crop=[8, 12], batch_size=2, num_workers=0)
    assert dm.mode == "real"
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) >= {K.SHORT, K.LONG, K.TARGET, K.ENCODING_GAMMA} and K.AMBIENT not in batch
    out = dm.on_after_batch_transfer(batch, 0)
    for key in (K.SHORT, K.LONG, K.TARGET):
        assert out[key].shape == (2, 3, 8, 12)
    torch.testing.assert_close(out[K.SHORT], batch[K.SHORT])  # 8-bit sRGB = gamma 2.2: passes through
    torch.testing.assert_close(out[K.ENCODING_GAMMA], torch.full((2,), 2.2))
    torch.testing.assert_close(out[K.SHORT_GAIN], short_display_gain(out[K.SHORT], out[K.LONG], 2.2))
    torch.testing.assert_close(out[K.GAIN], torch.ones(2))
    # paired flips: the long and the sharp file hold the same picture, so they stay equal
    torch.testing.assert_close(out[K.LONG], out[K.TARGET])
    # validation: centre crops, deterministic; eval_crop=0: whole images
    val = [dm.on_after_batch_transfer(b, 0) for b in dm.val_dataloader()]
    assert sum(len(b[K.INDEX]) for b in val) == 3
    whole = ShortLongDataModule(
        source=src, val_source=src, crop=8, eval_crop=0, val_batch_size=1, num_workers=0
    )
    assert next(iter(whole.val_dataloader()))[K.LONG].shape == (1, 3, 30, 40)
    # a linear batch encoding: the display images are linearised with gamma 2.2
    lin = ShortLongDataModule(source=src, val_source=src, crop=8, num_workers=0, encoding="linear")
    b = next(iter(lin.val_dataloader()))
    out = lin.on_after_batch_transfer(b, 0)
    torch.testing.assert_close(out[K.LONG], decode(b[K.LONG], 2.2))
    torch.testing.assert_close(out[K.ENCODING_GAMMA], torch.ones(len(b[K.INDEX])))


def test_real_mode_without_sharp(tmp_path: Path) -> None:
    src = ShortLongPairs(make_pairs(tmp_path / "p", sharp=False))
    dm = ShortLongDataModule(source=src, val_source=src, crop=8, num_workers=0)
    with pytest.raises(SourceError, match=r"3 pair\(s\) have no NAME_sharp target \(a, b, c\).*to train"):
        dm.setup("fit")
    # tripod captures (sec. 3.2.1): the long exposure is the target, its blur is synthesised
    dm = ShortLongDataModule(
        source=src,
        val_source=src,
        crop=8,
        margin=4,
        batch_size=2,
        num_workers=0,
        real_long="sharp",
        blur_samples=4,
    )
    batch = next(iter(dm.train_dataloader()))
    assert batch[K.LONG].shape == (2, 3, 16, 16)  # read with the margin
    out = dm.on_after_batch_transfer(batch, 0)
    for key in (K.SHORT, K.LONG, K.TARGET):
        assert out[key].shape == (2, 3, 8, 8), key
    torch.testing.assert_close(out[K.TARGET], batch[K.LONG][..., 4:-4, 4:-4])
    torch.testing.assert_close(out[K.SHORT], batch[K.SHORT][..., 4:-4, 4:-4])
    assert not torch.allclose(out[K.LONG], out[K.TARGET])  # blurred
    assert out[K.EXPOSURE_LONG].shape == (2,) and dm.protocol()["real_long"] == "sharp"


def test_real_mode_needs_pairs_everywhere(tmp_path: Path) -> None:
    src = ShortLongPairs(make_pairs(tmp_path / "p"))
    photos = ImageFolder(make_pairs(tmp_path / "q", names=("x",)))
    with pytest.raises(ValueError, match="mode='real' needs a ShortLongPairs as val_source"):
        ShortLongDataModule(source=src, val_source=photos, crop=8)
    with pytest.raises(ValueError, match="mode='synthetic' needs a clean image source"):
        ShortLongDataModule(source=src, val_source=src, crop=8, mode="synthetic")
