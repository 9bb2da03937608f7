"""Short / long exposure DataModule: the LSD2 data synthesis (paper 003 sec. 3.1; NOTES "LSD2").

The defaults are the paper's reading; every deviation is a named argument (listed below with its reason).

Synthetic mode (any clean photo source, default the embedded photos), per sample, batched on the device
(:meth:`ShortLongDataModule.degrade`):

0. linearisation (sec. 3.1): "we first invert the gamma correction of the input images (assuming gamma =
   2.2)": the photo's display values ``P`` become ``I = P^2.2`` (``linearize="gamma"``). Everything below
   runs in that linear space;
1. overexposure (sec. 3.1.1): scene ``S = s I`` with ``s ~ U(1, 3)``; the sharp long exposure
   ``min(S, 1)`` is the ground truth ``target`` (the network outputs an image "with similar exposure as the
   long exposure image");
2. timing (sec. 3.1.2-3.1.4, 3.2.1): long exposure ``t_long ~ U(30, 330) ms`` (the range of the paper's real
   captures, sec. 3.2.1), short exposure ``t_short = t_long / 30`` (the constant ratio 1/30), the long one
   "captured right after the noisy image" (``gap = 0``);
3. camera shake (sec. 3.1.3): a camera-rotation trajectory (below) with a random start time ``t_0`` in it
   ("the starting time of the synthetic image exposure is randomly selected");
4. long exposure (sec. 3.1.3-3.1.4): the spatially varying blur ``mean_tau S(H_y(tau)^-1 x)`` with the
   rolling-shutter homographies ``H_y(tau) = K R(t1(y) + tau) R(t1(y) - gap)^T K^-1`` (eq. 2), rows exposed
   from ``t1(y) = t_0 + gap + t_r y / N``, ``tau in [0, t_long]``. The PSF origin is the exposure start, not
   its middle (sec. 3.1.4: "we set the origin of each PSF kernel to be at the beginning of the exposure",
   which "extends to cases when there is a known gap"): ``S`` is the view at each row's pose ``gap`` before
   its long exposure starts, i.e. at the short exposure. So the ``target`` (and the short exposure) show
   the scene at that pose and the long exposure is misaligned with them by the motion during it. Then
   Poisson shot noise and, for the long exposure only, clipping to ``[0, 1]`` (sec. 3.1.5: "we ensure that
   the maximum intensity of the blurry long exposure image does not exceed ... 1");
5. short exposure (sec. 3.1.2, 3.1.5): sharp ("the motion blur is simulated only to the long exposure
   images"), per-channel affine ``a_i S + b_i`` with each channel's own uniform draw, ``a_i ~ U(0.1, 0.3)``,
   ``b_i ~ U(0, 0.01)`` (the paper fits per-channel ranges to real pairs and gives only ``a_i < 0.3``,
   ``b_i < 0.01``: the ranges are :func:`fnflight.imaging.color_distort`'s, per channel tables may be
   passed), then Poisson noise 4x stronger than the long one's, NOT clipped (``clip_short``);
6. gamma re-applied (sec. 3.1: "once the images have been generated, the gamma is re-applied"): ``short``,
   ``long`` and ``target`` are ``x^(1/2.2)`` display images (``encoding="gamma"``, ``encoding_gamma = 2.2``;
   values outside ``[0, 1]`` keep their sign: ``sign(x) |x|^(1/2.2)``). The network input is the short
   exposure AS CAPTURED, dark (sec. 3.2: "the input of the network is a pair of blurry and noisy images";
   the brightness matching of Fig. 3 is "for visualization"); ``short_gain`` is that display gain:
   ``(mean(long) / mean(short))^(1/2.2)`` with the means of the LINEAR images, so ``short_gain * short``
   has the long exposure's mean linear intensity (:func:`short_display_gain`).

Batch keys: :mod:`fnflight.data.batch`, "Short / long exposure" (``short``, ``long``, ``target``,
``short_gain``, ``encoding_gamma``, ``gain`` (ones), ``color_matrix``, the sampled parameters, ``index``
and the clean linear ``ambient``).

The trajectory. The paper replays "a long sequence of gyroscope readings" recorded with a phone held in the
hand; that recording is not public. :func:`fnflight.imaging.sample_gyro_trajectory` stands in for it: a
hand-tremor model of the camera's angular velocity (per axis a stationary Ornstein-Uhlenbeck process,
correlation time ``correlation_time_s`` = 50 ms, per-sample strength log-uniform in ``angular_std_deg_s`` =
1-10 deg/s, roll at half the strength of pan / tilt), rotation only and no translation (the paper's
assumption, sec. 3.1.3). With a real gyroscope log, pass ``gyro_csv=PATH`` (the format of
:meth:`fnflight.imaging.GyroTrajectory.from_csv`: ``t,wx,wy,wz`` lines, seconds and rad/s about the
camera's x, y, z): every sample then replays a random window of the recording, as the paper does.

Choices where the paper is silent or that deviate from it (each is an argument):

- Noise level: the paper gives none. Long exposure ``Poisson(k x) / k`` with ``std_shot = k^-1/2 =
  10**U(-2, -1.25)`` per image; the short one's photon count is ``k / 16`` (std 4x, ``noise_factor``).
  ``read_range`` adds Gaussian read noise (off, as in the paper).
- ``clip_short=False``: the paper clips only the long exposure; ``True`` also clips the short one to
  ``[0, 1]`` (a sensor's saturation; rarely reached since ``a_i S + b_i < 0.92``).
- ``brightness_match="none"``: the network input stays dark (the paper). ``"mean"`` scales the short input
  by ``mean(long) / mean(short)`` (linear), ``"nominal"`` by the capture gain ``1 / (exposure_ratio *
  iso_ratio) = 30 / 4`` (ISO 800 vs 200, sec. 3.2.1): deviations that hand the network a brightened input.
  ``short_gain`` always matches the batch's ``short`` to the ``long`` for display.
- ``short_motion=False``: the short exposure is sharp (the paper). ``True`` integrates it along the
  trajectory over ``[0, t_short]`` too (``short_samples`` time samples; a few ms of motion), the long
  exposure then starts ``t_short + gap`` after the anchor (the earlier behaviour of this module).
- ``encoding="linear"``: batches stay linear (``encoding_gamma = 1``; the task renders them with the sRGB
  curve, ``gain`` and ``color_matrix``). ``linearize="srgb"`` uses the source's sRGB linearisation instead
  of gamma 2.2 (the two differ mostly in the shadows).
- Focal length: 343 px, a ~70 deg horizontal field of view over the paper's 480 px wide frames (sec. 3.2),
  kept in pixels for any crop so blur lengths match the paper's frames; principal point at the crop centre.
- Rolling-shutter readout ``t_r = 30 ms`` (a typical phone sensor; the paper gives no value). Rows are timed
  over the read crop (``crop + 2 margin`` rows).
- Blur integration: the midpoint rule with ``blur_samples = 24`` warps per long exposure, as before the
  speed-up of this module (which computes the same 24 warps, equal to 1e-5, only faster: inner region only,
  closed-form inverse homographies, batched warps). Measured on 48 default samples (256 crops) against a
  512-sample integral, in the gamma-encoded domain: 56 dB PSNR in the worst sample, 86 dB median (the PSFs
  are < 28 px long for 99 % of the samples; the weakest noise of the data is ~46 dB). ``blur_spacing_px``
  picks the count per image from its PSF length instead (:func:`fnflight.imaging.motion.motion_blur`): off
  by default because at 0.5 px it is 53 dB worst / 68 dB median (13 warps on average) and at 0.25 px it is
  no cheaper than 24 fixed warps.
- Borders: the crop is read with ``margin`` = 16 extra pixels per side so shaken content comes from the
  photo; beyond them ``padding_mode="border"`` repeats the edge (on the same 48 samples 0.009 % of the
  output pixels, in 1 sample, differ from reflection padding; border sampling takes a third less time).
- Crops: ``crop`` is an int or ``[height, width]`` (default 256; the paper trains on 270 x 480 frames,
  sec. 3.2, i.e. ``crop=[270, 480]``).

Validation / test (the paper's Table 1 protocol, sec. 4: synthetic pairs from held-out images) draw the same
distributions with one generator per image seeded from ``(seed, index)``; ``eval_crop=800`` gives the paper's
800 x 800 test images (needs sources that large). ``test_long_exposures`` fixes the long exposure time instead
(each image once per value, e.g. ``(0.21,)`` the 7 + 210 ms capture of Fig. 1), all other draws stay seeded.

Real mode (``mode="real"``, or ``"auto"`` with a :class:`~fnflight.data.short_long_sources.ShortLongPairs`
source; paper sec. 3.2.1): crops of the captured files (random for training with the same horizontal /
vertical flip of every image of the pair; no 90-degree turns, which would make the rolling shutter run along
columns), centred for validation / test (``eval_crop=0``: whole images, batch 1 for mixed sizes). The images
are converted to this module's ``encoding`` (8-bit files are display images, taken as gamma 2.2 as in
sec. 3.1) and ``short_gain`` is computed as above. ``real_long="captured"``: the long file is the captured
(blurry) long exposure and the ``NAME_sharp`` file the target; pairs without one cannot train or be scored
(an error names them; inference reads them with :meth:`ShortLongPairs.pair`). ``real_long="sharp"``: the
paper's fine-tuning protocol, tripod captures whose long exposure "is used as the ground truth sharp image"
while "the blurred image is generated from the sharp image as described in Sec. 3.1.3": ``target`` = the
long file, ``long`` = its motion blur (linearised, steps 2-4 without extra noise: the capture has its own,
clipped), ``short`` = the captured short file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from fnflight import imaging

from . import batch as K
from .base import CropDataset, LowLightDataModule, crop_size
from .short_long_sources import DISPLAY_GAMMA, ShortLongPairs
from .sources import SourceError

__all__ = [
    "EXPOSURE_RATIO",
    "FOCAL_LENGTH_PX",
    "GAMMA",
    "ISO_RATIO",
    "LONG_EXPOSURE_RANGE",
    "NOISE_FACTOR",
    "PAPER_CROP",
    "READOUT_TIME",
    "SATURATION_RANGE",
    "TEST_CROP",
    "ShortLongCropDataset",
    "ShortLongDataModule",
    "decode",
    "encode",
    "exposure_integral",
    "short_display_gain",
]

EXPOSURE_RATIO = 1.0 / 30.0  # short / long exposure time (paper 003 sec. 3.1.2, 3.2.1)
ISO_RATIO = 4.0  # ISO 800 (short) / 200 (long) of the real captures (sec. 3.2.1)
LONG_EXPOSURE_RANGE = (0.03, 0.33)  # seconds, the long exposures of the real captures (sec. 3.2.1)
SATURATION_RANGE = (1.0, 3.0)  # s ~ U(1, 3) (sec. 3.1.1)
NOISE_FACTOR = 4.0  # short-exposure noise magnitude / long's (sec. 3.1.5)
READOUT_TIME = 0.03  # seconds; our choice (the paper gives no value)
FOCAL_LENGTH_PX = 343.0  # ~70 deg horizontal FOV over 480 px frames (sec. 3.2); our choice
TEST_CROP = 800  # the paper's test images are 800 x 800 (sec. 4)
PAPER_CROP = (270, 480)  # the paper's training frames, height x width (sec. 3.2)
GAMMA = DISPLAY_GAMMA  # 2.2, sec. 3.1

_MATCH_MODES = ("none", "mean", "nominal")


# ----------------------------------------------------------------------------------------------------------
# encodings
def _gamma_column(gamma: float | Tensor, like: Tensor) -> Tensor | float:
    if isinstance(gamma, Tensor):
        g = gamma.to(like.device, like.dtype).reshape(-1)
        if g.numel() not in (1, like.shape[0]):
            raise ValueError(
                f"encoding_gamma must be a float or ({like.shape[0]},), got {tuple(gamma.shape)}"
            )
        return g.reshape(-1, *([1] * (like.ndim - 1)))
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    return float(gamma)


def encode(x: Tensor, gamma: float | Tensor, nonnegative: bool = False) -> Tensor:
    r"""Linear -> the batch encoding ``sign(x) |x|^(1/gamma)`` (gamma 1: unchanged; paper 003 sec. 3.1).

    Sign-preserving so that values below 0 (read noise) or above 1 (an unclipped short exposure) survive a
    round trip through :func:`decode`.

    Args:
        x: ``(B, ...)`` linear values.
        gamma: float or ``(B,)`` per-sample gammas (``encoding_gamma``).
        nonnegative: ``x >= 0`` is known (skips the sign handling).

    Returns:
        Tensor of the shape of ``x``.

    Example:
        >>> encode(torch.tensor([[0.25, -0.25]]), 2.0)
        tensor([[ 0.5000, -0.5000]])
    """
    g = _gamma_column(gamma, x)
    if isinstance(g, float) and g == 1.0:
        return x
    if nonnegative:
        return x.pow(1.0 / g)
    return x.abs().pow(1.0 / g).copysign(x)


def decode(x: Tensor, gamma: float | Tensor) -> Tensor:
    r"""The batch encoding -> linear, ``sign(x) |x|^gamma``, the inverse of :func:`encode`.

    Example:
        >>> decode(torch.tensor([[0.5, 1.0]]), 2.0)
        tensor([[0.2500, 1.0000]])
    """
    g = _gamma_column(gamma, x)
    if isinstance(g, float) and g == 1.0:
        return x
    return x.abs().pow(g).copysign(x)


def short_display_gain(short: Tensor, long: Tensor, encoding_gamma: float | Tensor) -> Tensor:
    r"""The display brightness match of a short exposure (paper 003 sec. 4.1, Fig. 3: the noisy image
    "normalized so that its intensity matches the blurry image"), in the images' encoding.

    ``g = mean(decode(long)) / mean(decode(short))`` per image in LINEAR space, returned as
    ``g^(1/gamma)``: multiplying the ENCODED short image by it gives the encoding of ``g x short``.

    Args:
        short: ``(B, 3, H, W)`` encoded short exposure.
        long: ``(B, 3, H', W')`` encoded long exposure (sizes may differ).
        encoding_gamma: float or ``(B,)``: 2.2 for display images, 1 for linear ones.

    Returns:
        ``(B,)`` gains.

    Example:
        >>> short, long = torch.full((1, 3, 4, 4), 0.5), torch.full((1, 3, 4, 4), 1.0)
        >>> short_display_gain(short, long, 2.0), short_display_gain(short, long, 1.0)
        (tensor([2.]), tensor([2.]))
    """
    for name, x in (("short", short), ("long", long)):
        if not isinstance(x, Tensor) or x.ndim != 4:
            raise ValueError(f"{name} must be a (B, C, H, W) tensor, got {getattr(x, 'shape', type(x))}")
    lin_s = decode(short, encoding_gamma).mean((1, 2, 3))
    lin_l = decode(long, encoding_gamma).mean((1, 2, 3))
    return _gain_from_means(lin_l, lin_s, encoding_gamma)


def _gain_from_means(mean_long: Tensor, mean_short: Tensor, gamma: float | Tensor) -> Tensor:
    gain = mean_long / mean_short.clamp(min=1e-6)
    g = gamma.to(gain) if isinstance(gamma, Tensor) else float(gamma)
    return gain.clamp(min=0).pow(1.0 / g)


# ----------------------------------------------------------------------------------------------------------
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
    margin: int = 0,
    padding_mode: str = "reflection",
    spacing_px: float | None = None,
) -> Tensor:
    r"""Rolling-shutter exposure of ``image`` anchored at an earlier pose (paper 003 eq. 2, sec. 3.1.3-3.1.4).

    Row ``y`` has its anchor at ``t(y) = t_start + t_r y / N``; the output is
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
        samples: S, time samples (the most per image with ``spacing_px``).
        margin: pixels dropped on every side of the output (only the inner part is computed).
        padding_mode: ``grid_sample`` padding beyond the image.
        spacing_px: adaptive sample count (:func:`fnflight.imaging.motion.motion_blur`); None = ``samples``.

    Returns:
        ``(B, C, H - 2 margin, W - 2 margin)``.

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
        padding_mode=padding_mode,
        anchor_offset=-begin,
        margin=margin,
        spacing_px=spacing_px,
    )


