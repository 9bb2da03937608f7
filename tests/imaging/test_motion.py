import pytest
import torch

from fnflight.imaging import (
    GyroTrajectory,
    color_distort,
    intrinsics_from_fov,
    motion_blur,
    rolling_shutter_homographies,
    sample_gyro_trajectory,
    saturate,
    short_exposure,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def constant_rotation(batch=1, deg_per_s=(0.0, 150.0, 0.0), n=40, rate=100.0):
    w = torch.deg2rad(torch.tensor(deg_per_s)).expand(batch, n, 3).contiguous()
    return GyroTrajectory.from_angular_velocity(w, rate)


def test_zero_trajectory_gives_no_blur():
    traj = GyroTrajectory.from_angular_velocity(torch.zeros(2, 30, 3), 100.0)
    img = torch.rand(2, 3, 10, 12, generator=gen())
    out = motion_blur(img, traj, 0.2, t_frame_start=0.01, t_readout=0.03, samples=4)
    assert torch.allclose(out, img, atol=1e-5)


def test_blur_blurs_and_preserves_mean():
    traj = constant_rotation()
    img = torch.rand(1, 3, 16, 16, generator=gen())
    out = motion_blur(img, traj, 0.1, samples=12, padding_mode="reflection")
    assert out.shape == img.shape
    assert (out - img).abs().mean() > 0.02  # it did blur
    assert out.var() < img.var()
    assert out.mean().item() == pytest.approx(img.mean().item(), abs=0.02)
    flat = torch.full((1, 3, 8, 8), 0.3)
    assert torch.allclose(motion_blur(flat, traj, 0.1, samples=4), flat, atol=1e-5)


def test_blur_origin_start_vs_middle():
    traj = constant_rotation()
    img = torch.zeros(1, 1, 15, 31)
    img[0, 0, 7, 15] = 1.0
    start = motion_blur(img, traj, 0.1, samples=8, origin="start", padding_mode="zeros")
    middle = motion_blur(img, traj, 0.1, samples=8, origin="middle", padding_mode="zeros")
    cols = torch.arange(31.0)

    def centroid(x):
        p = x[0, 0].sum(0)
        return (p * cols).sum() / p.sum()

    assert abs(centroid(middle) - 15) < 0.3  # centred PSF
    assert abs(centroid(start) - 15) > 1.0  # PSF starts at the dot: misalignment


def test_rolling_shutter_rows_differ():
    traj = constant_rotation(deg_per_s=(10.0, 20.0, 5.0))
    k = intrinsics_from_fov(8, 8)
    hs = rolling_shutter_homographies(traj, 0.0, 0.05, 8, k, torch.tensor([0.0, 0.02]))
    assert hs.shape == (1, 2, 8, 3, 3)
    assert torch.allclose(hs[:, 0], torch.eye(3).expand(1, 8, 3, 3), atol=1e-5)  # origin at row start
    # anchored at each row's start, the first offset is the identity for every row
    hs_f = rolling_shutter_homographies(traj, 0.0, 0.05, 8, k, torch.tensor([0.0]), anchor_offset=0.0)
    assert torch.allclose(hs_f[0, 0, 0], torch.eye(3), atol=1e-5)
    # a varying trajectory: rows see different homographies over the same exposure offset
    traj2 = sample_gyro_trajectory(1, 0.4, 200.0, gen(1), angular_std_deg_s=(20.0, 20.0))
    h2 = rolling_shutter_homographies(traj2, 0.05, 0.1, 8, k, torch.tensor([0.05]))
    assert not torch.allclose(h2[0, 0, 0], h2[0, 0, -1], atol=1e-4)
    # and no readout time: all rows equal
    h3 = rolling_shutter_homographies(traj2, 0.05, 0.0, 8, k, torch.tensor([0.05]))
    assert torch.allclose(h3[0, 0, 0], h3[0, 0, -1])


def test_gyro_trajectory_determinism_and_magnitude():
    a = sample_gyro_trajectory(3, 0.5, 200.0, gen(2))
    b = sample_gyro_trajectory(3, 0.5, 200.0, gen(2))
    assert a.angular_velocity.equal(b.angular_velocity)
    assert a.angular_velocity.shape == (3, 100, 3)
    assert torch.rad2deg(a.angular_velocity).abs().max() < 60  # hand-shake scale
    r = a.rotations
    assert torch.allclose(r @ r.transpose(-1, -2), torch.eye(3).expand_as(r), atol=1e-5)


def test_saturate_and_color_distort():
    x = torch.tensor([0.2, 0.6]).reshape(1, 1, 1, 2)
    assert torch.allclose(saturate(x, torch.tensor([2.0])), torch.tensor([0.4, 1.0]).reshape(1, 1, 1, 2))
    img = torch.rand(4, 3, 5, 5, generator=gen())
    out, a, b = color_distort(img, gen(1), return_params=True)
    assert a.shape == b.shape == (4, 3)
    assert (a < 0.3).all() and (b < 0.01).all() and (a >= 0.1).all() and (b >= 0).all()
    assert torch.allclose(out, a[..., None, None] * img + b[..., None, None])
    assert out.equal(color_distort(img, gen(1)))


def test_short_exposure_darker_and_noisier():
    x = torch.full((1, 3, 48, 48), 0.5)
    long = short_exposure(x, 1.0, 1000.0, generator=gen())
    short = short_exposure(x, 1 / 30, 1000.0, gain=30.0, generator=gen())
    assert short.mean().item() == pytest.approx(0.5, abs=0.02)
    assert short.std() > 3 * long.std()
    dark = short_exposure(x, 1 / 30, 1000.0, generator=gen())
    assert dark.mean().item() == pytest.approx(0.5 / 30, rel=0.05)
