from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fnflight.data import (
    BurstDataModule,
    CropDataset,
    FAIDPairs,
    FlashNoFlashDataModule,
    ImageFolder,
    collate,
)
from fnflight.data import batch as K


def _fnf(folder: Path, **kw) -> FlashNoFlashDataModule:
    src = ImageFolder(folder)
    return FlashNoFlashDataModule(source=src, val_source=src, crop=32, batch_size=2, num_workers=0, **kw)


def test_fnf_train_batch(photo_folder: Path) -> None:
    dm = _fnf(photo_folder)
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {K.AMBIENT, K.COLOR_MATRIX, K.INDEX}
    out = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    for key in (K.AMBIENT, K.FLASH_ONLY, K.NOFLASH, K.FLASH, K.NOFLASH_STD, K.FLASH_STD, K.TARGET):
        assert out[key].shape == (2, 3, 32, 32) and out[key].dtype == torch.float32, key
    for key in (K.GAIN, K.DIM, K.STD_READ, K.STD_SHOT, K.DISPLACEMENT):
        assert out[key].shape == (2,), key
    assert out[K.HOMOGRAPHY].shape == (2, 3, 3) and out[K.COLOR_MATRIX].shape == (2, 3, 3)
    assert bool(((out[K.DIM] >= 5 - 1e-3) & (out[K.DIM] <= 50 + 1e-3)).all())
    assert bool(((out[K.STD_READ] >= 1e-3) & (out[K.STD_READ] <= 1e-2)).all())
    torch.testing.assert_close(out[K.TARGET], out[K.AMBIENT] / out[K.DIM][:, None, None, None])


def test_fnf_train_through_hook_varies(photo_folder: Path) -> None:
    dm = _fnf(photo_folder)
    batch = next(iter(dm.train_dataloader()))
    a = dm.degrade(batch, dm.train_generator(torch.device("cpu")), "train")
    b = dm.degrade(batch, dm.train_generator(torch.device("cpu")), "train")
    assert not torch.equal(a[K.NOFLASH], b[K.NOFLASH])  # a fresh seed per (micro-)batch
    again = _fnf(photo_folder)
    c = again.degrade(batch, again.train_generator(torch.device("cpu")), "train")
    assert torch.equal(a[K.NOFLASH], c[K.NOFLASH])  # reproducible from the seed


def test_paired_augmentation_keeps_pairs_aligned(faid_folder: Path) -> None:
    # flash_only := ambient: after random crops, flips and rotations they must still be identical
    src = FAIDPairs(faid_folder)
    for item in src.items:
        item["files"]["flash_only"] = item["files"]["ambient"]
    ds = CropDataset(src, crop=24, train=True, seed=1)
    flipped = 0
    for i in range(12):
        s = ds[i % len(ds)]
        assert torch.equal(s[K.AMBIENT], s[K.FLASH_ONLY])
        centre = src.read(int(s[K.INDEX]), (6, 8, 24, 24))[K.AMBIENT]
        flipped += not torch.equal(s[K.AMBIENT], torch.from_numpy(centre).permute(2, 0, 1))
    assert flipped > 0


def test_val_deterministic_and_protocol(photo_folder: Path) -> None:
    dm = _fnf(photo_folder)
    passes = []
    for _ in range(2):
        passes.append([dm.on_after_batch_transfer(b, 0) for b in dm.val_dataloader()])
    for a, b in zip(*passes):
        for key in a:
            assert torch.equal(a[key], b[key]), key
    batches = passes[0]
    dims = torch.cat([b[K.DIM] for b in batches])
    assert dims.tolist() == [100.0, 50.0, 25.0, 12.5] * 3
    std_read = torch.cat([b[K.STD_READ] for b in batches])
    std_shot = torch.cat([b[K.STD_SHOT] for b in batches])
    torch.testing.assert_close(std_read, torch.full_like(std_read, 10**-2.6))
    torch.testing.assert_close(std_shot, torch.full_like(std_shot, 10**-1.8))
    h = torch.cat([b[K.HOMOGRAPHY] for b in batches])
    assert torch.equal(h[0], h[3]) and not torch.equal(h[0], h[4])  # one homography per image, all dims


