"""ShortLongDataModule: the LSD2 short / long synthesis (paper 003 sec. 3.1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fnflight import imaging
from fnflight.data import ImageFolder
from fnflight.data import batch as K
from fnflight.data.short_long import ShortLongDataModule, exposure_integral


def _write(folder: Path, images: list[np.ndarray]) -> Path:
    folder.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"img{i}.png")
    return folder


@pytest.fixture
def textured(tmp_path: Path) -> Path:
    """Blocky random textures: lots of gradient energy for blur to remove."""
    rng = np.random.default_rng(0)
    imgs = [
        np.kron(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8), np.ones((4, 4, 1), np.uint8))
        for _ in range(3)
    ]
    return _write(tmp_path / "tex", imgs)


@pytest.fixture
def flat(tmp_path: Path) -> Path:
    return _write(tmp_path / "flat", [np.full((48, 48, 3), 140, np.uint8) for _ in range(2)])


def _dm(folder: Path, **kw) -> ShortLongDataModule:
    src = ImageFolder(folder)
    kw = {"crop": 24, "margin": 8, "batch_size": 2, "num_workers": 0, "blur_samples": 8, **kw}
    return ShortLongDataModule(source=src, val_source=src, **kw)


def _grad_energy(x: torch.Tensor) -> torch.Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).square().mean((1, 2, 3)) + (
        x[..., 1:] - x[..., :-1]
    ).square().mean((1, 2, 3))


def test_train_batch_keys_shapes(textured: Path) -> None:
    dm = _dm(textured)
    batch = next(iter(dm.train_dataloader()))
    assert batch[K.AMBIENT].shape == (2, 3, 40, 40)  # crop + 2 margin
    out = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    for key in (K.SHORT, K.LONG, K.TARGET, K.AMBIENT):
        assert out[key].shape == (2, 3, 24, 24) and out[key].dtype == torch.float32, key
    for key in (
        K.GAIN,
        K.SATURATION,
        K.EXPOSURE_LONG,
        K.EXPOSURE_SHORT,
        K.SHORT_GAIN,
        K.STD_SHOT,
        K.STD_READ,
    ):
        assert out[key].shape == (2,) and out[key].dtype == torch.float32, key
    assert out[K.COLOR_GAIN].shape == (2, 3) and out[K.COLOR_OFFSET].shape == (2, 3)
    assert out[K.COLOR_MATRIX].shape == (2, 3, 3)
    # paper values: s ~ U(1, 3), t_long in [30, 330] ms, ratio 1/30, a_i < 0.3, b_i < 0.01
    assert bool(((out[K.SATURATION] >= 1) & (out[K.SATURATION] <= 3)).all())
    assert bool(((out[K.EXPOSURE_LONG] >= 0.03) & (out[K.EXPOSURE_LONG] <= 0.33)).all())
    torch.testing.assert_close(out[K.EXPOSURE_SHORT], out[K.EXPOSURE_LONG] / 30)
    assert bool((out[K.COLOR_GAIN] <= 0.3).all() and (out[K.COLOR_OFFSET] <= 0.01).all())
    torch.testing.assert_close(
        out[K.TARGET], (out[K.AMBIENT] * out[K.SATURATION][:, None, None, None]).clamp(0, 1)
    )
    torch.testing.assert_close(out[K.GAIN], torch.ones(2))
    # pure: same generator state -> same output
    again = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    for key in (K.SHORT, K.LONG, K.TARGET):
        torch.testing.assert_close(again[key], out[key], rtol=0, atol=0)


def test_val_is_deterministic(textured: Path) -> None:
    dm = _dm(textured, val_batch_size=2)

    def run() -> list[dict[str, torch.Tensor]]:
        return [dm.on_after_batch_transfer(b, 0) for b in dm.val_dataloader()]

    first, second = run(), run()
    assert sum(len(b[K.INDEX]) for b in first) == 3
    for a, b in zip(first, second, strict=True):
        for key in (K.SHORT, K.LONG, K.TARGET, K.EXPOSURE_LONG):
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    # independent of batching
    dm1 = _dm(textured, val_batch_size=1)
    single = [dm1.on_after_batch_transfer(b, 0) for b in dm1.val_dataloader()]
    torch.testing.assert_close(torch.cat([b[K.LONG] for b in single]), torch.cat([b[K.LONG] for b in first]))


def test_fixed_test_exposures(textured: Path) -> None:
    dm = _dm(textured, test_long_exposures=(0.05, 0.21))
    dm.setup("test")
    assert len(dm.test_set) == 6
    out = [dm.degrade_seeded(b, 0, "test") for b in dm.test_dataloader()]
    times = torch.cat([b[K.EXPOSURE_LONG] for b in out])
    torch.testing.assert_close(times, torch.tensor([0.05, 0.21] * 3))
    torch.testing.assert_close(torch.cat([b[K.EXPOSURE_SHORT] for b in out]), times / 30)


def test_long_is_blurrier_than_target(textured: Path) -> None:
    dm = _dm(
        textured,
        shot_range=(-4.0, -4.0),  # (almost) no noise: compare blur only
        long_exposure_range=(0.3, 0.3),
        angular_std_deg_s=(20.0, 20.0),
    )
    batch = next(iter(dm.train_dataloader()))
    out = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    assert bool((_grad_energy(out[K.LONG]) < 0.7 * _grad_energy(out[K.TARGET])).all())
    # the short exposure stays sharp (a few ms): its gradients are those of the colour-distorted target
    short_sharp = _grad_energy(out[K.SHORT] / out[K.SHORT].mean((1, 2, 3), keepdim=True))
    target_sharp = _grad_energy(out[K.TARGET] / out[K.TARGET].mean((1, 2, 3), keepdim=True))
    assert bool((short_sharp > 0.5 * target_sharp).all())


def test_short_is_noisier_and_brightness_matched(flat: Path) -> None:
    dm = _dm(flat, shot_range=(-2.0, -2.0))
    batch = next(iter(dm.train_dataloader()))
    out = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    short, long = out[K.SHORT], out[K.LONG]
    cv_short = short.std((2, 3)) / short.mean((2, 3))
    cv_long = long.std((2, 3)) / long.mean((2, 3))
    assert bool((cv_short > 2 * cv_long).all())
    torch.testing.assert_close(short.mean((1, 2, 3)), long.mean((1, 2, 3)), rtol=1e-4, atol=1e-5)
    # nominal matching multiplies by 30 / 4
    nominal = _dm(flat, brightness_match="nominal").degrade(batch, torch.Generator().manual_seed(0), "train")
    torch.testing.assert_close(nominal[K.SHORT_GAIN], torch.full((2,), 7.5))


def test_saturation_clips_at_one(flat: Path, tmp_path: Path) -> None:
    bright = _write(tmp_path / "bright", [np.full((48, 48, 3), 230, np.uint8)])
    dm = _dm(bright, saturation_range=(3.0, 3.0), batch_size=1, shot_range=(-2.0, -2.0))
    batch = next(iter(dm.train_dataloader()))
    out = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    assert float(out[K.TARGET].max()) == 1.0 and float(out[K.LONG].max()) == 1.0
    assert float((out[K.LONG] == 1.0).float().mean()) > 0.9
    assert float(out[K.LONG].min()) >= 0.0


def test_exposure_integral_without_motion_is_identity() -> None:
    traj = imaging.GyroTrajectory.from_angular_velocity(torch.zeros(2, 40, 3), 200.0)
    img = torch.rand(2, 3, 10, 12)
    k = imaging.intrinsics_from_fov(10, 12).expand(2, 3, 3)
    z = torch.zeros(2)
    out = exposure_integral(img, traj, z, z + 0.01, z + 0.1, 0.03, k, 5)
    torch.testing.assert_close(out, img, atol=1e-5, rtol=0)


def test_argument_checks(textured: Path) -> None:
    with pytest.raises(ValueError, match="brightness_match"):
        _dm(textured, brightness_match="max")
    with pytest.raises(ValueError, match="exposure_ratio"):
        _dm(textured, exposure_ratio=2.0)
    with pytest.raises(ValueError, match="linearize"):
        _dm(textured, linearize="log")
