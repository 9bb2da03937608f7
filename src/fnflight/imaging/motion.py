"""Short/long exposure synthesis of LSD2 (paper 003 sec. 3.1; NOTES "LSD2").

The pieces, in the paper's order:

- long exposure: :func:`saturate` (multiply by ``s ~ U(1, 3)``, clip at 1; sec. 3.1.1);
- short exposure: :func:`color_distort` (per-channel affine ``a_i I + b_i``, ``a_i < 0.3``, ``b_i < 0.01``;
  sec. 3.1.2) and stronger noise, :func:`short_exposure` / :func:`fnflight.imaging.add_poisson_gaussian_noise`
  (sec. 3.1.5);
- blur: camera-rotation trajectories (:func:`sample_gyro_trajectory`, the paper records real gyroscope
  readings; we synthesise them), per-row rolling-shutter homographies ``H = K R(t) R(t1)^T K^-1`` with
  ``t1(y) = t_f + t_r y / N`` (:func:`rolling_shutter_homographies`, eq. 2) and the spatially varying blur
  (:func:`motion_blur`, sec. 3.1.3), whose PSF origin is the exposure start (sec. 3.1.4: misalignment).

Geometry follows :mod:`fnflight.imaging.homography`: pixel-centre coordinates, ``H`` maps input to output.
"""

from __future__ import annotations

from dataclasses import dataclass

import kornia
import torch
import torch.nn.functional as F
from torch import Tensor

from .homography import intrinsics_from_fov
from .noise import add_poisson_gaussian_noise
from .srgb import _batch_param, _check_bchw, _check_tensor

__all__ = [
    "GyroTrajectory",
    "color_distort",
    "motion_blur",
    "rolling_shutter_homographies",
    "sample_gyro_trajectory",
    "sample_saturation_factor",
    "saturate",
    "short_exposure",
]


@dataclass
class GyroTrajectory:
    """A camera-rotation trajectory sampled like a gyroscope.

    Attributes:
        angular_velocity: ``(B, T, 3)`` body-frame angular velocity (rad/s) about x, y, z, constant on
            ``[k / rate_hz, (k + 1) / rate_hz)``.
        rotations: ``(B, T + 1, 3, 3)`` orientation ``R(t_k)`` at ``t_k = k / rate_hz`` (world -> camera,
            ``R(0) = I``), integrated exactly for the piecewise-constant velocity:
            ``R(t_k + tau) = Exp(-omega_k tau) R(t_k)``. (The paper solves the quaternion ODE; the exponential
            map is the same integration for piecewise-constant readings.)
        rate_hz: sampling rate.
    """

    angular_velocity: Tensor
    rotations: Tensor
    rate_hz: float

    @classmethod
    def from_angular_velocity(cls, angular_velocity: Tensor, rate_hz: float) -> GyroTrajectory:
        """Integrate ``(B, T, 3)`` angular velocities (rad/s) sampled at ``rate_hz``.

        Example:
            >>> traj = GyroTrajectory.from_angular_velocity(torch.zeros(1, 10, 3), 100.0)
            >>> traj.rotations.shape
            torch.Size([1, 11, 3, 3])
        """
        angular_velocity = _check_tensor(angular_velocity, "angular_velocity")
        if angular_velocity.ndim != 3 or angular_velocity.shape[-1] != 3:
            raise ValueError(
                f"angular_velocity must have shape (B, T, 3), got {tuple(angular_velocity.shape)}"
            )
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        b, t, _ = angular_velocity.shape
        steps = _exp_so3(-angular_velocity / rate_hz)  # (B, T, 3, 3)
        rot = torch.eye(3, device=angular_velocity.device, dtype=angular_velocity.dtype).expand(b, 3, 3)
        rots = [rot]
        for k in range(t):
            rot = steps[:, k] @ rot
            rots.append(rot)
        return cls(angular_velocity, torch.stack(rots, 1), float(rate_hz))

    @property
    def duration_s(self) -> float:
        return self.angular_velocity.shape[1] / self.rate_hz

    def rotation_at(self, t: Tensor) -> Tensor:
        """Orientation at times ``t`` of shape ``(B, M)`` (seconds; beyond the ends it extrapolates with the
        first/last velocity) -> ``(B, M, 3, 3)``."""
        t = _check_tensor(t, "t")
        b, n = self.angular_velocity.shape[:2]
        if t.ndim != 2 or t.shape[0] != b:
            raise ValueError(f"t must have shape ({b}, M), got {tuple(t.shape)}")
        t = t.to(self.angular_velocity.dtype)
        k = torch.clamp(torch.floor(t * self.rate_hz).long(), 0, n - 1)
        tau = t - k.to(t.dtype) / self.rate_hz
        idx = torch.arange(b, device=t.device)[:, None]
        omega = self.angular_velocity[idx, k]  # (B, M, 3)
        return _exp_so3(-omega * tau[..., None]) @ self.rotations[idx, k]


