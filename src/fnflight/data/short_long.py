"""Short / long exposure DataModule: the LSD2 data synthesis (paper 003 sec. 3.1; NOTES "LSD2").

From one clean linear photo ``I`` (any source), per sample, batched on the device
(:meth:`ShortLongDataModule.degrade`):

1. overexposure (sec. 3.1.1): scene ``S = s I`` with ``s ~ U(1, 3)``; the sharp long exposure
   ``min(S, 1)`` is the ground truth ``target`` (the paper trains the network to output "similar exposure as
   the long exposure image");
2. timing (sec. 3.1.2-3.1.4, 3.2.1): long exposure ``t_long ~ U(30, 330) ms`` (the range of the paper's real
   capture, sec. 3.2.1), short exposure ``t_short = t_long / 30`` (the constant exposure ratio 1/30), the long
   exposure starts right after the short one (gap 0, sec. 3.1.4: "captured right after the noisy image");
3. camera shake (sec. 3.1.3): a smooth gyro-like rotation trajectory
   (:func:`fnflight.imaging.sample_gyro_trajectory`; the paper replays recorded gyroscope readings, which are
   not public) with a random start time; per-row rolling-shutter homographies
   ``H_y(tau) = K R(t_s(y) + tau) R(t_s(y))^T K^-1``, ``t_s(y) = t_0 + t_r y / N`` (eq. 2) where ``t_s(y)`` is
   the start of row ``y`` of the SHORT exposure: every pixel's PSF starts at the pose of the short exposure
   (sec. 3.1.4: the PSF origin is the exposure start, not its middle), so the ``target`` is aligned with the
   short exposure and the long one is misaligned by the motion since then;
4. long exposure: the spatially varying blur ``mean_tau I(H_y(tau)^-1 x)`` over
   ``tau in [t_short + gap, t_short + gap + t_long]`` of ``S``, shot noise, clipped to ``[0, 1]`` (sec. 3.1.5:
   "we clip larger values at 1");
5. short exposure: ``S`` integrated over ``tau in [0, t_short]`` (sharp: a few ms), per-channel affine
   ``a_i S + b_i`` with ``a_i ~ U(0.1, 0.3)``, ``b_i ~ U(0, 0.01)`` (sec. 3.1.2: the underexposure and colour
   distortion; the paper gives only ``a_i < 0.3``, ``b_i < 0.01``: the ranges are
   :func:`fnflight.imaging.color_distort`'s), shot noise 4x stronger than the long exposure's (sec. 3.1.5),
   clipped to ``[0, 1]`` (the sensor), then brightness-matched by one gain per image (``brightness_match``);
6. ``gain = 1`` and the source's ``color_matrix`` for rendering (:mod:`fnflight.data.batch`).

Choices where the paper is silent (each is an argument):

- Noise: the paper adds Poisson shot noise only and gives no level. Long exposure
  ``Poisson(k x) / k`` with ``std_shot = k^-1/2 = 10**U(-2, -1.25)`` (per image); the short's photon count is
  ``k / 16`` (std 4x). ``read_range`` adds Gaussian read noise (off by default, as in the paper).
- Brightness matching of the short exposure (``brightness_match``): ``"mean"`` (default) scales the noisy
  short exposure by ``mean(long) / mean(short)`` per image, the normalisation the paper uses to show short
  exposures (sec. 4.1, Fig. 3: "normalized so that its intensity matches the blurry image"); it needs only
  the inputs, so real captures can be normalised the same way. ``"nominal"`` uses the known capture gain
  ``1 / (exposure_ratio * iso_ratio) = 30 / 4`` (ISO 800 vs 200, sec. 3.2.1); ``"none"`` keeps the dark
  image (the paper's network input). Values may exceed 1 after matching (linear data, no clipping).
- Focal length: 343 px, a ~70 deg horizontal field of view over the paper's 480 px wide frames (sec. 3.2),
  kept in pixels for any crop size so blur lengths match the paper's frames; principal point at the crop
  centre.
- Rolling-shutter readout ``t_r = 30 ms`` (a typical phone sensor; the paper gives no value).
- Linearisation: the paper inverts gamma 2.2 and re-applies it after the synthesis (sec. 3.1). Batches here
  stay linear (:mod:`fnflight.data.batch`; rendering applies the sRGB curve) and use the source's sRGB
  linearisation; ``linearize="gamma"`` re-encodes and expands with gamma 2.2 as the paper does.
- Crops: square ``crop`` (default 256, the paper trains on 270 x 480 frames, sec. 3.2), read with ``margin``
  extra pixels per side so shaken content comes from the photo, cropped back after the synthesis.

Validation / test (the paper's Table 1 protocol, sec. 4: synthetic pairs from held-out images) draw the same
distributions with one generator per image seeded from ``(seed, index)``; ``eval_crop=800`` gives the paper's
800 x 800 test images (needs sources that large). ``test_long_exposures`` fixes the long exposure time instead
(each image once per value, e.g. ``(0.21,)`` the 7 + 210 ms capture of Fig. 1), all other draws stay seeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from fnflight import imaging

from . import batch as K
from .base import DEFAULT_NUM_WORKERS, LowLightDataModule

__all__ = [
    "EXPOSURE_RATIO",
    "FOCAL_LENGTH_PX",
    "ISO_RATIO",
    "LONG_EXPOSURE_RANGE",
    "NOISE_FACTOR",
    "READOUT_TIME",
    "SATURATION_RANGE",
    "TEST_CROP",
    "ShortLongDataModule",
    "exposure_integral",
]

EXPOSURE_RATIO = 1.0 / 30.0  # short / long exposure time (paper 003 sec. 3.1.2, 3.2.1)
ISO_RATIO = 4.0  # ISO 800 (short) / 200 (long) of the real captures (sec. 3.2.1)
LONG_EXPOSURE_RANGE = (0.03, 0.33)  # seconds, the long exposures of the real captures (sec. 3.2.1)
SATURATION_RANGE = (1.0, 3.0)  # s ~ U(1, 3) (sec. 3.1.1)
NOISE_FACTOR = 4.0  # short-exposure noise magnitude / long's (sec. 3.1.5)
READOUT_TIME = 0.03  # seconds; our choice (the paper gives no value)
FOCAL_LENGTH_PX = 343.0  # ~70 deg horizontal FOV over 480 px frames (sec. 3.2); our choice
TEST_CROP = 800  # the paper's test images are 800 x 800 (sec. 4)

_MATCH_MODES = ("mean", "nominal", "none")


def _intrinsics(batch: int, height: int, width: int, focal: float, like: Tensor) -> Tensor:
    k = torch.zeros(batch, 3, 3, device=like.device, dtype=like.dtype)
    k[:, 0, 0] = k[:, 1, 1] = focal
    k[:, 0, 2] = (width - 1) / 2.0
    k[:, 1, 2] = (height - 1) / 2.0
    k[:, 2, 2] = 1.0
    return k


def exposure_integral(
    image: Tensor,
    trajectory: imaging.GyroTrajectory,
    t_start: Tensor,
    begin: Tensor,
    duration: Tensor,
    t_readout: float | Tensor,
    K: Tensor,
    samples: int,
) -> Tensor:
    r"""Rolling-shutter exposure of ``image`` anchored at an earlier pose (paper 003 eq. 2, sec. 3.1.3-3.1.4).

    Row ``y`` is read at ``t(y) = t_start + t_r y / N``; the output is
    ``1/S sum_s I(H_y(tau_s)^-1 x)`` with ``H_y(tau) = K R(t(y) + tau) R(t(y))^T K^-1`` and
    ``tau_s = begin + (s + 1/2) duration / S``: the exposure ``[begin, begin + duration]`` after the row's
    anchor time, where ``image`` is the view at the anchor pose.

    Args:
        image: ``(B, C, H, W)`` sharp image at the anchor pose.
        trajectory: :class:`fnflight.imaging.GyroTrajectory` with batch B.
        t_start: ``(B,)`` anchor time of row 0 (s).
        begin: ``(B,)`` exposure start after the anchor (s).
        duration: ``(B,)`` exposure time (s).
        t_readout: readout time (s).
        K: ``(B, 3, 3)`` intrinsics.
        samples: S, time samples.

    Returns:
        ``(B, C, H, W)``.

    Example:
        >>> traj = imaging.GyroTrajectory.from_angular_velocity(torch.zeros(1, 20, 3), 100.0)
        >>> img, z = torch.rand(1, 3, 6, 6), torch.zeros(1)
        >>> k = imaging.intrinsics_from_fov(6, 6)
        >>> torch.allclose(exposure_integral(img, traj, z, z, z + 0.05, 0.01, k, 4), img, atol=1e-5)
        True
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    # the exposure starts `begin` after the anchor: motion_blur with the row start moved by `begin` and the
    # pose anchored `begin` before it
    return imaging.motion_blur(
        image,
        trajectory,
        duration,
        t_start + begin,
        t_readout,
        K,
        samples=samples,
        padding_mode="reflection",
        anchor_offset=-begin,
    )