class ShortLongCropDataset(CropDataset):
    """Crops of real pairs (:class:`ShortLongPairs`) for :class:`ShortLongDataModule`'s real mode.

    As :class:`~fnflight.data.base.CropDataset` with: the images ``keys`` of the pair (``short``, ``long``
    and, when scoring, ``target``), their stored ``encoding_gamma`` (per sample), paired horizontal /
    vertical flips only (no 90-degree turns: the rolling shutter stays along rows), and ``crop=None`` for
    whole images.
    """

    def __init__(
        self,
        source: ShortLongPairs,
        crop: Any,
        train: bool,
        keys: Sequence[str],
        margin: int = 0,
        augment: bool = True,
        limit: int | None = None,
        seed: int = 0,
        variants: dict[str, Sequence[float]] | None = None,
    ) -> None:
        self.whole = crop is None
        self.keys = tuple(keys)
        super().__init__(source, 1 if crop is None else crop, train, margin, augment, variants, limit, seed)

    def check_sizes(self) -> None:
        if not self.whole:
            super().check_sizes()

    def box(self, index: int) -> tuple[int, int, int, int] | None:
        if self.whole:
            return None
        return super().box(index)

    def _augmenter(self, keys: Sequence[str]) -> Any:
        if self._aug is None:
            import albumentations as A

            rng = self._generator()
            self._aug = A.Compose(
                [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)],
                additional_targets={k: "image" for k in keys[1:]},
                seed=int(rng.integers(2**31)),
            )
        return self._aug

    def _read(self, index: int, box: tuple[int, int, int, int] | None) -> dict[str, np.ndarray]:
        return self.source.read(index, box, self.keys)

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = super().__getitem__(i)
        index = int(sample[K.INDEX])
        sample[K.ENCODING_GAMMA] = torch.tensor(self.source.encoding_gamma(index), dtype=torch.float32)
        return sample