def _exp_so3(rotvec: Tensor) -> Tensor:
    """Rodrigues: ``(..., 3)`` rotation vectors -> ``(..., 3, 3)`` (kornia, stable at 0)."""
    shape = rotvec.shape[:-1]
    return kornia.geometry.conversions.axis_angle_to_rotation_matrix(rotvec.reshape(-1, 3)).reshape(
        *shape, 3, 3
    )


def sample_gyro_trajectory(
    batch: int,
    duration_s: float,
    rate_hz: float = 200.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    angular_std_deg_s: tuple[float, float] = (1.0, 10.0),
    correlation_time_s: float = 0.05,
    axis_weights: tuple[float, float, float] = (1.0, 1.0, 0.5),
    dtype: torch.dtype = torch.float32,
) -> GyroTrajectory:
    r"""Random smooth hand-shake rotations (stand-in for LSD2's recorded gyro, paper 003 sec. 3.1.3).

    Model (our choice; the paper uses real gyroscope recordings, not released): per sample a shake strength
    ``sigma`` log-uniform in ``angular_std_deg_s`` (deg/s); each axis' angular velocity is a stationary
    Ornstein-Uhlenbeck process (a first-order low-pass filtered random walk) with std
    ``sigma * axis_weight`` and correlation time ``correlation_time_s``:
    ``omega_{k+1} = a omega_k + sqrt(1 - a^2) sigma eps``, ``a = exp(-dt / tau)``, started from its
    stationary law. Hand tremor has most power below ~10-20 Hz and a few deg/s of angular speed; roll
    (about the optical axis z) is usually weaker, hence ``axis_weights`` ``(1, 1, 0.5)``.

    Args:
        batch: B.
        duration_s: length of the trajectory in seconds (``T = ceil(duration_s * rate_hz)`` readings).
        rate_hz: gyro sampling rate.
        generator: random generator on ``device``.
        device: output device.
        angular_std_deg_s: ``(low, high)`` range of the per-sample angular-velocity std, deg/s.
        correlation_time_s: OU correlation time tau.
        axis_weights: per-axis std multipliers (x, y, z).
        dtype: dtype.

    Returns:
        :class:`GyroTrajectory` with ``(B, T, 3)`` velocities.

    Example:
        >>> traj = sample_gyro_trajectory(2, 0.1, 100.0, torch.Generator().manual_seed(0))
        >>> traj.angular_velocity.shape
        torch.Size([2, 10, 3])
    """
    if batch < 1 or duration_s <= 0 or rate_hz <= 0 or correlation_time_s <= 0:
        raise ValueError(
            "batch must be >= 1 and duration_s, rate_hz, correlation_time_s > 0, got "
            f"{batch}, {duration_s}, {rate_hz}, {correlation_time_s}"
        )
    n = max(1, int(torch.tensor(duration_s * rate_hz).ceil().item()))
    lo, hi = torch.log10(torch.tensor(angular_std_deg_s, dtype=torch.float64)).tolist()
    u = torch.rand((batch,), generator=generator, device=device, dtype=dtype)
    sigma = torch.deg2rad(10.0 ** (lo + (hi - lo) * u))  # rad/s
    std = sigma[:, None] * torch.tensor(axis_weights, device=device, dtype=dtype)  # (B, 3)
    a = float(torch.exp(torch.tensor(-1.0 / (rate_hz * correlation_time_s))))
    eps = torch.randn((batch, n, 3), generator=generator, device=device, dtype=dtype)
    omegas = [eps[:, 0] * std]
    for k in range(1, n):
        omegas.append(a * omegas[-1] + (1.0 - a * a) ** 0.5 * std * eps[:, k])
    return GyroTrajectory.from_angular_velocity(torch.stack(omegas, 1), rate_hz)


