"""The warped frame reads the content the shake brings into the crop from the photo around it: no mirrored
content away from the photo's own border (issue 22, point 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from data_helpers import XYZ_TO_CAM
from PIL import Image

from fnflight.data import FAIDPairs, FlashNoFlashDataModule, ImageFolder, collate
from fnflight.data import batch as K
from fnflight.data.base import CropDataset
from fnflight.data.sources import write_png
from fnflight.imaging import homography_sampling_grid, warp_image


def _outside_share(hom: torch.Tensor, h: int, w: int, margin: int) -> float:
    """Share of the crop's pixels whose warp samples beyond ``margin`` px around the crop (mirrored content
    when nothing was read there)."""
    g = homography_sampling_grid(hom.double(), h, w)  # normalised crop coordinates of H^-1 x
    x = (g[..., 0] + 1) * (w - 1) / 2
    y = (g[..., 1] + 1) * (h - 1) / 2
    out = (x < -margin) | (x > w - 1 + margin) | (y < -margin) | (y > h - 1 + margin)
    return float(out.double().mean())


def _photos(folder: Path, n: int = 3, size: tuple[int, int] = (180, 200)) -> Path:
    folder.mkdir()
    g = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray((g.random((*size, 3)) * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


def test_no_reflected_flash_content_in_training_and_test_batches(tmp_path: Path) -> None:
    src = ImageFolder(_photos(tmp_path / "photos"))
    dm = FlashNoFlashDataModule(source=src, val_source=src, crop=64, batch_size=3, num_workers=0)
    m_train, m_test = dm.read_margin("train"), dm.read_margin("test")
    before, after = [], []
    dm.setup("fit")
    for step, batch in zip(range(4), dm.train_dataloader()):
        assert batch[K.AMBIENT].shape[-1] == 64 + 2 * m_train
        out = dm.degrade(batch, torch.Generator().manual_seed(step), "train")
        assert out[K.FLASH].shape[-2:] == (64, 64)
        before.append(_outside_share(out[K.HOMOGRAPHY], 64, 64, 0))  # what reflection at the crop gave
        after.append(_outside_share(out[K.HOMOGRAPHY], 64, 64, m_train))
    test = collate([dm.make_dataset("test")[i] for i in range(3)])
    out = dm.degrade_seeded(test, 0, "test")
    after.append(_outside_share(out[K.HOMOGRAPHY], 64, 64, m_test))
    assert max(after) == 0.0
    assert sum(before) / len(before) > 0.01  # the crop alone would mirror a few percent of the flash


def test_warp_reads_the_photo_around_the_crop(tmp_path: Path) -> None:
    """A test sample's flash equals the warp of the WHOLE photo (cropped after), not of the crop."""
    folder = tmp_path / "faid"
    folder.mkdir()
    g = np.random.default_rng(1)
    amb, fl = (g.random((120, 130, 3)) for _ in range(2))
    text = {"Comment": " ".join(str(v) for v in XYZ_TO_CAM), "Description": "17"}
    write_png(folder / "s_ambient.png", (amb * 65535).astype(np.uint16), text)
    write_png(folder / "s_flash.png", (fl * 65535).astype(np.uint16))
    src = FAIDPairs(folder)
    dm = FlashNoFlashDataModule(
        source=src, val_source=src, crop=48, num_workers=0, shake=3.0, test_std_read=0.0, test_std_shot=0.0
    )
    sample = collate([dm.make_dataset("test")[0]])
    out = dm.degrade_seeded(sample, 0, "test")
    full = src.read(0)
    top, left = (120 - 48) // 2, (130 - 48) // 2
    clean = 2 * full["flash_only"] + full["ambient"] / 100.0  # dim 100 (first test dim)
    clean = torch.from_numpy(clean).permute(2, 0, 1)[None].float()
    # the crop's homography in the photo's coordinates: H_photo = T(o) H T(-o)
    o = torch.tensor([[float(left), float(top)]])
    from fnflight.imaging import translation_homography

    h_photo = translation_homography(o) @ out[K.HOMOGRAPHY][:1] @ translation_homography(-o)
    expected = warp_image(clean, h_photo)[..., top : top + 48, left : left + 48]
    assert _outside_share(out[K.HOMOGRAPHY][:1], 48, 48, 0) > 0.02  # the shake does reach outside the crop
    assert torch.allclose(out[K.FLASH][:1], expected, atol=1e-4)


def test_small_photo_mirrors_only_where_it_ends(tmp_path: Path) -> None:
    """A photo no larger than the crop still loads; the window beyond it is its mirror image."""
    src = ImageFolder(_photos(tmp_path / "photos", 1, (64, 64)))
    dm = FlashNoFlashDataModule(source=src, val_source=src, crop=64, num_workers=0)
    ds = dm.make_dataset("test")
    m = dm.read_margin("test")
    window = ds[0][K.AMBIENT]
    assert window.shape[-2:] == (64 + 2 * m, 64 + 2 * m)
    plain = CropDataset(src, 64, False)[0][K.AMBIENT]
    assert torch.equal(window[:, m : m + 64, m : m + 64], plain)
    assert torch.equal(window[:, m - 1, m : m + 64], plain[:, 1])  # reflected about the photo's edge