class ShortLongDataModule(LowLightDataModule):
    """LSD2 short / long exposure pairs, synthetic or real (module docstring). Batch keys: ``short``,
    ``long``, ``target``, ``short_gain``, ``encoding_gamma``, ``gain``, ``color_matrix``, ``index``;
    synthetic batches add ``saturation``, ``exposure_long``, ``exposure_short``, ``color_gain``,
    ``color_offset``, ``std_shot``, ``std_read`` and the clean linear ``ambient``.

    Args:
        source, val_source, test_source, batch_size, val_batch_size, num_workers, seed, augment, limit_val:
            see :class:`~fnflight.data.base.LowLightDataModule`.
        crop: training crop, an int or ``[height, width]`` (the paper's frames: ``[270, 480]``).
        eval_crop: validation / test crop (default ``crop``; :data:`TEST_CROP` = 800 is the paper's; real mode
            ``0`` = whole images).
        margin: extra pixels read on every side for the blur, cropped off after the synthesis.
        mode: ``"auto"`` (real for a :class:`ShortLongPairs` source), ``"synthetic"`` or ``"real"``.
        encoding: ``"gamma"`` (display images ``x^(1/gamma)``, the paper) or ``"linear"``.
        linearize: ``"gamma"`` (gamma 2.2, paper sec. 3.1) or ``"srgb"`` (the source's sRGB linearisation).
        gamma: the gamma of ``linearize`` and ``encoding``.
        exposure_ratio: ``t_short / t_long`` (1/30).
        long_exposure_range: ``(low, high)`` seconds, uniform.
        gap: time between the short and the start of the long exposure (s).
        readout_time: rolling-shutter readout time (s); 0 = global shutter.
        saturation_range: ``(low, high)`` of ``s``.
        color_gain_range, color_offset_range: ``(low, high)`` (or per-channel ``(3, 2)``) ranges of ``a_i``,
            ``b_i``.
        shot_range: ``(low, high)`` log10 range of the long exposure's shot-noise std.
        read_range: optional ``(low, high)`` log10 range of a Gaussian read-noise std (both exposures).
        noise_factor: the short exposure's noise std / the long's (photon count divided by its square).
        clip_short: also clip the noisy short exposure to ``[0, 1]`` (a deviation; the paper clips the long).
        brightness_match: ``"none"`` (the paper), ``"mean"`` or ``"nominal"``: a gain on the short INPUT.
        iso_ratio: the short/long ISO ratio of ``"nominal"`` matching.
        focal_length_px: focal length in pixels.
        short_motion: integrate the short exposure along the trajectory too (a deviation; module docstring).
        gyro_csv: a gyroscope recording (CSV, :meth:`fnflight.imaging.GyroTrajectory.from_csv`) to draw random
            windows from instead of the synthetic trajectories.
        angular_std_deg_s, correlation_time_s, axis_weights: the synthetic trajectory model
            (:func:`fnflight.imaging.sample_gyro_trajectory`).
        gyro_rate_hz: trajectory sampling rate (a recording is resampled to it).
        start_slack: the exposure starts ``U(0, start_slack)`` seconds into the trajectory.
        blur_samples: time samples of the long exposure integral (the most per image with
            ``blur_spacing_px``).
        blur_spacing_px: adaptive sample count: samples at most this far apart along each PSF; None = fixed.
        short_samples: time samples of the short exposure integral (``short_motion=True``).
        padding_mode: ``grid_sample`` padding of the blur beyond the read crop.
        real_long: real mode: ``"captured"`` (the long file is the blurry input, ``NAME_sharp`` the target) or
            ``"sharp"`` (tripod captures: the long file is the target, its blur is synthesised; sec. 3.2.1).
        test_long_exposures: fixed long exposure times for validation / test (each image once per value).
    """

    def __init__(
        self,
        crop: Any = 256,
        batch_size: int = 4,
        eval_crop: Any = None,
        margin: int = 16,
        mode: str = "auto",
        encoding: str = "gamma",
        linearize: str = "gamma",
        gamma: float = GAMMA,
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
        clip_short: bool = False,
        brightness_match: str = "none",
        iso_ratio: float = ISO_RATIO,
        focal_length_px: float = FOCAL_LENGTH_PX,
        short_motion: bool = False,
        gyro_csv: str | Path | None = None,
        angular_std_deg_s: Sequence[float] = (1.0, 10.0),
        correlation_time_s: float = 0.05,
        axis_weights: Sequence[float] = (1.0, 1.0, 0.5),
        gyro_rate_hz: float = 200.0,
        start_slack: float = 0.1,
        blur_samples: int = 24,
        blur_spacing_px: float | None = None,
        short_samples: int = 2,
        padding_mode: str = "border",
        real_long: str = "captured",
        test_long_exposures: Sequence[float] | None = None,
        **loader: Any,
    ) -> None:
        if mode not in ("auto", "synthetic", "real"):
            raise ValueError(f"mode must be 'auto', 'synthetic' or 'real', got {mode!r}")
        if encoding not in ("gamma", "linear"):
            raise ValueError(f"encoding must be 'gamma' or 'linear', got {encoding!r}")
        if linearize not in ("srgb", "gamma"):
            raise ValueError(f"linearize must be 'gamma' or 'srgb', got {linearize!r}")
        if not gamma > 0:
            raise ValueError(f"gamma must be > 0, got {gamma}")
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
        if blur_spacing_px is not None and not float(blur_spacing_px) > 0:
            raise ValueError(f"blur_spacing_px must be > 0 or null, got {blur_spacing_px}")
        if padding_mode not in ("border", "reflection", "zeros"):
            raise ValueError(f"padding_mode must be 'border', 'reflection' or 'zeros', got {padding_mode!r}")
        if real_long not in ("captured", "sharp"):
            raise ValueError(f"real_long must be 'captured' or 'sharp', got {real_long!r}")
        crop_hw = crop_size(crop, "crop")
        super().__init__(crop=crop_hw[0], batch_size=batch_size, **loader)
        real = isinstance(self.source, ShortLongPairs)
        self.mode = ("real" if real else "synthetic") if mode == "auto" else mode
        sources = {"source": self.source, "val_source": self.val_source, "test_source": self.test_source}
        for name, src in sources.items():
            if (self.mode == "real") != isinstance(src, ShortLongPairs):
                want = (
                    "a ShortLongPairs" if self.mode == "real" else "a clean image source (not ShortLongPairs)"
                )
                raise ValueError(f"mode={self.mode!r} needs {want} as {name}, got {type(src).__name__}")
        self.crop = _crop_value(crop_hw)
        if eval_crop is not None and not hasattr(eval_crop, "__len__") and int(eval_crop) == 0:
            if self.mode != "real":
                raise ValueError("eval_crop=0 (whole images) is for real mode only")
            self.eval_crop: Any = 0
        else:
            self.eval_crop = (
                self.crop if eval_crop is None else _crop_value(crop_size(eval_crop, "eval_crop"))
            )
        self.margin = int(margin)
        self.encoding, self.linearize, self.gamma = encoding, linearize, float(gamma)
        self.exposure_ratio = float(exposure_ratio)
        self.long_exposure_range = (float(long_exposure_range[0]), float(long_exposure_range[1]))
        self.gap, self.readout_time = float(gap), float(readout_time)
        self.saturation_range = (float(saturation_range[0]), float(saturation_range[1]))
        self.color_gain_range = _as_range(color_gain_range)
        self.color_offset_range = _as_range(color_offset_range)
        self.shot_range = (float(shot_range[0]), float(shot_range[1]))
        self.read_range = None if read_range is None else (float(read_range[0]), float(read_range[1]))
        self.noise_factor, self.clip_short = float(noise_factor), bool(clip_short)
        self.brightness_match, self.iso_ratio = brightness_match, float(iso_ratio)
        self.focal_length_px = float(focal_length_px)
        self.short_motion = bool(short_motion)
        self.gyro = {
            "angular_std_deg_s": (float(angular_std_deg_s[0]), float(angular_std_deg_s[1])),
            "correlation_time_s": float(correlation_time_s),
            "axis_weights": tuple(float(a) for a in axis_weights),
            "rate_hz": float(gyro_rate_hz),
        }
        self.start_slack = float(start_slack)
        self.blur_samples, self.short_samples = int(blur_samples), int(short_samples)
        self.blur_spacing_px = None if blur_spacing_px is None else float(blur_spacing_px)
        self.padding_mode, self.real_long = padding_mode, real_long
        self.test_long_exposures = (
            None if test_long_exposures is None else [float(t) for t in test_long_exposures]
        )
        if self.test_long_exposures is not None and (
            not self.test_long_exposures or min(self.test_long_exposures) <= 0
        ):
            raise ValueError(f"test_long_exposures must be positive times, got {test_long_exposures}")
        self.gyro_csv = None if gyro_csv is None else Path(gyro_csv).expanduser()
        self._recording: imaging.GyroTrajectory | None = None
        if self.gyro_csv is not None:
            self._recording = imaging.GyroTrajectory.from_csv(
                self.gyro_csv, self.gyro["rate_hz"], min_duration_s=self.trajectory_duration()
            )

    @property
    def encoding_gamma(self) -> float:
        """The gamma of the batches' images: ``gamma`` (2.2) for ``encoding="gamma"``, 1 for linear."""
        return self.gamma if self.encoding == "gamma" else 1.0

    @property
    def synthesizes_blur(self) -> bool:
        """Whether :meth:`degrade` blurs (synthetic mode, or real mode with ``real_long="sharp"``)."""
        return self.mode == "synthetic" or self.real_long == "sharp"

    def trajectory_duration(self) -> float:
        """Seconds of trajectory one sample needs: start slack, the short and long exposures, gap, readout."""
        t_max = max(self.long_exposure_range[1], *(self.test_long_exposures or [0.0]))
        return self.start_slack + self.readout_time + t_max * (1.0 + self.exposure_ratio) + self.gap + 0.01

    # ------------------------------------------------------------------ datasets
    def eval_variants(self) -> dict[str, Sequence[float]] | None:
        if self.test_long_exposures is None or not self.synthesizes_blur:
            return None
        return {K.EXPOSURE_LONG: self.test_long_exposures}

    def make_dataset(self, stage: str) -> CropDataset:
        train = stage == "train"
        source = self.source if train else self.val_source if stage == "val" else self.test_source
        crop = self.crop if train else self.eval_crop
        variants = None if train else self.eval_variants()
        limit = None if train else self.limit_val
        if self.mode == "synthetic":
            return CropDataset(source, crop, train, self.margin, self.augment, variants, limit, self.seed)
        if self.real_long == "captured":
            count = len(source) if limit is None else min(int(limit), len(source))
            missing = [source.name(i) for i in range(count) if not source.has_sharp(i)]
            if missing:
                shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                raise SourceError(
                    f"short/long pair folder {source.path}: {len(missing)} pair(s) have no NAME_sharp target "
                    f"({shown}), needed to {'train' if train else 'evaluate'} with real_long='captured'; "
                    "add the sharp files, drop those pairs (split_list), or use real_long='sharp' for tripod "
                    "captures whose long exposure is sharp. (Inference reads pairs without: "
                    "ShortLongPairs.pair.)"
                )
            keys: tuple[str, ...] = (K.SHORT, K.LONG, K.TARGET)
            margin = 0
        else:
            keys, margin = (K.SHORT, K.LONG), self.margin
        return ShortLongCropDataset(
            source, crop or None, train, keys, margin, self.augment, limit, self.seed, variants
        )

    def protocol(self) -> dict[str, Any]:
        """The degradation parameters (for test-set manifests)."""
        common = {
            "paper": "003 (LSD2) sec. 3.1, 3.2.1, 4",
            "mode": self.mode,
            "eval_crop": self.eval_crop,
            "encoding": self.encoding,
            "encoding_gamma": self.encoding_gamma,
        }
        if self.mode == "real" and self.real_long == "captured":
            return {**common, "real_long": "captured", "path": str(getattr(self.test_source, "path", ""))}
        out = {
            **common,
            "margin": self.margin,
            "linearize": self.linearize,
            "gamma": self.gamma,
            "exposure_ratio": self.exposure_ratio,
            "long_exposure_range_s": list(self.long_exposure_range),
            "gap_s": self.gap,
            "readout_time_s": self.readout_time,
            "focal_length_px": self.focal_length_px,
            "trajectory": "gyro_csv" if self.gyro_csv is not None else "synthetic (sample_gyro_trajectory)",
            "gyro_csv": None if self.gyro_csv is None else str(self.gyro_csv),
            "gyro": {k: list(v) if isinstance(v, tuple) else v for k, v in self.gyro.items()},
            "start_slack_s": self.start_slack,
            "blur_samples": self.blur_samples,
            "blur_spacing_px": self.blur_spacing_px,
            "padding_mode": self.padding_mode,
            "test_long_exposures_s": self.test_long_exposures,
        }
        if self.mode == "real":
            return {**out, "real_long": "sharp", "path": str(getattr(self.test_source, "path", ""))}
        return {
            **out,
            "saturation_range": list(self.saturation_range),
            "color_gain_range": self.color_gain_range,
            "color_offset_range": self.color_offset_range,
            "shot_range_log10": list(self.shot_range),
            "read_range_log10": None if self.read_range is None else list(self.read_range),
            "noise_factor": self.noise_factor,
            "clip_short": self.clip_short,
            "brightness_match": self.brightness_match,
            "iso_ratio": self.iso_ratio,
            "short_motion": self.short_motion,
            "short_samples": self.short_samples,
        }

    # ------------------------------------------------------------------ degradation
    def _trajectory(
        self, b: int, generator: torch.Generator, dev: torch.device, dt: torch.dtype
    ) -> imaging.GyroTrajectory:
        """``b`` camera-rotation trajectories: windows of the recording (``gyro_csv``) or synthetic."""
        duration = self.trajectory_duration()
        gdev = generator.device
        if self._recording is not None:  # sec. 3.1.3: a random stretch of the recorded readings
            rec = self._recording
            length = max(1, math.ceil(duration * rec.rate_hz))
            total = rec.angular_velocity.shape[1]
            starts = torch.randint(0, total - length + 1, (b,), generator=generator, device=gdev)
            traj = rec.windows(starts.cpu(), length)
        else:
            traj = imaging.sample_gyro_trajectory(
                b, duration, generator=generator, device=gdev, dtype=dt, **self.gyro
            )
        return imaging.GyroTrajectory(
            traj.angular_velocity.to(dev, dt), traj.rotations.to(dev, dt), traj.rate_hz
        )

    def degrade(self, batch: dict[str, Tensor], generator: torch.Generator, stage: str) -> dict[str, Tensor]:
        """Synthetic mode: add ``short``, ``long``, ``target``, ``short_gain``, ``encoding_gamma``, ``gain``
        and the sampled parameters to a clean batch (module docstring). Real mode: convert the captured
        images to the batch encoding and add ``short_gain``, ``encoding_gamma`` and ``gain`` (with
        ``real_long="sharp"`` the long exposure is blurred here).

        Pure: the same generator state gives the same output. The order of the random draws is fixed:
        saturation, long exposure time, trajectory start, trajectory (a recording's window start or the
        synthetic velocities), colour distortion, noise levels, noise (long, then short).
        """
        if self.mode == "real":
            return self._degrade_real(batch, generator, stage)
        if K.AMBIENT not in batch:
            raise KeyError("synthetic mode needs batch['ambient'] (a clean image batch)")
        out = dict(batch)
        image = batch[K.AMBIENT]
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"batch['ambient'] must have shape (B, 3, H, W), got {tuple(image.shape)}")
        b, _, hp, wp = image.shape
        m = self.margin if hp > 2 * self.margin and wp > 2 * self.margin else 0
        inner = (..., slice(m, hp - m), slice(m, wp - m))
        dev, gdev, dt = image.device, generator.device, image.dtype

        def uniform(low: float, high: float) -> Tensor:
            u = torch.rand((b,), generator=generator, device=gdev, dtype=dt).to(dev)
            return low + (high - low) * u

        if self.linearize == "gamma":  # sec. 3.1: invert gamma 2.2 (the source decoded with the sRGB curve)
            image = imaging.srgb_from_linear(image.clamp(0, 1)).pow(self.gamma)
        sat = uniform(*self.saturation_range)  # sec. 3.1.1
        if stage != "train" and K.EXPOSURE_LONG in batch:
            t_long = batch[K.EXPOSURE_LONG].to(dev, dt).reshape(b)
        else:
            t_long = uniform(*self.long_exposure_range)  # sec. 3.2.1 range
        t_short = t_long * self.exposure_ratio  # sec. 3.1.2: constant ratio 1/30
        t0 = uniform(0.0, self.start_slack)  # sec. 3.1.3: random start in the gyro readings
        traj = self._trajectory(b, generator, dev, dt)
        kmat = _intrinsics(b, hp, wp, self.focal_length_px, image)

        scene = image * sat[:, None, None, None]  # S = s I, may exceed 1
        if self.short_motion:  # deviation: the short exposure integrates [0, t_short] after the anchor
            long_clean = self._blur(scene, traj, t0, t_short + self.gap, t_long, kmat, m)
            short_clean = exposure_integral(
                scene,
                traj,
                t0,
                torch.zeros_like(t_short),
                t_short,
                self.readout_time,
                kmat,
                self.short_samples,
                m,
                self.padding_mode,
            )
        else:  # sec. 3.1.3-3.1.4: the long exposure starts `gap` after the (sharp) short one's pose
            long_clean = self._blur(scene, traj, t0, torch.full_like(t_long, self.gap), t_long, kmat, m)
            short_clean = scene[inner]
        scene, image = scene[inner], image[inner]
        short_clean, a, off = imaging.color_distort(
            short_clean, generator, self.color_gain_range, self.color_offset_range, return_params=True
        )  # sec. 3.1.2: a_i S + b_i, each channel its own draw

        std_shot = imaging.sample_log_uniform(*self.shot_range, (b,), generator, gdev, dt).to(dev)
        if self.read_range is not None:
            std_read = imaging.sample_log_uniform(*self.read_range, (b,), generator, gdev, dt).to(dev)
        else:
            std_read = torch.zeros(b, device=dev, dtype=dt)
        photons = std_shot.pow(-2)  # Poisson std at x: sqrt(x / k) = std_shot sqrt(x)
        f = self.noise_factor
        long_noisy = self._noise(long_clean, photons, std_read, generator)
        short_noisy = self._noise(short_clean, photons / f**2, f * std_read, generator)
        long_noisy = long_noisy.clamp(0.0, 1.0)  # sec. 3.1.5: only the long exposure is clipped at 1
        if self.clip_short:  # deviation: a saturating sensor
            short_noisy = short_noisy.clamp(0.0, 1.0)

        mean_long, mean_short = long_noisy.mean((1, 2, 3)), short_noisy.mean((1, 2, 3))
        if self.brightness_match == "mean":  # deviation: a brightened network input
            in_gain = mean_long / mean_short.clamp(min=1e-6)
        elif self.brightness_match == "nominal":
            in_gain = torch.full((b,), 1.0 / (self.exposure_ratio * self.iso_ratio), device=dev, dtype=dt)
        else:  # the paper: the short exposure as captured
            in_gain = torch.ones(b, device=dev, dtype=dt)
        short_noisy = short_noisy * in_gain[:, None, None, None]
        gamma = self.encoding_gamma
        out[K.AMBIENT] = image  # clean, linear (after `linearize`)
        # sec. 3.1: gamma re-applied; without read noise the short exposure is >= 0 (a plain power suffices)
        out[K.SHORT] = encode(short_noisy, gamma, nonnegative=self.read_range is None)
        out[K.LONG] = encode(long_noisy, gamma, nonnegative=True)
        out[K.TARGET] = encode(scene.clamp(0.0, 1.0), gamma, nonnegative=True)  # sec. 3.1.1: min(s I, 1)
        out[K.SHORT_GAIN] = _gain_from_means(mean_long, mean_short * in_gain, gamma)
        out[K.ENCODING_GAMMA] = torch.full((b,), gamma, device=dev, dtype=dt)
        out[K.GAIN] = torch.ones(b, device=dev, dtype=dt)
        if K.COLOR_MATRIX not in out:
            out[K.COLOR_MATRIX] = torch.eye(3, device=dev, dtype=dt).expand(b, 3, 3).contiguous()
        out[K.SATURATION] = sat
        out[K.EXPOSURE_LONG], out[K.EXPOSURE_SHORT] = t_long, t_short
        out[K.COLOR_GAIN], out[K.COLOR_OFFSET] = a, off
        out[K.STD_SHOT], out[K.STD_READ] = std_shot, std_read
        return out

    def _noise(self, x: Tensor, photons: Tensor, std_read: Tensor, generator: torch.Generator) -> Tensor:
        """Shot noise ``Poisson(k x) / k`` (sec. 3.1.5) plus read noise when ``read_range`` is set."""
        if self.read_range is not None:
            return imaging.add_poisson_gaussian_noise(x, photons, std_read, generator)
        k = photons[:, None, None, None]  # shot noise only (the paper): no normal draws
        return _poisson(x.clamp(min=0.0) * k, generator) / k

    def _blur(
        self,
        scene: Tensor,
        traj: imaging.GyroTrajectory,
        t0: Tensor,
        begin: Tensor,
        t_long: Tensor,
        kmat: Tensor,
        margin: int,
    ) -> Tensor:
        """The long exposure of ``scene`` (linear), rows anchored at ``t0 + t_r y / N`` (sec. 3.1.3-3.1.4)."""
        return exposure_integral(
            scene,
            traj,
            t0,
            begin,
            t_long,
            self.readout_time,
            kmat,
            self.blur_samples,
            margin,
            self.padding_mode,
            self.blur_spacing_px,
        )

    def _degrade_real(
        self, batch: dict[str, Tensor], generator: torch.Generator, stage: str
    ) -> dict[str, Tensor]:
        if K.SHORT not in batch or K.LONG not in batch or K.ENCODING_GAMMA not in batch:
            raise KeyError("real mode needs batch['short'], batch['long'] and batch['encoding_gamma']")
        out = dict(batch)
        short, long = batch[K.SHORT], batch[K.LONG]
        b = short.shape[0]
        dev, dt = short.device, short.dtype
        stored = batch[K.ENCODING_GAMMA].to(dev, dt).reshape(b)
        gamma = self.encoding_gamma
        same = bool((stored == gamma).all())

        def convert(x: Tensor) -> Tensor:  # stored encoding -> the batch encoding
            return x if same else encode(decode(x, stored), gamma)

        if self.real_long == "sharp":  # sec. 3.2.1: the tripod long exposure is the target; blur it
            _, _, hp, wp = long.shape
            m = self.margin if hp > 2 * self.margin and wp > 2 * self.margin else 0
            inner = (..., slice(m, hp - m), slice(m, wp - m))
            sharp = decode(long, stored)
            gdev = generator.device
            if stage != "train" and K.EXPOSURE_LONG in batch:
                t_long = batch[K.EXPOSURE_LONG].to(dev, dt).reshape(b)
            else:
                u = torch.rand((b,), generator=generator, device=gdev, dtype=dt).to(dev)
                lo, hi = self.long_exposure_range
                t_long = lo + (hi - lo) * u
            t0 = self.start_slack * torch.rand((b,), generator=generator, device=gdev, dtype=dt).to(dev)
            traj = self._trajectory(b, generator, dev, dt)
            kmat = _intrinsics(b, hp, wp, self.focal_length_px, long)
            blurred = self._blur(sharp, traj, t0, torch.full_like(t_long, self.gap), t_long, kmat, m)
            long_lin, short_lin = blurred.clamp(0.0, 1.0), decode(short[inner], stored)
            out[K.TARGET] = encode(sharp[inner].clamp(0.0, 1.0), gamma)
            out[K.SHORT], out[K.LONG] = encode(short_lin, gamma), encode(long_lin, gamma)
            out[K.EXPOSURE_LONG] = t_long
            out[K.SHORT_GAIN] = _gain_from_means(long_lin.mean((1, 2, 3)), short_lin.mean((1, 2, 3)), gamma)
        else:
            out[K.SHORT], out[K.LONG] = convert(short), convert(long)
            if K.TARGET in batch:
                out[K.TARGET] = convert(batch[K.TARGET])
            out[K.SHORT_GAIN] = short_display_gain(out[K.SHORT], out[K.LONG], gamma)
        out[K.ENCODING_GAMMA] = torch.full((b,), gamma, device=dev, dtype=dt)
        out[K.GAIN] = torch.ones(b, device=dev, dtype=dt)
        if K.COLOR_MATRIX not in out:
            out[K.COLOR_MATRIX] = torch.eye(3, device=dev, dtype=dt).expand(b, 3, 3).contiguous()
        return out