def rolling_shutter_homographies(
    trajectory: GyroTrajectory,
    t_frame_start: float | Tensor,
    t_readout: float | Tensor,
    rows: int,
    K: Tensor,
    offsets: Tensor | None = None,
    anchor_offset: float | Tensor = 0.0,
) -> Tensor:
    r"""Per-row homographies ``H_y(tau) = K R(t1(y) + tau) R(t1(y) + anchor)^T K^-1`` (paper 003 eq. 2).

    Row ``y`` starts its exposure at ``t1(y) = t_f + t_r y / N`` (``N = rows``). ``H_y(tau)`` maps where a
    point was at the anchor time to where it is ``tau`` seconds after the row's exposure start. With
    ``anchor_offset = 0`` (the paper's reading, sec. 3.1.4) the PSF origin is the exposure start.

    Args:
        trajectory: :class:`GyroTrajectory` with batch B.
        t_frame_start: float or ``(B,)`` exposure start of row 0, seconds, ``t_f``.
        t_readout: float or ``(B,)`` readout time ``t_r`` (row 0 to row N), seconds; 0 = global shutter.
        rows: number of rows N.
        K: ``(B, 3, 3)`` or ``(3, 3)`` intrinsics.
        offsets: ``(S,)`` times after the row exposure start; default ``[0]``.
        anchor_offset: float or ``(B,)``, time after the row start of the reference pose.

    Returns:
        ``(B, S, N, 3, 3)`` homographies.

    Example:
        >>> traj = GyroTrajectory.from_angular_velocity(torch.zeros(1, 10, 3), 100.0)
        >>> k = intrinsics_from_fov(4, 4)
        >>> h = rolling_shutter_homographies(traj, 0.0, 0.01, 4, k, torch.tensor([0.0, 0.05]))
        >>> h.shape, torch.allclose(h, torch.eye(3).expand_as(h), atol=1e-5)
        (torch.Size([1, 2, 4, 3, 3]), True)
    """
    if not isinstance(trajectory, GyroTrajectory):
        raise TypeError(f"trajectory must be a GyroTrajectory, got {type(trajectory).__name__}")
    ref = trajectory.angular_velocity
    b = ref.shape[0]
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    K = _check_tensor(K, "K").to(ref.dtype)
    if K.ndim == 2:
        K = K[None]
    if K.ndim != 3 or K.shape[-2:] != (3, 3) or K.shape[0] not in (1, b):
        raise ValueError(f"K must have shape (3, 3) or ({b}, 3, 3), got {tuple(K.shape)}")
    if offsets is None:
        offsets = torch.zeros(1, device=ref.device, dtype=ref.dtype)
    offsets = _check_tensor(offsets, "offsets").to(ref.device, ref.dtype)
    if offsets.ndim != 1:
        raise ValueError(f"offsets must have shape (S,), got {tuple(offsets.shape)}")
    t_f = _batch_param(t_frame_start, "t_frame_start", b, ref, ndim=1)
    t_r = _batch_param(t_readout, "t_readout", b, ref, ndim=1)
    anchor = _batch_param(anchor_offset, "anchor_offset", b, ref, ndim=1)
    y = torch.arange(rows, device=ref.device, dtype=ref.dtype)
    t1 = t_f[:, None] + t_r[:, None] * y[None] / rows  # (B, N)
    s = offsets.shape[0]
    times = t1[:, None, :] + offsets[None, :, None]  # (B, S, N)
    r_t = trajectory.rotation_at(times.reshape(b, -1)).reshape(b, s, rows, 3, 3)
    r_anchor = trajectory.rotation_at(t1 + anchor[:, None])  # (B, N, 3, 3)
    k = K.expand(b, 3, 3)[:, None, None]
    return k @ r_t @ r_anchor[:, None].transpose(-1, -2) @ torch.linalg.inv(k)