def test_val_independent_of_batching(photo_folder: Path) -> None:
    one = _fnf(photo_folder, val_batch_size=1)
    four = _fnf(photo_folder, val_batch_size=4)
    a = torch.cat([one.on_after_batch_transfer(b, 0)[K.FLASH] for b in one.val_dataloader()])
    b = torch.cat([four.on_after_batch_transfer(b, 0)[K.FLASH] for b in four.val_dataloader()])
    assert torch.equal(a, b)


@pytest.mark.parametrize("reference", ["noflash", "flash"])
def test_reference_alignment(faid_folder: Path, reference: str) -> None:
    src = FAIDPairs(faid_folder)
    dm = FlashNoFlashDataModule(
        source=src,
        val_source=src,
        crop=32,
        num_workers=0,
        reference=reference,
        test_std_read=0.0,
        test_std_shot=0.0,
    )
    batch = collate([dm.make_dataset("test")[0]])
    out = dm.degrade_seeded(batch, 0, "test")
    assert not torch.equal(out[K.HOMOGRAPHY][0], torch.eye(3))
    if reference == "noflash":
        torch.testing.assert_close(
            out[K.NOFLASH], out[K.TARGET]
        )  # target aligned with the (unwarped) no-flash
        assert not torch.allclose(out[K.FLASH], 2 * out[K.FLASH_ONLY] + out[K.TARGET])
    else:
        torch.testing.assert_close(out[K.FLASH], 2 * out[K.FLASH_ONLY] + out[K.TARGET])
        assert not torch.allclose(out[K.NOFLASH], out[K.TARGET])


def test_extra_noflash(photo_folder: Path) -> None:
    dm = _fnf(photo_folder, extra_noflash=2)
    batch = next(iter(dm.train_dataloader()))
    out = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    assert out[K.EXTRA_NOFLASH].shape == (2, 2, 3, 32, 32)
    assert out[K.EXTRA_NOFLASH_STD].shape == (2, 2, 3, 32, 32)


def test_burst_batch(photo_folder: Path) -> None:
    src = ImageFolder(photo_folder)
    dm = BurstDataModule(
        source=src, val_source=src, crop=16, frames=4, num_workers=0, batch_size=2, large=4.0
    )
    batch = next(iter(dm.train_dataloader()))
    assert batch[K.AMBIENT].shape == (2, 3, 16 + 2 * dm.margin, 16 + 2 * dm.margin)
    out = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    assert out[K.BURST].shape == (2, 4, 3, 16, 16) and out[K.NOISE_STD].shape == (2, 1, 16, 16)
    assert out[K.TARGET].shape == (2, 3, 16, 16)
    assert bool(((out[K.WHITE_LEVEL] >= 0.1) & (out[K.WHITE_LEVEL] <= 1.0)).all())
    torch.testing.assert_close(out[K.GAIN], 1 / out[K.WHITE_LEVEL])
    assert bool((out[K.OFFSETS][:, 0] == 0).all())
    # noiseless: frame 0 is the reference, equal to the target
    quiet = BurstDataModule(
        source=src,
        val_source=src,
        crop=16,
        frames=3,
        num_workers=0,
        large=4.0,
        read_range=(-12, -12),
        shot_range=(-12, -12),
    )
    out = quiet.degrade(batch, torch.Generator().manual_seed(0), "train")
    torch.testing.assert_close(out[K.BURST][:, 0], out[K.TARGET], atol=1e-6, rtol=0)


def test_source_from_class_path(photo_folder: Path) -> None:
    spec = {"class_path": "fnflight.data.ImageFolder", "init_args": {"path": str(photo_folder)}}
    dm = FlashNoFlashDataModule(source=spec, val_source=spec, crop=32, num_workers=0)
    assert len(dm.source) == 3


