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
from fnflight.data.short_long import (
    ShortLongDataModule,
    decode,
    encode,
    exposure_integral,
    short_display_gain,
)


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


def _degrade(dm: ShortLongDataModule, seed: int = 0) -> dict[str, torch.Tensor]:
    batch = next(iter(dm.train_dataloader()))
    return dm.degrade(batch, torch.Generator().manual_seed(seed), "train")


def test_train_batch_keys_shapes_paper_defaults(textured: Path) -> None:
    dm = _dm(textured)
    assert (dm.encoding, dm.linearize, dm.brightness_match, dm.clip_short) == (
        "gamma",
        "gamma",
        "none",
        False,
    )
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
        K.ENCODING_GAMMA,
        K.STD_SHOT,
        K.STD_READ,
    ):
        assert out[key].shape == (2,) and out[key].dtype == torch.float32, key
    assert out[K.COLOR_GAIN].shape == (2, 3) and out[K.COLOR_OFFSET].shape == (2, 3)
    assert out[K.COLOR_MATRIX].shape == (2, 3, 3)
    # paper values: s ~ U(1, 3), t_long in [30, 330] ms, ratio 1/30, a_i < 0.3, b_i < 0.01 per channel
    assert bool(((out[K.SATURATION] >= 1) & (out[K.SATURATION] <= 3)).all())
    assert bool(((out[K.EXPOSURE_LONG] >= 0.03) & (out[K.EXPOSURE_LONG] <= 0.33)).all())
    torch.testing.assert_close(out[K.EXPOSURE_SHORT], out[K.EXPOSURE_LONG] / 30)
    assert bool((out[K.COLOR_GAIN] <= 0.3).all() and (out[K.COLOR_OFFSET] <= 0.01).all())
    assert len(set(out[K.COLOR_GAIN][0].tolist())) == 3  # each channel its own draw
    # gamma 2.2 re-applied (sec. 3.1): the target is the encoded min(s I, 1) of the linear clean image
    torch.testing.assert_close(out[K.ENCODING_GAMMA], torch.full((2,), 2.2))
    lin_target = (out[K.AMBIENT] * out[K.SATURATION][:, None, None, None]).clamp(0, 1)
    torch.testing.assert_close(out[K.TARGET], lin_target ** (1 / 2.2))
    # the linear clean image is the photo's display values to the power 2.2 (sec. 3.1)
    display = imaging.srgb_from_linear(batch[K.AMBIENT][..., 8:-8, 8:-8])
    torch.testing.assert_close(out[K.AMBIENT], display**2.2, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out[K.GAIN], torch.ones(2))
    # the short input is dark (as captured); short_gain brightness-matches it in linear space for display
    assert bool((out[K.SHORT].mean((1, 2, 3)) < out[K.LONG].mean((1, 2, 3))).all())
    shown = decode(out[K.SHORT] * out[K.SHORT_GAIN][:, None, None, None], 2.2).mean((1, 2, 3))
    torch.testing.assert_close(shown, decode(out[K.LONG], 2.2).mean((1, 2, 3)), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(out[K.SHORT_GAIN], short_display_gain(out[K.SHORT], out[K.LONG], 2.2))
    # pure: same generator state -> same output
    again = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    for key in (K.SHORT, K.LONG, K.TARGET):
        torch.testing.assert_close(again[key], out[key], rtol=0, atol=0)


def test_noise_does_not_depend_on_the_thread_count(textured: Path) -> None:
    dm = _dm(textured)
    batch = next(iter(dm.train_dataloader()))
    threads = torch.get_num_threads()
    try:
        outs = []
        for n in (1, 2):
            torch.set_num_threads(n)
            outs.append(dm.degrade(batch, torch.Generator().manual_seed(0), "train"))
    finally:
        torch.set_num_threads(threads)
    for key in (K.SHORT, K.LONG):
        torch.testing.assert_close(outs[0][key], outs[1][key], atol=1e-6, rtol=0)


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


def test_long_is_blurrier_than_target_short_is_sharp(textured: Path) -> None:
    kw = {
        "shot_range": (-4.0, -4.0),  # (almost) no noise: compare blur only
        "long_exposure_range": (0.3, 0.3),
        "angular_std_deg_s": (20.0, 20.0),
    }
    out = _degrade(_dm(textured, **kw))
    assert bool((_grad_energy(out[K.LONG]) < 0.7 * _grad_energy(out[K.TARGET])).all())
    # the short exposure is not blurred (sec. 3.1.3): it is the colour-distorted target's pose and sharpness
    short_sharp = _grad_energy(out[K.SHORT] / out[K.SHORT].mean((1, 2, 3), keepdim=True))
    target_sharp = _grad_energy(out[K.TARGET] / out[K.TARGET].mean((1, 2, 3), keepdim=True))
    assert bool((short_sharp > 0.8 * target_sharp).all())
    # short_motion=True (deviation): integrated over its few ms, still nearly sharp, and different
    moving = _degrade(_dm(textured, short_motion=True, **kw))
    assert not torch.allclose(moving[K.SHORT], out[K.SHORT])
    assert bool((_grad_energy(moving[K.LONG]) < 0.7 * _grad_energy(moving[K.TARGET])).all())


def test_short_noise_and_brightness_match_options(flat: Path) -> None:
    dm = _dm(flat, shot_range=(-2.0, -2.0), encoding="linear", linearize="srgb")
    out = _degrade(dm)
    short, long = out[K.SHORT], out[K.LONG]  # linear batches
    torch.testing.assert_close(out[K.ENCODING_GAMMA], torch.ones(2))
    cv_short = short.std((2, 3)) / short.mean((2, 3))
    cv_long = long.std((2, 3)) / long.mean((2, 3))
    assert bool((cv_short > 2 * cv_long).all())  # 4x the noise std at ~1/10 the signal
    # the dark short: a_i s I + b_i, a_i < 0.3
    expected = (
        out[K.COLOR_GAIN] * (out[K.AMBIENT].mean((2, 3)) * out[K.SATURATION][:, None]) + out[K.COLOR_OFFSET]
    )
    torch.testing.assert_close(short.mean((2, 3)), expected, rtol=0.05, atol=1e-3)
    ratio = long.mean((1, 2, 3)) / short.mean((1, 2, 3))
    torch.testing.assert_close(out[K.SHORT_GAIN], ratio)  # linear: the mean ratio itself
    # the previous behaviour stays available: linear batches, the input brightness-matched
    matched = _degrade(_dm(flat, shot_range=(-2.0, -2.0), encoding="linear", brightness_match="mean"))
    torch.testing.assert_close(
        matched[K.SHORT].mean((1, 2, 3)), matched[K.LONG].mean((1, 2, 3)), rtol=1e-4, atol=0
    )
    torch.testing.assert_close(matched[K.SHORT_GAIN], torch.ones(2))
    # nominal matching multiplies the input by 30 / 4; the display gain then matches what is left
    none = _degrade(_dm(flat))
    nominal = _degrade(_dm(flat, brightness_match="nominal"))
    torch.testing.assert_close(
        decode(nominal[K.SHORT], 2.2), 7.5 * decode(none[K.SHORT], 2.2), rtol=1e-4, atol=1e-6
    )
    torch.testing.assert_close(nominal[K.SHORT_GAIN], none[K.SHORT_GAIN] / 7.5 ** (1 / 2.2))


def test_only_long_is_clipped(tmp_path: Path) -> None:
    bright = _write(tmp_path / "bright", [np.full((48, 48, 3), 230, np.uint8)])
    kw = {"saturation_range": (3.0, 3.0), "batch_size": 1, "shot_range": (-2.0, -2.0)}
    out = _degrade(_dm(bright, color_gain_range=(0.5, 0.5), **kw))  # a > 0.3 pushes the short over 1
    assert float(out[K.TARGET].max()) == 1.0 and float(out[K.LONG].max()) == 1.0
    assert float((out[K.LONG] == 1.0).float().mean()) > 0.9
    assert float(out[K.LONG].min()) >= 0.0
    assert float(out[K.SHORT].max()) > 1.0  # sec. 3.1.5: the short one is not clipped
    clipped = _degrade(_dm(bright, color_gain_range=(0.5, 0.5), clip_short=True, **kw))
    assert float(clipped[K.SHORT].max()) == 1.0


def test_non_square_crops(textured: Path) -> None:
    dm = _dm(textured, crop=[16, 24], val_batch_size=3)
    assert dm.crop == (16, 24) and dm.eval_crop == (16, 24)
    batch = next(iter(dm.train_dataloader()))
    assert batch[K.AMBIENT].shape == (2, 3, 32, 40)
    out = dm.degrade(batch, torch.Generator().manual_seed(0), "train")
    for key in (K.SHORT, K.LONG, K.TARGET):
        assert out[key].shape == (2, 3, 16, 24), key
    val = [dm.on_after_batch_transfer(b, 0) for b in dm.val_dataloader()]
    assert val[0][K.LONG].shape == (3, 3, 16, 24)
    dm2 = _dm(textured, crop=20, eval_crop=[12, 20])
    assert next(iter(dm2.val_dataloader()))[K.AMBIENT].shape[-2:] == (28, 36)


def _gyro_csv(path: Path, seconds: float, rate: float = 500.0, deg_s=(0.0, 40.0, 0.0)) -> Path:
    w = np.deg2rad(np.asarray(deg_s))
    lines = ["t,wx,wy,wz"] + [f"{k / rate:.6f},{w[0]},{w[1]},{w[2]}" for k in range(int(seconds * rate) + 1)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_gyro_csv_recording_drives_the_blur(textured: Path, tmp_path: Path) -> None:
    kw = {"shot_range": (-4.0, -4.0), "long_exposure_range": (0.3, 0.3)}
    still = _dm(textured, gyro_csv=_gyro_csv(tmp_path / "still.csv", 2.0, deg_s=(0, 0, 0)), **kw)
    out = _degrade(still)
    # no rotation: the long exposure is the target up to noise (and nothing else is random in it)
    torch.testing.assert_close(decode(out[K.LONG], 2.2), decode(out[K.TARGET], 2.2), atol=1e-3, rtol=0)
    assert still.protocol()["trajectory"] == "gyro_csv"
    moving = _degrade(_dm(textured, gyro_csv=_gyro_csv(tmp_path / "pan.csv", 2.0), **kw))
    assert bool((_grad_energy(moving[K.LONG]) < 0.7 * _grad_energy(moving[K.TARGET])).all())
    with pytest.raises(ValueError, match=r"short\.csv: the gyro recording lasts 0\.200 s"):
        _dm(textured, gyro_csv=_gyro_csv(tmp_path / "short.csv", 0.2))
    with pytest.raises(ValueError, match="does not exist"):
        _dm(textured, gyro_csv=tmp_path / "missing.csv")


def test_encode_decode_round_trip() -> None:
    x = torch.tensor([[-0.2, 0.0, 0.3, 1.4]])
    torch.testing.assert_close(decode(encode(x, 2.2), 2.2), x)
    gam = torch.tensor([2.2, 1.0])
    y = torch.rand(2, 3, 4, 4)
    torch.testing.assert_close(encode(y, gam)[1], y[1])
    torch.testing.assert_close(encode(y, gam)[0], y[0] ** (1 / 2.2))


def test_exposure_integral_without_motion_is_identity() -> None:
    traj = imaging.GyroTrajectory.from_angular_velocity(torch.zeros(2, 40, 3), 200.0)
    img = torch.rand(2, 3, 10, 12)
    k = imaging.intrinsics_from_fov(10, 12).expand(2, 3, 3)
    z = torch.zeros(2)
    out = exposure_integral(img, traj, z, z + 0.01, z + 0.1, 0.03, k, 5)
    torch.testing.assert_close(out, img, atol=1e-5, rtol=0)
    inner = exposure_integral(img, traj, z, z + 0.01, z + 0.1, 0.03, k, 5, margin=2)
    torch.testing.assert_close(inner, img[..., 2:-2, 2:-2], atol=1e-5, rtol=0)


def test_argument_checks(textured: Path) -> None:
    with pytest.raises(ValueError, match="brightness_match"):
        _dm(textured, brightness_match="max")
    with pytest.raises(ValueError, match="exposure_ratio"):
        _dm(textured, exposure_ratio=2.0)
    with pytest.raises(ValueError, match="linearize"):
        _dm(textured, linearize="log")
    with pytest.raises(ValueError, match="encoding"):
        _dm(textured, encoding="srgb")
    with pytest.raises(ValueError, match="real_long"):
        _dm(textured, real_long="blurry")
    with pytest.raises(ValueError, match="crop must be an int or"):
        _dm(textured, crop=[16, 24, 3])
    with pytest.raises(ValueError, match="eval_crop=0"):
        _dm(textured, eval_crop=0)
    with pytest.raises(ValueError, match="mode='real' needs a ShortLongPairs"):
        _dm(textured, mode="real")