def motion_blur(
    image: Tensor,
    trajectory: GyroTrajectory,
    exposure: float | Tensor,
    t_frame_start: float | Tensor = 0.0,
    t_readout: float | Tensor = 0.0,
    K: Tensor | None = None,
    fov_deg: float = 90.0,
    samples: int = 16,
    origin: str = "start",
    padding_mode: str = "reflection",
    anchor_offset: float | Tensor | None = None,
) -> Tensor:
    r"""Spatially varying camera-shake blur with rolling shutter (paper 003 sec. 3.1.3-3.1.4).

    ``B(x) = 1/S sum_s I(H_y(tau_s)^-1 x)`` with ``y`` the row of ``x``, ``H_y`` from
    :func:`rolling_shutter_homographies` and ``tau_s = (s + 1/2) exposure / S`` (midpoint rule over the
    exposure). Averaging warped copies is the spatially varying convolution with the per-pixel PSF traced by
    ``H(t) x``. ``origin="start"`` anchors the PSF at the exposure start (the paper's misalignment between the
    short and the following long exposure, sec. 3.1.4); ``origin="middle"`` centres it (no misalignment).
    Differentiable w.r.t. ``image``.

    Args:
        image: ``(B, C, H, W)`` sharp linear image (pose at the anchor time).
        trajectory: :class:`GyroTrajectory` with batch B.
        exposure: float or ``(B,)`` exposure time ``t_e`` in seconds.
        t_frame_start: float or ``(B,)`` exposure start of the first row (random in the paper).
        t_readout: float or ``(B,)`` rolling-shutter readout time, seconds.
        K: ``(B, 3, 3)`` or ``(3, 3)`` intrinsics; default from ``fov_deg`` with the centre principal point.
        fov_deg: horizontal field of view when ``K`` is None.
        samples: S, number of time samples.
        origin: ``"start"`` or ``"middle"``.
        padding_mode: ``grid_sample`` padding outside the image.
        anchor_offset: float or ``(B,)``: the time, relative to each row's exposure start, of the pose
            ``image`` shows; overrides ``origin`` (``origin="start"`` is 0, ``"middle"`` is ``exposure / 2``).
            Negative values anchor at an earlier pose, e.g. LSD2's long exposure anchored at the preceding
            short exposure (:func:`fnflight.data.short_long.exposure_integral`).

    Returns:
        ``(B, C, H, W)`` blurred image.

    Example:
        >>> traj = GyroTrajectory.from_angular_velocity(torch.zeros(1, 20, 3), 100.0)
        >>> img = torch.rand(1, 3, 8, 8)
        >>> torch.allclose(motion_blur(img, traj, 0.1), img, atol=1e-5)
        True
    """
    image = _check_bchw(image, "image")
    if not isinstance(trajectory, GyroTrajectory):
        raise TypeError(f"trajectory must be a GyroTrajectory, got {type(trajectory).__name__}")
    b, c, h, w = image.shape
    if trajectory.angular_velocity.shape[0] != b:
        raise ValueError(
            f"trajectory batch {trajectory.angular_velocity.shape[0]} does not match image batch {b}"
        )
    if origin not in ("start", "middle"):
        raise ValueError(f"origin must be 'start' or 'middle', got {origin!r}")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    traj = GyroTrajectory(
        trajectory.angular_velocity.to(image.device, image.dtype),
        trajectory.rotations.to(image.device, image.dtype),
        trajectory.rate_hz,
    )
    if K is None:
        K = intrinsics_from_fov(h, w, fov_deg, b, image.device, image.dtype)
    t_e = _batch_param(exposure, "exposure", b, image, ndim=1)
    frac = (torch.arange(samples, device=image.device, dtype=image.dtype) + 0.5) / samples
    t_f = _batch_param(t_frame_start, "t_frame_start", b, image, ndim=1)
    t_r = _batch_param(t_readout, "t_readout", b, image, ndim=1)
    K = _check_tensor(K, "K").to(image.device, image.dtype)
    K = K[None] if K.ndim == 2 else K
    if anchor_offset is not None:
        anchors = _batch_param(anchor_offset, "anchor_offset", b, image, ndim=1)
    else:
        anchors = torch.zeros_like(t_e) if origin == "start" else t_e / 2
    # One sample at a time: the exposure (hence the time offsets) differs per sample, and the (S, H, W)
    # sampling grid of one sample is the memory peak anyway.
    outs = []
    for i in range(b):
        sub = GyroTrajectory(traj.angular_velocity[i : i + 1], traj.rotations[i : i + 1], traj.rate_hz)
        anchor = anchors[i]
        k_i = K[i : i + 1] if K.shape[0] == b else K
        hs = rolling_shutter_homographies(sub, t_f[i : i + 1], t_r[i : i + 1], h, k_i, frac * t_e[i], anchor)
        outs.append(_average_row_warps(image[i : i + 1], hs[0], padding_mode))
    return torch.cat(outs, 0)


