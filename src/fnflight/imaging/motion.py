"""Short/long exposure synthesis of LSD2 (paper 003 sec. 3.1; NOTES "LSD2").

The pieces, in the paper's order:

- long exposure: :func:`saturate` (multiply by ``s ~ U(1, 3)``, clip at 1; sec. 3.1.1);
- short exposure: :func:`color_distort` (per-channel affine ``a_i I + b_i``, ``a_i < 0.3``, ``b_i < 0.01``;
  sec. 3.1.2) and stronger noise, :func:`short_exposure` / :func:`fnflight.imaging.add_poisson_gaussian_noise`
  (sec. 3.1.5);
- blur: camera-rotation trajectories (the paper replays recorded gyroscope readings: read a recording with
  :meth:`GyroTrajectory.from_csv` and cut windows with :meth:`GyroTrajectory.windows`; without one,
  :func:`sample_gyro_trajectory` synthesises hand shake), per-row rolling-shutter homographies
  ``H = K R(t) R(t1)^T K^-1`` with ``t1(y) = t_f + t_r y / N`` (:func:`rolling_shutter_homographies`,
  eq. 2) and the spatially varying blur (:func:`motion_blur`, sec. 3.1.3), whose PSF origin is the exposure
  start (sec. 3.1.4: misalignment).

Geometry follows :mod:`fnflight.imaging.homography`: pixel-centre coordinates, ``H`` maps input to output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import kornia
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .homography import intrinsics_from_fov
from .noise import add_poisson_gaussian_noise
from .srgb import _batch_param, _check_bchw, _check_tensor

__all__ = [
    "GyroTrajectory",
    "blur_path_length",
    "color_distort",
    "motion_blur",
    "read_gyro_csv",
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

    @classmethod
    def from_csv(
        cls, path: str | Path, rate_hz: float = 200.0, min_duration_s: float | None = None
    ) -> GyroTrajectory:
        r"""A recorded gyroscope log (paper 003 sec. 3.1.3: "a long sequence of gyroscope readings"), batch 1.

        The file is a CSV text file: a header line, then one reading per line (``#`` comment lines and blank
        lines are skipped)::

            t,wx,wy,wz
            0.000,0.0123,-0.0040,0.0011
            0.005,0.0131,-0.0052,0.0009

        column 1 the timestamp in seconds (strictly increasing; any origin), columns 2-4 the angular rates in
        rad/s about the CAMERA axes x (image right), y (image down), z (optical axis) -- rotate a phone's
        sensor axes into that frame first. The header's first name must be a time (``t``, ``time``,
        ``time_s``, ``timestamp``, ``seconds``); the three rate names are free. The readings are resampled to
        ``rate_hz`` without aliasing: the rates are taken as piecewise linear between readings and each
        output value is their exact mean over its ``1 / rate_hz`` interval (an up- or down-sampling).

        Args:
            path: the CSV file.
            rate_hz: the trajectory's sampling rate after resampling.
            min_duration_s: raise if the recording is shorter (e.g. the longest exposure it must cover).

        Returns:
            :class:`GyroTrajectory` with ``(1, T, 3)`` velocities, ``T = floor(duration * rate_hz)``.

        Raises:
            ValueError: naming the file (and line) for a missing file, a bad header or column count, a value
                that is not a number, non-increasing timestamps, or a recording too short.

        Example:
            >>> import tempfile, os
            >>> rows = "\n".join(f"{k / 100:.2f},0.1,0,0" for k in range(11))
            >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            ...     _ = f.write("t,wx,wy,wz\n" + rows + "\n")
            >>> traj = GyroTrajectory.from_csv(f.name, rate_hz=50.0)
            >>> traj.angular_velocity.shape, round(float(traj.angular_velocity[0, 0, 0]), 4)
            (torch.Size([1, 5, 3]), 0.1)
            >>> os.unlink(f.name)
        """
        times, rates = read_gyro_csv(path)
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        duration = float(times[-1] - times[0])
        if min_duration_s is not None and duration < min_duration_s:
            raise ValueError(
                f"{path}: the gyro recording lasts {duration:.3f} s, shorter than the {min_duration_s:.3f} s "
                "one exposure window needs (longest exposure + readout + start slack)"
            )
        n = int(np.floor(duration * rate_hz + 1e-9))
        if n < 1:
            raise ValueError(
                f"{path}: the gyro recording lasts {duration:.4f} s, shorter than one {1 / rate_hz:.4f} s "
                f"interval at rate_hz={rate_hz}"
            )
        # exact integral of the piecewise-linear rates at the readings (trapezoids), then at the grid
        dt = np.diff(times)
        angle = np.concatenate([np.zeros((1, 3)), np.cumsum((rates[1:] + rates[:-1]) / 2 * dt[:, None], 0)])
        grid = times[0] + np.arange(n + 1) / rate_hz
        seg = np.clip(np.searchsorted(times, grid, side="right") - 1, 0, len(times) - 2)
        u = grid - times[seg]
        slope = (rates[seg + 1] - rates[seg]) / dt[seg, None]
        at = angle[seg] + rates[seg] * u[:, None] + slope * (u * u / 2)[:, None]
        mean_rate = np.diff(at, axis=0) * rate_hz  # (n, 3)
        return cls.from_angular_velocity(torch.from_numpy(mean_rate.astype(np.float32))[None], rate_hz)

    def windows(self, starts: Tensor, length: int) -> GyroTrajectory:
        """Windows of ``length`` readings starting at reading ``starts`` ``(B,)`` of a batch-1 trajectory (a
        long recording), each re-integrated from ``R = I`` -> a :class:`GyroTrajectory` of batch B.

        Example:
            >>> rec = GyroTrajectory.from_angular_velocity(torch.arange(30.0).reshape(1, 10, 3), 100.0)
            >>> w = rec.windows(torch.tensor([0, 4]), 3)
            >>> w.angular_velocity.shape, w.angular_velocity[1, 0].tolist()
            (torch.Size([2, 3, 3]), [12.0, 13.0, 14.0])
        """
        starts = _check_tensor(starts, "starts")
        total = self.angular_velocity.shape[1]
        if self.angular_velocity.shape[0] != 1:
            raise ValueError(
                f"windows needs a batch-1 trajectory, got batch {self.angular_velocity.shape[0]}"
            )
        if length < 1 or length > total:
            raise ValueError(f"length must be in [1, {total}] (the recording's readings), got {length}")
        starts = starts.to(self.angular_velocity.device).long().reshape(-1)
        if bool((starts < 0).any()) or bool((starts + length > total).any()):
            raise ValueError(f"starts must be in [0, {total - length}] for windows of {length}, got {starts}")
        idx = starts[:, None] + torch.arange(length, device=starts.device)[None]
        return GyroTrajectory.from_angular_velocity(self.angular_velocity[0][idx], self.rate_hz)

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


_TIME_NAMES = ("t", "time", "time_s", "t_s", "timestamp", "timestamp_s", "seconds")


def read_gyro_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    r"""Timestamps ``(M,)`` (s) and angular rates ``(M, 3)`` (rad/s) of a gyro CSV file, checked (format:
    :meth:`GyroTrajectory.from_csv`). Errors are ``ValueError`` naming the file and the line.

    Example:
        >>> import tempfile, os
        >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        ...     _ = f.write("# phone log\ntime,gx,gy,gz\n0.0,1,2,3\n0.01,1,2,3\n")
        >>> t, w = read_gyro_csv(f.name)
        >>> t.tolist(), w.shape
        ([0.0, 0.01], (2, 3))
        >>> os.unlink(f.name)
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"gyro CSV {path} does not exist (expected a file of 't,wx,wy,wz' lines)")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"gyro CSV {path}: cannot read it as text ({type(err).__name__}: {err})") from None
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line and not line.startswith("#")]
    if not lines:
        raise ValueError(f"gyro CSV {path} is empty (expected a header 't,wx,wy,wz' and readings)")
    number, header = lines[0]
    names = [c.strip().lower() for c in header.split(",")]
    expected = "a header 't,wx,wy,wz' (time in s, then 3 angular rates in rad/s)"
    if len(names) != 4 or names[0] not in _TIME_NAMES:
        try:
            [float(c) for c in names]
            problem = "has no header line"
        except ValueError:
            problem = f"line {number}: header {header!r} is not"
        raise ValueError(f"gyro CSV {path} {problem} {expected}; time names: {', '.join(_TIME_NAMES)}")
    values = []
    for number, line in lines[1:]:
        cells = line.split(",")
        if len(cells) != 4:
            raise ValueError(
                f"gyro CSV {path}, line {number}: expected 4 columns (t,wx,wy,wz), got {len(cells)}"
            )
        try:
            values.append([float(c) for c in cells])
        except ValueError:
            raise ValueError(f"gyro CSV {path}, line {number}: not a number in {line!r}") from None
    if len(values) < 2:
        raise ValueError(f"gyro CSV {path} has {len(values)} reading(s); at least 2 are needed")
    data = np.asarray(values, dtype=np.float64)
    if not np.isfinite(data).all():
        bad = lines[1 + int(np.nonzero(~np.isfinite(data).all(1))[0][0])][0]
        raise ValueError(f"gyro CSV {path}, line {bad}: non-finite value")
    steps = np.diff(data[:, 0])
    if (steps <= 0).any():
        k = int(np.nonzero(steps <= 0)[0][0])
        raise ValueError(
            f"gyro CSV {path}, line {lines[k + 2][0]}: timestamps must increase strictly, got "
            f"{float(data[k, 0])!r} then {float(data[k + 1, 0])!r}"
        )
    return data[:, 0], data[:, 1:]


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

    What it models: the angular velocity of a hand-held camera (tremor and slow drift), rotation only
    (the paper's assumption, sec. 3.1.3). The paper replays real gyroscope recordings, which are not
    released; with a recording of your own pass it instead: :meth:`GyroTrajectory.from_csv` and
    :meth:`GyroTrajectory.windows` (``ShortLongDataModule(gyro_csv=PATH)``).

    Model (our choice): per sample a shake strength
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


def _row_times(t_f: Tensor, t_r: Tensor, rows: Tensor, height: int) -> Tensor:
    """``t1(y) = t_f + t_r y / N`` (eq. 2) for rows ``y`` of an ``N = height`` row frame: ``(B, rows)``."""
    return t_f[:, None] + t_r[:, None] * rows[None] / height


def _normalised_inverse(K: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
    """``(Nrm K, K^-1)``: ``Nrm`` maps pixel-centre coordinates to ``grid_sample``'s ``[-1, 1]``
    (``align_corners=True``), so ``Nrm K R_a R_t^T K^-1`` takes an output pixel to its normalised source."""
    nrm = torch.zeros(3, 3, device=K.device, dtype=K.dtype)
    nrm[0, 0], nrm[1, 1] = 2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)
    nrm[0, 2] = nrm[1, 2] = -1.0
    nrm[2, 2] = 1.0
    return nrm @ K, torch.linalg.inv(K)


def blur_path_length(
    trajectory: GyroTrajectory,
    exposure: float | Tensor,
    t_frame_start: float | Tensor,
    t_readout: float | Tensor,
    K: Tensor,
    height: int,
    width: int,
    anchor_offset: float | Tensor = 0.0,
    margin: int = 0,
    steps: int = 32,
) -> Tensor:
    r"""Longest path (pixels) that a pixel's blur samples travel during the exposure, per image.

    For 9 probe pixels ``x`` (corners, edge midpoints and centre of the output region, i.e. without
    ``margin``) the source positions ``H_y(tau)^-1 x`` (:func:`rolling_shutter_homographies`) are traced at
    ``steps + 1`` times over ``[0, exposure]``; the length of that polyline, maximised over the probes, is the
    extent of the PSF :func:`motion_blur` integrates (camera rotation moves the corners most under roll, the
    whole frame alike under pan / tilt). :func:`motion_blur` uses it to choose the number of time samples.

    Args:
        trajectory: :class:`GyroTrajectory` with batch B.
        exposure: float or ``(B,)`` exposure time (s).
        t_frame_start: float or ``(B,)`` exposure start of row 0 (s).
        t_readout: float or ``(B,)`` readout time (s).
        K: ``(B, 3, 3)`` or ``(3, 3)`` intrinsics.
        height, width: the frame size ``N`` rows x ``W`` columns.
        anchor_offset: float or ``(B,)``: the pose the image shows, relative to each row's exposure start.
        margin: pixels left out on every side of the probed region.
        steps: time steps of the polyline.

    Returns:
        ``(B,)`` path lengths in pixels.

    Example:
        >>> w = torch.deg2rad(torch.tensor([0.0, 10.0, 0.0])).expand(1, 40, 3)
        >>> traj = GyroTrajectory.from_angular_velocity(w, 200.0)
        >>> k = intrinsics_from_fov(64, 64, 90.0)  # f = 32 px, a 1 deg pan: 0.56 px at the centre,
        >>> round(float(blur_path_length(traj, 0.1, 0.0, 0.0, k, 64, 64)[0]), 2)  # more at the corners
        1.25
    """
    if not isinstance(trajectory, GyroTrajectory):
        raise TypeError(f"trajectory must be a GyroTrajectory, got {type(trajectory).__name__}")
    ref = trajectory.angular_velocity
    b = ref.shape[0]
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    K = _check_tensor(K, "K").to(ref.device, ref.dtype)
    K = (K[None] if K.ndim == 2 else K).expand(b, 3, 3)
    t_e = _batch_param(exposure, "exposure", b, ref, ndim=1)
    t_f = _batch_param(t_frame_start, "t_frame_start", b, ref, ndim=1)
    t_r = _batch_param(t_readout, "t_readout", b, ref, ndim=1)
    anchor = _batch_param(anchor_offset, "anchor_offset", b, ref, ndim=1)
    xs = torch.tensor([margin, (width - 1) / 2.0, width - 1 - margin], device=ref.device, dtype=ref.dtype)
    ys = torch.tensor([margin, (height - 1) / 2.0, height - 1 - margin], device=ref.device, dtype=ref.dtype)
    px, py = xs.repeat(3), ys.repeat_interleave(3)  # (9,)
    t1 = _row_times(t_f, t_r, py, height)  # (B, 9)
    frac = torch.linspace(0.0, 1.0, steps + 1, device=ref.device, dtype=ref.dtype)
    times = t1[:, None, :] + (frac[None, :, None] * t_e[:, None, None])  # (B, steps + 1, 9)
    r_t = trajectory.rotation_at(times.reshape(b, -1)).reshape(b, steps + 1, 9, 3, 3)
    r_a = trajectory.rotation_at(t1 + anchor[:, None])  # (B, 9, 3, 3)
    h_inv = K[:, None, None] @ r_a[:, None] @ r_t.transpose(-1, -2) @ torch.linalg.inv(K)[:, None, None]
    p = torch.stack([px, py, torch.ones_like(px)], -1)  # (9, 3)
    q = (h_inv @ p[None, None, :, :, None])[..., 0]  # (B, steps + 1, 9, 3)
    src = q[..., :2] / q[..., 2:]
    return (src[:, 1:] - src[:, :-1]).norm(dim=-1).sum(1).amax(-1)


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
    margin: int = 0,
    spacing_px: float | None = None,
    min_samples: int = 2,
    chunk_pixels: int = 2**20,
) -> Tensor:
    r"""Spatially varying camera-shake blur with rolling shutter (paper 003 sec. 3.1.3-3.1.4).

    ``B(x) = 1/S sum_s I(H_y(tau_s)^-1 x)`` with ``y`` the row of ``x``, ``H_y`` from
    :func:`rolling_shutter_homographies` and ``tau_s = (s + 1/2) exposure / S`` (midpoint rule over the
    exposure). Averaging warped copies is the spatially varying convolution with the per-pixel PSF traced by
    ``H(t) x``. ``origin="start"`` anchors the PSF at the exposure start (the paper's misalignment between the
    short and the following long exposure, sec. 3.1.4); ``origin="middle"`` centres it (no misalignment).
    Differentiable w.r.t. ``image``.

    Time samples: ``S = samples`` for every image, or with ``spacing_px`` per image
    ``S_i = clamp(ceil(L_i / spacing_px), min_samples, samples)`` where ``L_i`` is the PSF's path length
    (:func:`blur_path_length`): consecutive samples then lie at most ``spacing_px`` apart along the PSF
    (``samples`` caps the count), so a short blur needs few warps and a long one gets enough.

    Computation (batched, any device): per image, its time samples are the batch of one ``grid_sample``
    call on the image expanded without a copy (in chunks of about ``chunk_pixels`` output pixels, which
    keeps the grid in cache on a CPU, where ``grid_sample`` parallelises over that batch); the inverse
    homographies are formed directly as ``K R(t_a) R(t)^T K^-1`` (rotations are orthonormal) and the grid
    as ``q = m_0 x + (m_1 y + m_2)``, affine along a row before the perspective division.

    Args:
        image: ``(B, C, H, W)`` sharp linear image (pose at the anchor time).
        trajectory: :class:`GyroTrajectory` with batch B.
        exposure: float or ``(B,)`` exposure time ``t_e`` in seconds.
        t_frame_start: float or ``(B,)`` exposure start of the first row (random in the paper).
        t_readout: float or ``(B,)`` rolling-shutter readout time, seconds.
        K: ``(B, 3, 3)`` or ``(3, 3)`` intrinsics; default from ``fov_deg`` with the centre principal point.
        fov_deg: horizontal field of view when ``K`` is None.
        samples: S, the number of time samples (with ``spacing_px``: the most per image).
        origin: ``"start"`` or ``"middle"``.
        padding_mode: ``grid_sample`` padding outside the image.
        anchor_offset: float or ``(B,)``: the time, relative to each row's exposure start, of the pose
            ``image`` shows; overrides ``origin`` (``origin="start"`` is 0, ``"middle"`` is ``exposure / 2``).
            Negative values anchor at an earlier pose, e.g. LSD2's long exposure anchored at the preceding
            short exposure (:func:`fnflight.data.short_long.exposure_integral`).
        margin: pixels dropped on every side of the output: only the inner ``(H - 2 margin, W - 2 margin)``
            region is computed (its samples may come from the margin); rows keep their frame timing.
        spacing_px: adaptive time sampling (above); None = ``samples`` for every image.
        min_samples: the fewest samples per image with ``spacing_px``.
        chunk_pixels: memory bound: warps are computed in chunks of about this many output pixels.

    Returns:
        ``(B, C, H - 2 margin, W - 2 margin)`` blurred image.

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
    if samples < 1 or min_samples < 1:
        raise ValueError(f"samples and min_samples must be >= 1, got {samples}, {min_samples}")
    if spacing_px is not None and not spacing_px > 0:
        raise ValueError(f"spacing_px must be > 0 or None, got {spacing_px}")
    margin = int(margin)
    if margin < 0 or 2 * margin >= h or 2 * margin >= w:
        raise ValueError(f"margin must be >= 0 and leave pixels of the {h}x{w} image, got {margin}")
    dev, dt = image.device, image.dtype
    traj = GyroTrajectory(
        trajectory.angular_velocity.to(dev, dt), trajectory.rotations.to(dev, dt), trajectory.rate_hz
    )
    if K is None:
        K = intrinsics_from_fov(h, w, fov_deg, b, dev, dt)
    K = _check_tensor(K, "K").to(dev, dt)
    K = K[None] if K.ndim == 2 else K
    if K.ndim != 3 or K.shape[-2:] != (3, 3) or K.shape[0] not in (1, b):
        raise ValueError(f"K must have shape (3, 3) or ({b}, 3, 3), got {tuple(K.shape)}")
    K = K.expand(b, 3, 3)
    t_e = _batch_param(exposure, "exposure", b, image, ndim=1)
    t_f = _batch_param(t_frame_start, "t_frame_start", b, image, ndim=1)
    t_r = _batch_param(t_readout, "t_readout", b, image, ndim=1)
    if anchor_offset is not None:
        anchors = _batch_param(anchor_offset, "anchor_offset", b, image, ndim=1)
    else:
        anchors = torch.zeros_like(t_e) if origin == "start" else t_e / 2
    if spacing_px is None:
        counts = [int(samples)] * b
    else:
        length = blur_path_length(traj, t_e, t_f, t_r, K, h, w, anchors, margin)
        per = torch.ceil(length / spacing_px).clamp(min(min_samples, samples), samples)
        counts = [int(v) for v in per.tolist()]  # one host sync per batch: the warp count sets the shapes

    ho, wo = h - 2 * margin, w - 2 * margin
    ys = torch.arange(margin, h - margin, device=dev, dtype=dt)
    xs = torch.arange(margin, w - margin, device=dev, dtype=dt)
    t1 = _row_times(t_f, t_r, ys, h)  # (B, ho)
    r_anchor = traj.rotation_at(t1 + anchors[:, None])  # (B, ho, 3, 3)
    left, k_inv = _normalised_inverse(K, h, w)  # (B, 3, 3) each
    left = left[:, None] @ r_anchor  # (B, ho, 3, 3): Nrm K R(t_a)
    k_inv = k_inv[:, None]
    one = [
        GyroTrajectory(traj.angular_velocity[i : i + 1], traj.rotations[i : i + 1], traj.rate_hz)
        for i in range(b)
    ]
    parts = []
    for i, n_i in enumerate(counts):
        # the warps of image i in chunks of ~1 M output pixels (keeps the grid in cache: measured fastest
        # on CPU)
        step = max(1, int(chunk_pixels) // (ho * wo))
        total = None
        for lo in range(0, n_i, step):
            n = min(step, n_i - lo)
            frac = (torch.arange(lo, lo + n, device=dev, dtype=dt) + 0.5) / n_i  # midpoint rule
            times = t1[i][None, :] + (frac * t_e[i])[:, None]  # (n, ho)
            r_t = one[i].rotation_at(times.reshape(1, -1)).reshape(n, ho, 3, 3)
            m = left[i] @ r_t.transpose(-1, -2) @ k_inv[i]  # (n, ho, 3, 3): output pixel -> normalised source
            # q = m (x, y, 1)^T is affine in x along a row: q = col x + row, two broadcast ops per pixel
            row = m[..., :, 1] * ys[:, None] + m[..., :, 2]  # (n, ho, 3)
            col = m[..., :, 0]
            inv_den = torch.addcmul(row[..., 2:3], col[..., 2:3], xs).reciprocal_()  # (n, ho, wo)
            grid = torch.addcmul(row[:, :, None, :2], col[:, :, None, :2], xs[:, None])  # (n, ho, wo, 2)
            grid = grid.mul_(inv_den[..., None])
            # the image expanded (stride 0, no copy) to the n warps: grid_sample parallelises over its batch
            warped = F.grid_sample(
                image[i : i + 1].expand(n, c, h, w),
                grid,
                mode="bilinear",
                padding_mode=padding_mode,
                align_corners=True,
            )
            part = warped.sum(0)
            total = part if total is None else total + part
        parts.append(total / n_i)
    return torch.stack(parts)


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
