import math

import pytest
import torch
from imaging_helpers import gen

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
from fnflight.imaging.motion import blur_path_length, read_gyro_csv


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


# ---------------------------------------------------------------------------------------------- fast paths
def test_margin_computes_the_inner_region_only():
    traj = sample_gyro_trajectory(2, 0.5, 200.0, gen(3), angular_std_deg_s=(10.0, 20.0))
    img = torch.rand(2, 3, 20, 28, generator=gen())
    k = intrinsics_from_fov(20, 28, 70.0, 2)
    full = motion_blur(img, traj, 0.2, 0.05, 0.03, k, samples=6)
    inner = motion_blur(img, traj, 0.2, 0.05, 0.03, k, samples=6, margin=4, chunk_pixels=100)
    assert inner.shape == (2, 3, 12, 20)
    torch.testing.assert_close(inner, full[..., 4:-4, 4:-4], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="margin"):
        motion_blur(img, traj, 0.2, margin=10)


def test_adaptive_samples_follow_the_psf_length():
    slow = constant_rotation(deg_per_s=(0.0, 1.0, 0.0))
    fast = constant_rotation(deg_per_s=(0.0, 150.0, 0.0))
    k = intrinsics_from_fov(16, 16, 90.0)
    l_slow = blur_path_length(slow, 0.1, 0.0, 0.0, k, 16, 16)
    l_fast = blur_path_length(fast, 0.1, 0.0, 0.0, k, 16, 16)
    # pan at the centre: f * angle; the corners move more (perspective)
    assert 8 * torch.deg2rad(torch.tensor(15.0)) < l_fast < 3 * 8 * torch.deg2rad(torch.tensor(15.0))
    assert 150 <= float(l_fast / l_slow) < 250  # 150x the speed; more at 15 deg where tan bends
    img = torch.rand(1, 3, 16, 16, generator=gen())
    for traj in (slow, fast):
        length = float(blur_path_length(traj, 0.1, 0.0, 0.0, k, 16, 16)[0])
        n = max(2, min(64, math.ceil(length / 0.5)))
        adaptive = motion_blur(img, traj, 0.1, K=k, samples=64, spacing_px=0.5)
        torch.testing.assert_close(adaptive, motion_blur(img, traj, 0.1, K=k, samples=n), atol=1e-6, rtol=0)


def _write_csv(path, rows, header="t,wx,wy,wz"):
    path.write_text("\n".join([header, *(",".join(str(v) for v in r) for r in rows)]) + "\n")
    return path


def test_gyro_csv_resampling(tmp_path):
    # 1 kHz readings of a linear ramp about y, resampled to 200 Hz: the mean over each 5 ms interval
    t = [k / 1000 for k in range(201)]
    rows = [(tk, 0.0, 2.0 * tk, 0.5) for tk in t]
    traj = GyroTrajectory.from_csv(_write_csv(tmp_path / "ramp.csv", rows), rate_hz=200.0)
    assert traj.angular_velocity.shape == (1, 40, 3) and traj.rate_hz == 200.0
    mids = (torch.arange(40, dtype=torch.float64) + 0.5) / 200
    torch.testing.assert_close(traj.angular_velocity[0, :, 1].double(), 2.0 * mids, atol=1e-6, rtol=0)
    torch.testing.assert_close(traj.angular_velocity[0, :, 2], torch.full((40,), 0.5))
    # upsampling an irregular 50 Hz log keeps a constant rate and any time origin
    irregular = [(100.0 + s, 0.1, 0.0, 0.0) for s in (0.0, 0.02, 0.045, 0.06, 0.1)]
    up = GyroTrajectory.from_csv(_write_csv(tmp_path / "irr.csv", irregular), rate_hz=400.0)
    assert up.angular_velocity.shape == (1, 40, 3)
    torch.testing.assert_close(up.angular_velocity[0, :, 0], torch.full((40,), 0.1))
    times, rates = read_gyro_csv(tmp_path / "irr.csv")
    assert times.shape == (5,) and rates.shape == (5, 3)
    # windows of a recording drive a batch of trajectories
    w = traj.windows(torch.tensor([0, 10]), 5)
    assert w.angular_velocity.shape == (2, 5, 3)
    torch.testing.assert_close(w.angular_velocity[1], traj.angular_velocity[0, 10:15])
    assert torch.allclose(w.rotations[:, 0], torch.eye(3).expand(2, 3, 3))
    with pytest.raises(ValueError, match="starts must be in"):
        traj.windows(torch.tensor([38]), 5)


def test_gyro_csv_errors(tmp_path):
    good = [(0.0, 0, 0, 0), (0.01, 0, 0, 0), (0.02, 0, 0, 0)]
    with pytest.raises(ValueError, match=r"missing\.csv does not exist"):
        GyroTrajectory.from_csv(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("# nothing\n\n")
    with pytest.raises(ValueError, match=r"empty\.csv is empty"):
        GyroTrajectory.from_csv(tmp_path / "empty.csv")
    with pytest.raises(ValueError, match="has no header line"):
        GyroTrajectory.from_csv(_write_csv(tmp_path / "nohead.csv", good, header="0.0,0,0,0"))
    with pytest.raises(ValueError, match=r"line 1: header 'time,wx,wy' is not a header"):
        GyroTrajectory.from_csv(_write_csv(tmp_path / "cols.csv", good, header="time,wx,wy"))
    with pytest.raises(ValueError, match=r"header 'frame,wx,wy,wz' is not"):
        GyroTrajectory.from_csv(_write_csv(tmp_path / "name.csv", good, header="frame,wx,wy,wz"))
    with pytest.raises(ValueError, match=r"line 3: expected 4 columns"):
        GyroTrajectory.from_csv(_write_csv(tmp_path / "short_row.csv", [good[0], (0.01, 0, 0)]))
    with pytest.raises(ValueError, match=r"line 2: not a number"):
        GyroTrajectory.from_csv(_write_csv(tmp_path / "nan.csv", [(0.0, "x", 0, 0), *good[1:]]))
    with pytest.raises(ValueError, match=r"line 4: timestamps must increase strictly, got 0.01 then 0.01"):
        GyroTrajectory.from_csv(_write_csv(tmp_path / "dup.csv", [*good[:2], (0.01, 0, 0, 0)]))
    with pytest.raises(ValueError, match="at least 2 are needed"):
        GyroTrajectory.from_csv(_write_csv(tmp_path / "one.csv", good[:1]))
    with pytest.raises(ValueError, match=r"lasts 0\.020 s, shorter than the 0\.500 s"):
        GyroTrajectory.from_csv(_write_csv(tmp_path / "ok.csv", good), min_duration_s=0.5)
    with pytest.raises(ValueError, match="shorter than one"):
        GyroTrajectory.from_csv(tmp_path / "ok.csv", rate_hz=10.0)