def _average_row_warps(image: Tensor, hs: Tensor, padding_mode: str) -> Tensor:
    """``image (1, C, H, W)``, per-row homographies ``hs (S, H, 3, 3)`` -> mean_s of ``I(H_y^-1 x)``."""
    _, c, h, w = image.shape
    s = hs.shape[0]
    h_inv = torch.linalg.inv(hs)  # (S, H, 3, 3)
    ys, xs = torch.meshgrid(
        torch.arange(h, device=image.device, dtype=image.dtype),
        torch.arange(w, device=image.device, dtype=image.dtype),
        indexing="ij",
    )
    p = torch.stack([xs, ys, torch.ones_like(xs)], -1)  # (H, W, 3)
    q = torch.einsum("syij,yxj->syxi", h_inv, p)
    src = q[..., :2] / q[..., 2:3]
    grid = torch.stack(
        [2.0 * src[..., 0] / max(w - 1, 1) - 1.0, 2.0 * src[..., 1] / max(h - 1, 1) - 1.0], -1
    )  # (S, H, W, 2)
    warped = F.grid_sample(
        image.expand(s, c, h, w), grid, mode="bilinear", padding_mode=padding_mode, align_corners=True
    )
    return warped.mean(0, keepdim=True)


def sample_saturation_factor(
    batch: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    low: float = 1.0,
    high: float = 3.0,
) -> Tensor:
    r"""LSD2 overexposure factor ``s ~ U(1, 3)`` (paper 003 sec. 3.1.1), shape ``(B,)``.

    Example:
        >>> s = sample_saturation_factor(8, torch.Generator().manual_seed(0))
        >>> bool(((s >= 1) & (s <= 3)).all())
        True
    """
    return low + (high - low) * torch.rand((batch,), generator=generator, device=device)


def saturate(image: Tensor, factor: float | Tensor) -> Tensor:
    r"""Overexpose: ``min(factor * image, 1)`` (paper 003 sec. 3.1.1; the sharp long-exposure target).

    Args:
        image: ``(B, C, H, W)`` linear.
        factor: float or ``(B,)``.

    Returns:
        ``(B, C, H, W)``.

    Example:
        >>> saturate(torch.tensor([[[[0.2, 0.6]]]]), 2.0)
        tensor([[[[0.4000, 1.0000]]]])
    """
    image = _check_bchw(image, "image")
    f = _batch_param(factor, "factor", len(image), image)
    return torch.clamp(image * f, max=1.0)


def _channel_ranges(rng: tuple[float, float] | Tensor, channels: int, name: str, like: Tensor) -> Tensor:
    r = torch.as_tensor(rng, device=like.device, dtype=like.dtype)
    if r.shape == (2,):
        r = r.expand(channels, 2)
    if r.shape != (channels, 2):
        raise ValueError(f"{name} must be (low, high) or have shape ({channels}, 2), got {tuple(r.shape)}")
    return r