def test_small_crops_see_the_misalignment_of_a_448_capture(photo_folder: Path) -> None:
    from fnflight.imaging import mean_displacement

    def shifts(size):
        dm = _fnf(photo_folder, homography_size=size)
        homs = dm._camera_shake(1, 256, 64, 64, torch.Generator().manual_seed(0))[0]
        return float(mean_displacement(homs, 64, 64).mean())

    framed, own = shifts(448), shifts(None)
    dm448 = FlashNoFlashDataModule(crop=448, num_workers=0)
    full = float(
        mean_displacement(
            dm448._camera_shake(1, 256, 448, 448, torch.Generator().manual_seed(0))[0], 448, 448
        ).mean()
    )
    assert own < 0.6 * full  # a 64-px frame of its own: far smaller shifts than the paper's 448 crops
    assert abs(framed - full) < 0.25 * full  # a window of a 448 frame: about the same shifts


def test_homography_frame_changes_nothing_at_the_paper_crop(photo_folder: Path) -> None:
    a = FlashNoFlashDataModule(crop=448, num_workers=0)._camera_shake(
        2, 3, 448, 448, torch.Generator().manual_seed(1)
    )
    b = FlashNoFlashDataModule(crop=448, num_workers=0, homography_size=None)._camera_shake(
        2, 3, 448, 448, torch.Generator().manual_seed(1)
    )
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))  # stored 448 test sets are unchanged
    with pytest.raises(ValueError, match="homography_size"):
        FlashNoFlashDataModule(homography_size=0)


def test_shake_warmup_ramps_the_misalignment_and_keeps_the_rest(photo_folder: Path) -> None:
    from types import SimpleNamespace

    dm = _fnf(photo_folder, shake_warmup_steps=100)
    batch = next(iter(dm.train_dataloader()))

    def train_sample(step: int) -> dict:
        dm.trainer = SimpleNamespace(global_step=step)  # what the data module reads from a Trainer
        return dm.degrade(batch, torch.Generator().manual_seed(3), "train")

    start, half, full, late = train_sample(0), train_sample(50), train_sample(100), train_sample(400)
    assert float(start[K.DISPLACEMENT].abs().max()) < 1e-4  # aligned pairs first
    d_half, d_full = float(half[K.DISPLACEMENT].mean()), float(full[K.DISPLACEMENT].mean())
    assert 0.3 * d_full < d_half < 0.7 * d_full
    torch.testing.assert_close(late[K.HOMOGRAPHY], full[K.HOMOGRAPHY])  # full ranges after the warm-up
    # the same random draws: only the flash geometry differs
    for key in (K.NOFLASH, K.TARGET, K.GAIN, K.STD_READ):
        torch.testing.assert_close(start[key], full[key])
    assert dm.shake_scale("val") == 1.0 and dm.shake_scale("test") == 1.0
    with pytest.raises(ValueError, match="shake_warmup_steps"):
        FlashNoFlashDataModule(shake_warmup_steps=0)


def test_shake_multiplier_scales_the_misalignment() -> None:
    from fnflight.imaging import mean_displacement

    def mean_shift(shake: float) -> float:
        dm = FlashNoFlashDataModule(crop=448, num_workers=0, shake=shake)
        homs = dm._camera_shake(1, 128, 448, 448, torch.Generator().manual_seed(0))[0]
        return float(mean_displacement(homs, 448, 448).mean())

    assert mean_shift(0.0) < 1e-4
    assert abs(mean_shift(2.0) / mean_shift(1.0) - 2.0) < 0.1  # shifts grow about linearly with the ranges
    assert FlashNoFlashDataModule(shake=0.5).protocol()["homography"]["max_translation"] == 1.0
    with pytest.raises(ValueError, match="shake"):
        FlashNoFlashDataModule(shake=-1)