def _poisson(rate: Tensor, generator: torch.Generator) -> Tensor:
    """``torch.poisson(rate)`` of a ``(B, ...)`` batch. On a GPU one batched call. On the CPU, where
    torch's Poisson kernel runs on one core (it was half of ``degrade`` on 2 cores), each sample draws from
    its own generator seeded from ``generator`` and the samples run in parallel threads: the result depends
    on the generator state only, not on the number of threads."""
    if rate.device.type != "cpu":
        return torch.poisson(rate, generator=generator)
    seeds = torch.randint(0, 2**62, (rate.shape[0],), generator=generator, device=generator.device).tolist()

    def one(i: int) -> Tensor:
        return torch.poisson(rate[i], generator=torch.Generator().manual_seed(int(seeds[i])))

    workers = min(len(seeds), torch.get_num_threads())
    if workers <= 1:
        return torch.stack([one(i) for i in range(len(seeds))])
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return torch.stack(list(pool.map(one, range(len(seeds)))))


def _crop_value(hw: tuple[int, int]) -> int | tuple[int, int]:
    """An int for a square crop (the form the rest of the code and test-set manifests use), else (h, w)."""
    return hw[0] if hw[0] == hw[1] else hw


def _as_range(value: Any) -> Any:
    """``(low, high)`` -> tuple of floats; a per-channel ``(3, 2)`` nested sequence -> list of lists."""
    if isinstance(value, Tensor):
        value = value.tolist()
    value = list(value)
    if len(value) == 2 and not isinstance(value[0], (list, tuple)) and not hasattr(value[0], "__len__"):
        low, high = float(value[0]), float(value[1])
        if low > high:
            raise ValueError(f"range must be (low, high) with low <= high, got {tuple(value)}")
        return (low, high)
    rows = [[float(v) for v in row] for row in value]
    if len(rows) != 3 or any(len(r) != 2 for r in rows):
        raise ValueError(f"range must be (low, high) or a (3, 2) per-channel table, got {value}")
    return rows