def color_distort(
    image: Tensor,
    generator: torch.Generator | None = None,
    a_range: tuple[float, float] | Tensor = (0.1, 0.3),
    b_range: tuple[float, float] | Tensor = (0.0, 0.01),
    return_params: bool = False,
) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    r"""Per-channel affine intensity/colour change ``a_i I + b_i`` (paper 003 sec. 3.1.2).

    This is LSD2's underexposure of the short image (applied to the long image before clipping, intensities
    may exceed 1). The paper samples ``a_i, b_i`` uniformly per channel from per-channel ranges fitted to real
    pairs, only stating ``a_i < 0.3`` and ``b_i < 0.01``; the fitted ranges are not published, so the defaults
    ``a ~ U(0.1, 0.3)``, ``b ~ U(0, 0.01)`` for every channel are our choice. Pass ``(C, 2)`` tensors for
    per-channel ranges.

    Args:
        image: ``(B, C, H, W)`` linear.
        generator: random generator on ``image.device``.
        a_range: ``(low, high)`` or ``(C, 2)`` range of the gains.
        b_range: ``(low, high)`` or ``(C, 2)`` range of the offsets.
        return_params: also return ``a`` and ``b``, each ``(B, C)``.

    Returns:
        ``(B, C, H, W)`` (and ``a``, ``b`` if ``return_params``).

    Example:
        >>> out = color_distort(torch.ones(2, 3, 4, 4), torch.Generator().manual_seed(0))
        >>> bool((out <= 0.31).all() and (out >= 0.1).all())
        True
    """
    image = _check_bchw(image, "image")
    b, c = image.shape[:2]
    ar = _channel_ranges(a_range, c, "a_range", image)
    br = _channel_ranges(b_range, c, "b_range", image)
    ua = torch.rand((b, c), generator=generator, device=image.device, dtype=image.dtype)
    ub = torch.rand((b, c), generator=generator, device=image.device, dtype=image.dtype)
    a = ar[:, 0] + (ar[:, 1] - ar[:, 0]) * ua
    off = br[:, 0] + (br[:, 1] - br[:, 0]) * ub
    out = a[..., None, None] * image + off[..., None, None]
    return (out, a, off) if return_params else out


def short_exposure(
    image: Tensor,
    exposure_ratio: float | Tensor,
    photons_per_unit: float | Tensor,
    read_std: float | Tensor = 0.0,
    gain: float | Tensor = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""A shorter exposure: darker by ``exposure_ratio``, Poisson-Gaussian noise, then a digital gain.

    ``gain * (Poisson(k r x) / k + read_std N)`` with ``r = exposure_ratio`` (e.g. 1/30, paper 003 sec. 3.1.2)
    and ``k = photons_per_unit``: fewer photons, so relatively stronger shot noise (SNR falls by
    ``sqrt(r)``); ``gain = 1 / r`` restores the brightness with the amplified noise (ISO gain). No clipping.

    LSD2's own recipe (paper 003 sec. 3.1.2, 3.1.5) darkens with :func:`color_distort` and makes the short
    image's noise 4x the long one's: ``add_poisson_gaussian_noise(color_distort(I), k / 16)``.

    Args:
        image: ``(B, C, H, W)`` linear scene at the long exposure.
        exposure_ratio: float or ``(B,)`` short/long exposure-time ratio (<= 1 typically).
        photons_per_unit: float or ``(B,)`` photo-electrons per unit intensity at the LONG exposure.
        read_std: float or ``(B,)`` read noise std (in the dark image's units).
        gain: float or ``(B,)`` gain applied after the noise.
        generator: random generator on ``image.device``.

    Returns:
        ``(B, C, H, W)``.

    Example:
        >>> x = torch.full((1, 3, 8, 8), 0.6)
        >>> y = short_exposure(x, 0.1, 1e6, generator=torch.Generator().manual_seed(0))
        >>> abs(y.mean().item() - 0.06) < 1e-3
        True
    """
    image = _check_bchw(image, "image")
    r = _batch_param(exposure_ratio, "exposure_ratio", len(image), image)
    g = _batch_param(gain, "gain", len(image), image)
    return g * add_poisson_gaussian_noise(image * r, photons_per_unit, read_std, generator)