class ShortLongDataModule(LowLightDataModule):
    """LSD2 short / long exposure pairs (module docstring). Batch keys: ``short``, ``long``, ``target``,
    ``gain``, ``color_matrix``, ``saturation``, ``exposure_long``, ``exposure_short``, ``color_gain``,
    ``color_offset``, ``short_gain``, ``std_shot``, ``std_read``, ``index`` (and the clean ``ambient``).

    Args:
        source, val_source, test_source, batch_size, val_batch_size, num_workers, seed, augment, limit_val:
            see :class:`~fnflight.data.base.LowLightDataModule`.
        crop: training crop (square; the paper's frames are 270 x 480).
        eval_crop: validation / test crop (default ``crop``; :data:`TEST_CROP` = 800 is the paper's).
        margin: extra pixels read on every side and cropped off after the synthesis.
        linearize: ``"srgb"`` (source's linearisation) or ``"gamma"`` (gamma 2.2, paper sec. 3.1).
        gamma: the gamma of ``linearize="gamma"``.
        exposure_ratio: ``t_short / t_long`` (1/30).
        long_exposure_range: ``(low, high)`` seconds, uniform.
        gap: time between the end of the short and the start of the long exposure (s).
        readout_time: rolling-shutter readout time (s); 0 = global shutter.
        saturation_range: ``(low, high)`` of ``s``.
        color_gain_range, color_offset_range: ``(low, high)`` (or per-channel ``(3, 2)``) ranges of ``a_i``,
            ``b_i``.
        shot_range: ``(low, high)`` log10 range of the long exposure's shot-noise std.
        read_range: optional ``(low, high)`` log10 range of a Gaussian read-noise std (both exposures).
        noise_factor: the short exposure's noise std / the long's (photon count divided by its square).
        brightness_match: ``"mean"``, ``"nominal"`` or ``"none"`` (module docstring).
        iso_ratio: the short/long ISO ratio of ``"nominal"`` matching.
        focal_length_px: focal length in pixels.
        angular_std_deg_s, correlation_time_s, axis_weights, gyro_rate_hz: the trajectory model
            (:func:`fnflight.imaging.sample_gyro_trajectory`).
        start_slack: the trajectory's start time is ``U(0, start_slack)`` seconds into the sampled readings.
        blur_samples, short_samples: time samples of the long / short exposure integrals.
        test_long_exposures: fixed long exposure times for validation / test (each image once per value).
    """

    def __init__(
        self,
        source: Any = None,
        val_source: Any = None,
        test_source: Any = None,
        crop: int = 256,
        batch_size: int = 4,
        val_batch_size: int | None = None,
        num_workers: int = DEFAULT_NUM_WORKERS,
        seed: int = 0,
        augment: bool = True,
        limit_val: int | None = None,
        eval_crop: int | None = None,
        margin: int = 16,
        linearize: str = "srgb",
        gamma: float = 2.2,
        exposure_ratio: float = EXPOSURE_RATIO,
        long_exposure_range: Sequence[float] = LONG_EXPOSURE_RANGE,
        gap: float = 0.0,
        readout_time: float = READOUT_TIME,
        saturation_range: Sequence[float] = SATURATION_RANGE,
        color_gain_range: Any = (0.1, 0.3),
        color_offset_range: Any = (0.0, 0.01),
        shot_range: Sequence[float] = (-2.0, -1.25),
        read_range: Sequence[float] | None = None,
        noise_factor: float = NOISE_FACTOR,
        brightness_match: str = "mean",
        iso_ratio: float = ISO_RATIO,
        focal_length_px: float = FOCAL_LENGTH_PX,
        angular_std_deg_s: Sequence[float] = (1.0, 10.0),
        correlation_time_s: float = 0.05,
        axis_weights: Sequence[float] = (1.0, 1.0, 0.5),
        gyro_rate_hz: float = 200.0,
        start_slack: float = 0.1,
        blur_samples: int = 24,
        short_samples: int = 2,
        test_long_exposures: Sequence[float] | None = None,
    ) -> None:
        if linearize not in ("srgb", "gamma"):
            raise ValueError(f"linearize must be 'srgb' or 'gamma', got {linearize!r}")
        if brightness_match not in _MATCH_MODES:
            raise ValueError(f"brightness_match must be one of {_MATCH_MODES}, got {brightness_match!r}")
        if not 0 < exposure_ratio <= 1:
            raise ValueError(f"exposure_ratio must be in (0, 1], got {exposure_ratio}")
        if not 0 < long_exposure_range[0] <= long_exposure_range[1]:
            raise ValueError(f"long_exposure_range must be 0 < low <= high, got {tuple(long_exposure_range)}")
        if not 0 < saturation_range[0] <= saturation_range[1]:
            raise ValueError(f"saturation_range must be 0 < low <= high, got {tuple(saturation_range)}")
        if gap < 0 or readout_time < 0 or start_slack < 0:
            raise ValueError(
                f"gap, readout_time and start_slack must be >= 0, got {gap}, {readout_time}, {start_slack}"
            )
        if int(margin) < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        if int(blur_samples) < 1 or int(short_samples) < 1:
            raise ValueError(
                f"blur_samples and short_samples must be >= 1, got {blur_samples}, {short_samples}"
            )
        self.margin = int(margin)
        super().__init__(
            source,
            val_source,
            test_source,
            crop,
            batch_size,
            val_batch_size,
            num_workers,
            seed,
            augment,
            limit_val,
        )
        self.eval_crop = int(eval_crop) if eval_crop is not None else self.crop
        self.linearize, self.gamma = linearize, float(gamma)
        self.exposure_ratio = float(exposure_ratio)
        self.long_exposure_range = (float(long_exposure_range[0]), float(long_exposure_range[1]))
        self.gap, self.readout_time = float(gap), float(readout_time)
        self.saturation_range = (float(saturation_range[0]), float(saturation_range[1]))
        self.color_gain_range = _as_range(color_gain_range)
        self.color_offset_range = _as_range(color_offset_range)
        self.shot_range = (float(shot_range[0]), float(shot_range[1]))
        self.read_range = None if read_range is None else (float(read_range[0]), float(read_range[1]))
        self.noise_factor = float(noise_factor)
        self.brightness_match, self.iso_ratio = brightness_match, float(iso_ratio)
        self.focal_length_px = float(focal_length_px)
        self.gyro = {
            "angular_std_deg_s": (float(angular_std_deg_s[0]), float(angular_std_deg_s[1])),
            "correlation_time_s": float(correlation_time_s),
            "axis_weights": tuple(float(a) for a in axis_weights),
            "rate_hz": float(gyro_rate_hz),
        }
        self.start_slack = float(start_slack)
        self.blur_samples, self.short_samples = int(blur_samples), int(short_samples)
        self.test_long_exposures = (
            None if test_long_exposures is None else [float(t) for t in test_long_exposures]
        )
        if self.test_long_exposures is not None and (
            not self.test_long_exposures or min(self.test_long_exposures) <= 0
        ):
            raise ValueError(f"test_long_exposures must be positive times, got {test_long_exposures}")

    # ------------------------------------------------------------------ datasets
    def eval_variants(self) -> dict[str, Sequence[float]] | None:
        return None if self.test_long_exposures is None else {K.EXPOSURE_LONG: self.test_long_exposures}

    def protocol(self) -> dict[str, Any]:
        """The degradation parameters (for test-set manifests)."""
        return {
            "paper": "003 (LSD2) sec. 3.1, 3.2.1, 4",
            "eval_crop": self.eval_crop,
            "margin": self.margin,
            "linearize": self.linearize,
            "gamma": self.gamma,
            "exposure_ratio": self.exposure_ratio,
            "long_exposure_range_s": list(self.long_exposure_range),
            "gap_s": self.gap,
            "readout_time_s": self.readout_time,
            "saturation_range": list(self.saturation_range),
            "color_gain_range": self.color_gain_range,
            "color_offset_range": self.color_offset_range,
            "shot_range_log10": list(self.shot_range),
            "read_range_log10": None if self.read_range is None else list(self.read_range),
            "noise_factor": self.noise_factor,
            "brightness_match": self.brightness_match,
            "iso_ratio": self.iso_ratio,
            "focal_length_px": self.focal_length_px,
            "gyro": {k: list(v) if isinstance(v, tuple) else v for k, v in self.gyro.items()},
            "start_slack_s": self.start_slack,
            "blur_samples": self.blur_samples,
            "short_samples": self.short_samples,
            "test_long_exposures_s": self.test_long_exposures,
        }

    # ------------------------------------------------------------------ degradation
    def degrade(self, batch: dict[str, Tensor], generator: torch.Generator, stage: str) -> dict[str, Tensor]:
        """Add ``short``, ``long``, ``target``, ``gain`` and the sampled parameters to a clean batch.

        Pure: the same generator state gives the same output. The order of the random draws is fixed:
        saturation, long exposure time, trajectory start, trajectory, colour distortion, noise levels, noise.
        """
        out = dict(batch)
        image = batch[K.AMBIENT]
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"batch['ambient'] must have shape (B, 3, H, W), got {tuple(image.shape)}")
        b, _, hp, wp = image.shape
        m = self.margin if hp > 2 * self.margin and wp > 2 * self.margin else 0
        dev, gdev, dt = image.device, generator.device, image.dtype

        def uniform(low: float, high: float) -> Tensor:
            u = torch.rand((b,), generator=generator, device=gdev, dtype=dt).to(dev)
            return low + (high - low) * u

        if self.linearize == "gamma":
            image = imaging.gamma_expand(imaging.srgb_from_linear(image.clamp(0, 1)), self.gamma)
        sat = uniform(*self.saturation_range)  # sec. 3.1.1
        if stage != "train" and K.EXPOSURE_LONG in batch:
            t_long = batch[K.EXPOSURE_LONG].to(dev, dt).reshape(b)
        else:
            t_long = uniform(*self.long_exposure_range)  # sec. 3.2.1 range
        t_short = t_long * self.exposure_ratio  # sec. 3.1.2: constant ratio 1/30
        t0 = uniform(0.0, self.start_slack)  # sec. 3.1.3: random start in the gyro readings

        t_max = max(self.long_exposure_range[1], *(self.test_long_exposures or [0.0]), float(t_long.max()))
        duration = (
            self.start_slack + self.readout_time + t_max * (1.0 + self.exposure_ratio) + self.gap + 0.01
        )
        traj = imaging.sample_gyro_trajectory(
            b, duration, generator=generator, device=gdev, dtype=dt, **self.gyro
        )
        traj = imaging.GyroTrajectory(traj.angular_velocity.to(dev), traj.rotations.to(dev), traj.rate_hz)
        kmat = _intrinsics(b, hp, wp, self.focal_length_px, image)

        scene = image * sat[:, None, None, None]  # S = s I, may exceed 1
        long_clean = exposure_integral(
            scene, traj, t0, t_short + self.gap, t_long, self.readout_time, kmat, self.blur_samples
        )
        short_clean = exposure_integral(
            scene, traj, t0, torch.zeros_like(t_short), t_short, self.readout_time, kmat, self.short_samples
        )
        short_clean, a, off = imaging.color_distort(
            short_clean, generator, self.color_gain_range, self.color_offset_range, return_params=True
        )  # sec. 3.1.2

        std_shot = imaging.sample_log_uniform(*self.shot_range, (b,), generator, gdev, dt).to(dev)
        if self.read_range is not None:
            std_read = imaging.sample_log_uniform(*self.read_range, (b,), generator, gdev, dt).to(dev)
        else:
            std_read = torch.zeros(b, device=dev, dtype=dt)
        photons = std_shot.pow(-2)  # Poisson std at x: sqrt(x / k) = std_shot sqrt(x)
        f = self.noise_factor
        long_noisy = imaging.add_poisson_gaussian_noise(long_clean, photons, std_read, generator)
        short_noisy = imaging.add_poisson_gaussian_noise(short_clean, photons / f**2, f * std_read, generator)
        long_noisy = long_noisy.clamp(0.0, 1.0)  # sec. 3.1.5: clip at 1
        short_noisy = short_noisy.clamp(0.0, 1.0)  # the sensor saturates before the digital gain

        if m:
            crop = (..., slice(m, hp - m), slice(m, wp - m))
            long_noisy, short_noisy = long_noisy[crop], short_noisy[crop]
            scene, image = scene[crop], image[crop]
        if self.brightness_match == "mean":
            gain = long_noisy.mean((1, 2, 3)) / short_noisy.mean((1, 2, 3)).clamp(min=1e-6)
        elif self.brightness_match == "nominal":
            gain = torch.full((b,), 1.0 / (self.exposure_ratio * self.iso_ratio), device=dev, dtype=dt)
        else:
            gain = torch.ones(b, device=dev, dtype=dt)

        out[K.AMBIENT] = image
        out[K.SHORT] = short_noisy * gain[:, None, None, None]
        out[K.LONG] = long_noisy
        out[K.TARGET] = scene.clamp(0.0, 1.0)  # sec. 3.1.1: the sharp saturated long exposure
        out[K.GAIN] = torch.ones(b, device=dev, dtype=dt)
        if K.COLOR_MATRIX not in out:
            out[K.COLOR_MATRIX] = torch.eye(3, device=dev, dtype=dt).expand(b, 3, 3).contiguous()
        out[K.SATURATION] = sat
        out[K.EXPOSURE_LONG], out[K.EXPOSURE_SHORT] = t_long, t_short
        out[K.COLOR_GAIN], out[K.COLOR_OFFSET] = a, off
        out[K.SHORT_GAIN] = gain
        out[K.STD_SHOT], out[K.STD_READ] = std_shot, std_read
        return out


def _as_range(value: Any) -> Any:
    """``(low, high)`` -> tuple of floats; a per-channel ``(3, 2)`` nested sequence -> list of lists."""
    if isinstance(value, Tensor):
        value = value.tolist()
    value = list(value)
    if len(value) == 2 and not isinstance(value[0], (list, tuple)):
        low, high = float(value[0]), float(value[1])
        if low > high:
            raise ValueError(f"range must be (low, high) with low <= high, got {tuple(value)}")
        return (low, high)
    rows = [[float(v) for v in row] for row in value]
    if len(rows) != 3 or any(len(r) != 2 for r in rows):
        raise ValueError(f"range must be (low, high) or a (3, 2) per-channel table, got {value}")
    return rows
