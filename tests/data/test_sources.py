from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from data_helpers import XYZ_TO_CAM, smooth_image
from PIL import Image

from fnflight.data import (
    CropDataset,
    EmbeddedPhotos,
    FAIDPairs,
    ImageFolder,
    SourceError,
    read_linear,
    write_png,
)
from fnflight.imaging import camera_to_srgb_matrix, linear_from_srgb


def test_missing_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="nowhere"):
        ImageFolder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="empty.*no images"):
        ImageFolder(tmp_path / "empty")


def test_unsupported_extension_warns(photo_folder: Path) -> None:
    (photo_folder / "notes.txt").write_text("hello")
    with pytest.warns(UserWarning, match="notes.txt"):
        source = ImageFolder(photo_folder)
    assert len(source) == 3


def test_truncated_image_names_file(photo_folder: Path) -> None:
    data = (photo_folder / "img1.png").read_bytes()
    (photo_folder / "img1.png").write_bytes(data[: len(data) // 2])
    source = ImageFolder(photo_folder)
    with pytest.raises(SourceError, match=r"img1\.png.*(truncated|cannot decode)"):
        source[1]
    (photo_folder / "img2.png").write_bytes(b"not an image at all")
    with pytest.raises(SourceError, match=r"img2\.png"):
        ImageFolder(photo_folder)[2]


def test_truncated_16bit_png(tmp_path: Path) -> None:
    write_png(tmp_path / "a.png", smooth_image(20, 20, 0, np.uint16))
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "a.png").write_bytes(data[:-40])
    with pytest.raises(SourceError, match=r"a\.png"):
        read_linear(tmp_path / "a.png")


def test_image_smaller_than_crop(photo_folder: Path) -> None:
    source = ImageFolder(photo_folder)
    with pytest.raises(SourceError, match=r"img0\.png.*40x48.*64x64"):
        CropDataset(source, crop=64, train=True)


def test_linearisation_8_and_16_bit(tmp_path: Path) -> None:
    img8 = smooth_image(8, 8, 0)
    Image.fromarray(img8).save(tmp_path / "a.png")
    expected = linear_from_srgb(torch.from_numpy(img8.astype(np.float64) / 255)).float().numpy()
    np.testing.assert_allclose(read_linear(tmp_path / "a.png"), expected, atol=1e-6)
    img16 = smooth_image(8, 8, 0, np.uint16)
    write_png(tmp_path / "b.png", img16)
    np.testing.assert_allclose(read_linear(tmp_path / "b.png"), img16 / 65535.0, atol=1e-7)
    import tifffile

    tifffile.imwrite(tmp_path / "c.tif", img16)
    np.testing.assert_allclose(read_linear(tmp_path / "c.tif"), img16 / 65535.0, atol=1e-7)


def test_source_sample_contract(photo_folder: Path) -> None:
    sample = ImageFolder(photo_folder)[0]
    assert sample["ambient"].shape == (3, 40, 48) and sample["ambient"].dtype == torch.float32
    assert 0 <= float(sample["ambient"].min()) and float(sample["ambient"].max()) <= 1
    assert torch.equal(sample["color_matrix"], torch.eye(3))
    assert sample["index"] == 0 and sample["name"] == "img0.png"


def test_folder_split(photo_folder: Path) -> None:
    train = ImageFolder(photo_folder, val_count=1, split="train")
    val = train.with_split("val")
    assert [train.name(i) for i in range(len(train))] == ["img0.png", "img1.png"]
    assert [val.name(i) for i in range(len(val))] == ["img2.png"]


def test_embedded_photos_split() -> None:
    train, val = EmbeddedPhotos("train"), EmbeddedPhotos("val")
    names = {train.name(i) for i in range(len(train))}
    assert names.isdisjoint({val.name(i) for i in range(len(val))})
    assert len(train) == 4 and len(val) == 2
    assert min(val.size(0)) >= 448  # upscaled so the paper's crop fits


def test_faid_round_trip(faid_folder: Path) -> None:
    source = FAIDPairs(faid_folder)
    assert len(source) == 2 and source.name(0) == "Objects_001"
    sample = source[0]
    np.testing.assert_allclose(
        sample["ambient"].permute(1, 2, 0).numpy(), smooth_image(36, 40, 0, np.uint16) / 65535.0, atol=1e-7
    )
    np.testing.assert_allclose(
        sample["flash_only"].permute(1, 2, 0).numpy(),
        smooth_image(36, 40, 10, np.uint16) / 65535.0,
        atol=1e-7,
    )
    expected = camera_to_srgb_matrix(torch.tensor(XYZ_TO_CAM, dtype=torch.float64).reshape(3, 3), 17)
    torch.testing.assert_close(sample["color_matrix"], expected.reshape(3, 3).float())


def test_faid_split_list(faid_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "test.txt").write_text("People_002\n")
    source = FAIDPairs(faid_folder, split_list=tmp_path / "test.txt")
    assert len(source) == 1 and source.name(0) == "People_002"


def test_faid_missing_file(faid_folder: Path) -> None:
    (faid_folder / "People_002_flash.png").unlink()
    with pytest.raises(SourceError, match=r"People_002_flash\.png"):
        FAIDPairs(faid_folder)


def test_faid_missing_metadata_16bit(faid_folder: Path) -> None:
    write_png(faid_folder / "Objects_001_ambient.png", smooth_image(36, 40, 0, np.uint16))
    with pytest.raises(SourceError, match=r"Objects_001_ambient\.png.*Comment"):
        FAIDPairs(faid_folder)[0]


def test_faid_8bit_warns_identity(tmp_path: Path) -> None:
    for suffix in ("ambient", "flash"):
        Image.fromarray(smooth_image(20, 24, 0)).save(tmp_path / f"x_{suffix}.png")
    with pytest.warns(UserWarning, match="8-bit"):
        source = FAIDPairs(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(source[0]["color_matrix"], torch.eye(3))
