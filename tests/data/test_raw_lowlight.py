"""RawLowLightDataModule: SID real pairs (tiny DNGs) and synthetic raw from photos (paper 004, NOTES)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from test_raw_sources import make_sid

from fnflight import imaging
from fnflight.data import ImageFolder
from fnflight.data import batch as K
from fnflight.data.raw_lowlight import RawLowLightDataModule
from fnflight.data.raw_sources import SIDRawPairs


def _synthetic(folder: Path, **kw) -> RawLowLightDataModule:
    src = ImageFolder(folder)
    kw = {"crop": 8, "batch_size": 2, "num_workers": 0, **kw}
    return RawLowLightDataModule(source=src, val_source=src, **kw)


def test_synthetic_train_batch(photo_folder: Path) -> None:
    dm = _synthetic(photo_folder)
    assert dm.mode == "synthetic"
    batch = next(iter(dm.train_dataloader()))
    assert batch[K.AMBIENT].shape == (2, 3, 16, 16)
    out = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    assert out[K.RAW].shape == (2, 4, 8, 8) and out[K.RAW].dtype == torch.float32
    assert out[K.TARGET].shape == (2, 3, 16, 16) and out[K.TARGET].dtype == torch.float32
    assert out[K.RATIO].shape == (2,) and out[K.RATIO].dtype == torch.float32
    assert set(out[K.RATIO].tolist()) <= {100.0, 250.0, 300.0}
    assert out[K.STD_READ].shape == (2,) and out[K.STD_SHOT].shape == (2,)
    assert 0 <= float(out[K.RAW].min()) and float(out[K.RAW].max()) <= 1
    torch.testing.assert_close(out[K.TARGET], imaging.srgb_from_linear(batch[K.AMBIENT]).clamp(0, 1))
    again = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    torch.testing.assert_close(again[K.RAW], out[K.RAW], rtol=0, atol=0)


def test_synthetic_packing_matches_unprocessed_clean_raw(photo_folder: Path) -> None:
    # ratio 1: the packed capture is the unprocessed, mosaicked clean image plus noise of normal exposure
    dm = _synthetic(photo_folder, crop=16, test_ratios=(1.0,))
    dm.setup("validate")
    sample = dm.val_set[0]
    batch = {k: v[None] for k, v in sample.items()}
    out = dm.degrade(batch, torch.Generator().manual_seed(3), "val")
    assert out[K.RAW].shape == (1, 4, 16, 16) and float(out[K.RATIO]) == 1.0
    clean, _ = imaging.unprocess(out[K.TARGET], torch.Generator().manual_seed(3))
    expect = imaging.pack_bayer(imaging.mosaic_bayer(clean))
    err = (out[K.RAW] - expect).mean((0, 2, 3))
    assert bool((err.abs() < 0.03).all()), err
    corr = torch.corrcoef(torch.stack([out[K.RAW].flatten(), expect.flatten()]))[0, 1]
    assert corr > 0.8


def test_synthetic_ratio_amplifies_and_clips(photo_folder: Path) -> None:
    # Brooks et al.'s (phone) noise levels: at x10^4 the amplified capture saturates
    dm = _synthetic(photo_folder, ratio_range=(1e4, 1e4), quantize=False, noise="unprocessing")
    batch = next(iter(dm.train_dataloader()))
    out = dm.degrade(batch, torch.Generator().manual_seed(1), "train")
    torch.testing.assert_close(out[K.RATIO], torch.full((2,), 1e4))
    assert float(out[K.RAW].max()) == 1.0  # clipped at 1
    assert float((out[K.RAW] == 1.0).float().mean()) > 0.3
    # quantised dark capture: (dn - 512) / (16383 - 512) * ratio, before clipping
    dm2 = _synthetic(photo_folder, ratio_range=(100, 100))
    out2 = dm2.degrade(batch, torch.Generator().manual_seed(1), "train")
    levels = out2[K.RAW][out2[K.RAW] < 1] / 100 * (16383 - 512)
    torch.testing.assert_close(levels, levels.round(), atol=2e-3, rtol=0)


def test_synthetic_noise_grows_with_the_ratio_like_a_short_exposure(photo_folder: Path) -> None:
    # the three ratios of an image share camera and noise draws: only the exposure differs, so the noise of
    # the amplified capture (its pixel-to-pixel differences on a smooth photo) grows with the ratio, between
    # sqrt(ratio) (shot noise alone) and ratio (read noise alone)
    dm = _synthetic(photo_folder, crop=16, val_batch_size=3, quantize=False, gain_range=(2.0, 2.0))
    dm.setup("validate")
    batch = dm.on_after_batch_transfer(next(iter(dm.val_dataloader())), 0)
    assert batch[K.RATIO].tolist() == [100.0, 250.0, 300.0]
    raw = batch[K.RAW]
    detail = (raw[..., 1:, :] - raw[..., :-1, :]).std(dim=(1, 2, 3))
    assert bool((detail[1:] > detail[:-1]).all())
    growth = float(detail[2] / detail[0])
    assert (300 / 100) ** 0.5 * 0.9 < growth < 300 / 100 * 1.1
    # the classical ISP parameters travel with the batch
    assert batch[K.WB_GAINS].shape == (3, 3) and batch[K.COLOR_MATRIX].shape == (3, 3, 3)
    assert batch[K.TONE_CURVE].tolist() == [1.0, 1.0, 1.0]


def test_synthetic_xtrans(photo_folder: Path) -> None:
    dm = _synthetic(photo_folder, crop=6, cfa="xtrans")
    batch = next(iter(dm.train_dataloader()))
    assert batch[K.AMBIENT].shape == (2, 3, 18, 18)
    out = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    assert out[K.RAW].shape == (2, 9, 6, 6) and out[K.TARGET].shape == (2, 3, 18, 18)


def test_synthetic_val_is_deterministic_with_fixed_ratios(photo_folder: Path) -> None:
    dm = _synthetic(photo_folder, val_batch_size=4)
    dm.setup("validate")
    assert len(dm.val_set) == 3 * 3  # the 3 photos of conftest's photo_folder x 3 ratios

    def run() -> list[dict[str, torch.Tensor]]:
        return [dm.on_after_batch_transfer(b, 0) for b in dm.val_dataloader()]

    first, second = run(), run()
    ratios = torch.cat([b[K.RATIO] for b in first]).tolist()
    assert ratios == [100.0, 250.0, 300.0] * 3
    for a, b in zip(first, second, strict=True):
        for key in (K.RAW, K.TARGET, K.RATIO, K.STD_READ):
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    # the three ratios of one image share their draws: same noise levels
    assert len(set(torch.cat([b[K.STD_READ] for b in first])[:3].tolist())) == 1


def test_real_mode_batches(tmp_path: Path) -> None:
    make_sid(tmp_path)
    sid = SIDRawPairs(tmp_path, "Sony_train_list.txt")
    dm = RawLowLightDataModule(source=sid, val_source=sid, crop=16, batch_size=2, num_workers=0)
    assert dm.mode == "real" and dm.crop == 16 and dm.factor == 2
    batch = next(iter(dm.train_dataloader()))
    assert batch[K.RAW].shape == (2, 4, 16, 16) and batch[K.TARGET].shape == (2, 3, 32, 32)
    assert batch[K.RATIO].dtype == torch.float32
    out = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    torch.testing.assert_close(out[K.RAW], batch[K.RAW])
    assert set(out[K.RATIO].tolist()) <= {100.0, 250.0, 300.0}
    # validation: centre crops, deterministic
    val = [dm.on_after_batch_transfer(b, 0) for b in dm.val_dataloader()]
    val2 = [dm.on_after_batch_transfer(b, 0) for b in dm.val_dataloader()]
    for a, b in zip(val, val2, strict=True):
        torch.testing.assert_close(a[K.RAW], b[K.RAW], rtol=0, atol=0)
    assert torch.cat([b[K.RATIO] for b in val]).tolist() == [100.0, 250.0, 300.0]
    # full frames
    full = RawLowLightDataModule(source=sid, val_source=sid, crop=16, eval_crop=0, num_workers=0)
    full.setup("validate")
    assert full.val_set[0][K.RAW].shape == (4, 32, 32)


def test_real_mode_flips_are_paired(tmp_path: Path) -> None:
    # an asymmetric ramp: raw green and the downsampled target green agree only if both flip alike
    make_sid(tmp_path, size=48, pairs=1)
    sid = SIDRawPairs(tmp_path, "Sony_train_list.txt")
    dm = RawLowLightDataModule(source=sid, val_source=sid, crop=24, batch_size=1, num_workers=0, seed=5)
    dm.setup("fit")
    for _ in range(6):
        s = dm.train_set[0]
        green = s[K.TARGET][1].reshape(24, 2, 24, 2).mean((1, 3))
        corr = np.corrcoef(s[K.RAW][1].flatten().numpy(), green.flatten().numpy())[0, 1]
        assert corr > 0.9


def test_mode_checks(photo_folder: Path, tmp_path: Path) -> None:
    src = ImageFolder(photo_folder)
    with pytest.raises(ValueError, match="SIDRawPairs"):
        RawLowLightDataModule(source=src, val_source=src, mode="real", num_workers=0)
    make_sid(tmp_path / "sid", pairs=1)
    sid = SIDRawPairs(tmp_path / "sid", "Sony_train_list.txt")
    with pytest.raises(ValueError, match="val_source"):
        RawLowLightDataModule(source=sid, val_source=src, num_workers=0)
    with pytest.raises(ValueError, match="mode"):
        RawLowLightDataModule(source=src, val_source=src, mode="fake", num_workers=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm = RawLowLightDataModule(source=src, num_workers=0)
    assert dm.crop == 256 and dm.protocol()["test_ratios"] == [100.0, 250.0, 300.0]
