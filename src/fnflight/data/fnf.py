"""Flash / no-flash DataModule: the DeepFnF data protocol (paper 000 sec. 3.1, 4.1, 4.2; NOTES "DeepFnF").

Per sample, on the device (:meth:`FlashNoFlashDataModule.degrade`):

1. clean pair ``ambient``, ``flash_only`` from the source, or synthesised from one photo
   (:mod:`fnflight.data.flash_synthesis`) when the source has no flash image (``synthesize_flash="auto"``);
2. dimming ``alpha = 10**U(log10 0.02, log10 0.2)`` (sec. 4.1: factor in [5, 50]); validation / test use the
   fixed dims ``[100, 50, 25, 12.5]`` (sec. 4.2), each image once per dim, ``alpha = 1 / dim``;
3. clean no-flash ``alpha * ambient`` and flash ``2 * flash_only + alpha * ambient`` (sec. 4.1, eq. 1);
4. camera shake: a DeepFnF homography (:func:`fnflight.imaging.sample_homography`, 90-degree FOV, rotations
   U(-0.5, 0.5) deg, scale U(0.98, 1.02), translation U(-2, 2) px) applied to the NON-reference image only;
   the reference image and the ``target`` stay unwarped, so the target is aligned with the reference
   (sec. 3.1: ``T_ref = identity``, ``Y = S_a`` in the reference frame). A warped frame reads the content
   the shake brings into the crop from the PHOTO around it, as a camera would see it: the crop is read with
   a margin (:meth:`FlashNoFlashDataModule.read_margin`, the largest displacement the shake ranges allow),
   the clean pair is made on that window, warped from it and cropped after the warp. Only where the photo
   itself ends is the content its mirror image (the authors compute the homography in full-image
   coordinates, NOTES; reflecting at the crop's border made 8.4% of the training flash pixels mirrored
   content, tests/data/test_flash_window.py). The homography is drawn for a
   ``homography_size`` frame (448, the paper's crop) and a smaller crop is a random window of that frame, so
   a 128-px training crop sees the pixel shifts of a 448 capture rather than about half of them (our choice:
   the paper trains and tests on 448 crops only; see ``homography_size``);
5. noise shared by both images (same ISO): ``std_read = 10**U(-3, -2)``, ``std_shot = 10**U(-2, -1.3)``
   (sec. 4.1 writes the shot term as a log10 variance, NOTES); test ``std_read = 10**-2.6``,
   ``std_shot = 10**-1.8`` (sec. 4.2 "log sigma_r = -2.6, log sigma_s = -3.6", same reading);
   ``noisy = x + std_shot sqrt(x) N + std_read N``, no clipping; std maps from the NOISY images;
6. ``target = alpha * ambient``, ``gain = dim = 1 / alpha`` (sec. 4.1 "Losses and metrics");
7. both captures and the target clipped at the sensor's ``white_level`` after the warp, before the noise
   (our addition: the synthesis's light sources exceed it, as lamps in a dim room do).

Extra no-flash frames (supplement, Table 6): with ``extra_noflash = M`` the capture is a sequence of
``M + 1`` no-flash frames followed by the flash frame. Consecutive frames differ by their own random
homography ``H_k`` (frame k -> k+1) and the warps are composed sequentially, so far frames are more
misaligned.
The reference is the middle no-flash frame (index ``M // 2``; supplement: "the image in the middle of the
sequence") or the flash frame with ``reference="flash"``. ``noflash`` is the reference no-flash frame (with a
flash reference: the no-flash frame next to the flash); ``extra_noflash`` the other no-flash frames in
capture order. Each frame has its own noise realisation. With ``M = 0`` this is exactly steps 1-6, and the
first sampled homography is the one the flash gets, so a 2-frame no-flash burst (``M = 1``) warps its second
frame with the same homography as the flash of the pair protocol (sec. 4.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from fnflight import imaging

from . import batch as K
from .base import CropDataset, LowLightDataModule
from .flash_synthesis import FlashSynthesis, synthesize_flash_pair

__all__ = ["FlashNoFlashDataModule", "TEST_DIMS", "TEST_STD_READ", "TEST_STD_SHOT", "shake_reach"]

TEST_DIMS = (100.0, 50.0, 25.0, 12.5)  # paper 000 sec. 4.2
TEST_STD_READ = 10**-2.6  # paper 000 sec. 4.2, log sigma_r = -2.6
TEST_STD_SHOT = 10**-1.8  # paper 000 sec. 4.2, log sigma_s^2 = -3.6 (NOTES)
PAPER_CROP = 448  # the authors' crop (NOTES; the paper says 440): default camera-shake homography frame


def shake_reach(args: dict[str, Any], frame_h: int, frame_w: int, abouts: Sequence[Any]) -> float:
    """The largest per-axis displacement ``|H^-1 x - x|`` (px) of a shake homography over an ``frame_h x
    frame_w`` frame: ``H`` at every corner of the parameter box (rotations, scale, translation at their
    bounds; each scale centre of ``abouts``, ``None`` = the frame centre), evaluated on the frame's corners,
    edge midpoints and centre. The displacement is close to linear in the (sub-degree, percent) parameters,
    so its extremes lie at the box's corners; one pixel is added for that approximation.

    >>> args = {"fov_deg": 90.0, "max_rotation_deg": 0.0, "scale_range": (1.0, 1.0), "max_translation": 2.0}
    >>> shake_reach(args, 448, 448, [None])
    3.0
    """
    import itertools

    r, t = float(args["max_rotation_deg"]), float(args["max_translation"])
    lo, hi = args["scale_range"]
    combos = list(itertools.product((-r, r), (-r, r), (-r, r), (lo, hi), (-t, t), (-t, t)))
    params = torch.tensor(combos, dtype=torch.float64)
    ys = torch.tensor([0.0, (frame_h - 1) / 2, frame_h - 1.0], dtype=torch.float64)
    xs = torch.tensor([0.0, (frame_w - 1) / 2, frame_w - 1.0], dtype=torch.float64)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    p = torch.stack([gx.flatten(), gy.flatten(), torch.ones(9, dtype=torch.float64)])  # (3, 9)
    reach = 0.0
    for about in abouts:
        c = None if about is None else torch.tensor(about, dtype=torch.float64).expand(len(params), 2)
        h = imaging.homography_from_params(
            params[:, :3], params[:, 3], params[:, 4:], frame_h, frame_w, float(args["fov_deg"]), c
        )
        q = torch.linalg.inv(h) @ p
        reach = max(reach, float((q[:, :2] / q[:, 2:] - p[:2]).abs().max()))
    return reach + 1.0


class _WindowDataset(CropDataset):
    """Crops read with ``margin`` pixels of the photo around them (the window the shake warps from).

    The crop is placed as :class:`~fnflight.data.base.CropDataset` places it (the same random draw, so the
    photo only needs to hold the crop); the window around it is read where the photo has it and mirrored
    (numpy ``reflect``, as ``grid_sample``'s reflection) only where the photo itself ends. The images are
    ``crop + 2 margin`` px: ``degrade`` recognises a window by that size (no extra batch key).
    """

    def check_sizes(self) -> None:
        margin, self.margin = self.margin, 0  # only the crop must fit: the margin is read where it exists
        try:
            super().check_sizes()
        finally:
            self.margin = margin

    def box(self, index: int) -> tuple[int, int, int, int]:
        margin, self.margin = self.margin, 0
        try:
            top, left, ch, cw = super().box(index)
        finally:
            self.margin = margin
        return top - margin, left - margin, ch + 2 * margin, cw + 2 * margin

    def _read(self, index: int, box: tuple[int, int, int, int] | None) -> dict[str, np.ndarray]:
        top, left, bh, bw = box
        h, w = self.source.size(index)
        t0, l0, t1, l1 = max(top, 0), max(left, 0), min(top + bh, h), min(left + bw, w)
        arrays = self.source.read(index, (t0, l0, t1 - t0, l1 - l0))
        pads = ((t0 - top, top + bh - t1), (l0 - left, left + bw - l1), (0, 0))
        if any(p for pair in pads for p in pair):
            arrays = {k: np.pad(v, pads, mode="reflect") for k, v in arrays.items()}
        return arrays


def _scaled_shake(args: dict[str, Any], scale: float) -> dict[str, Any]:
    """Homography ranges with rotation, translation and the scale's distance from 1 times ``scale``."""
    if scale == 1.0:
        return dict(args)
    lo, hi = args["scale_range"]
    return {
        **args,
        "max_rotation_deg": args["max_rotation_deg"] * scale,
        "max_translation": args["max_translation"] * scale,
        "scale_range": (1 + scale * (lo - 1), 1 + scale * (hi - 1)),
    }


class FlashNoFlashDataModule(LowLightDataModule):
    """Flash / no-flash pairs with the DeepFnF degradation (module docstring); keys: ``fnflight.data.batch``.

    Args:
        source, val_source, test_source, crop, batch_size, val_batch_size, num_workers, seed, augment,
            limit_val: see :class:`~fnflight.data.base.LowLightDataModule` (crop 448 as the authors' code;
            the paper says 440).
        eval_crop: validation / test crop (default ``crop``): e.g. the test sets' 448 while training on
            smaller crops, or a validation picture large enough to look at (``make train``: 256).
        alpha_range: ``(low, high)`` of the dimming ``alpha``, sampled log-uniformly.
        dim_sampling: ``"log_uniform"`` (paper 000: alpha log-uniform) or ``"uniform"`` (paper 001: the
            dimming FACTOR ``1 / alpha`` uniform, "dimming by a factor of 25 to 50").
        noise_sampling: ``"log_uniform"`` (paper 000) or ``"uniform"`` (paper 001: the stds uniform in
            ``[10**low, 10**high]`` of ``read_range`` / ``shot_range``).
        flash_gain: exposure factor of the flash-only image (2).
        reference: ``"noflash"`` (paper default) or ``"flash"``: the geometric reference (unwarped) image.
        fov_deg, max_rotation_deg, scale_range, max_translation: homography ranges (sec. 4.1).
        homography_size: side of the frame the homography is defined on (intrinsics, scale centre); a crop
            smaller than it is a random window of it (448 default: the paper's crop, whose misalignment the
            paper's test set has; ``None``: the crop itself). Mean flash displacement (512 draws,
            benchmarks/investigation/shake_displacement.txt): 2.1 px for 128-px crops with their own frame,
            3.5 px as windows of a 448 frame, 4.0 px at 448.
        scale_centre: the point the homography's scale acts about. ``"origin"`` (default, the authors'
            code; NOTES "DeepFnF"): the origin of the WHOLE source image, the frame lying at an offset of it.
            Training: a random offset ``U(0, scale_origin_offset)`` px per axis (the authors' 448 crop at a
            random place of the full photo, so the scale moves pixels by ``(s - 1)(x + offset)``: the source
            of the paper's "up to 20 px" displacement). Validation and test: offset 0 (the authors' test
            crops are the images' top-left corners: up to 9 px at the far corner). ``"centre"``: the
            frame's centre (our first reading; it halves the test-time scale term).
        scale_origin_offset: the largest training offset of the frame in its source image, px (640: photos
            of about 1000 px, as FAID's).
        shake: multiplier of the three shake ranges (rotation, translation, scale about 1) for every stage:
            0 = aligned pairs, 2 = twice the paper's shake (test sets of paper Fig. 3,
            ``benchmarks/fnf_misalignment.sh``); 1 = the ranges as given.
        shake_warmup_steps: training only, a curriculum (our choice, not in the paper): the camera-shake
            ranges (rotation, translation, scale about 1) grow linearly from 0 at step 0 to their full values
            at this global step, so the net first sees aligned pairs. The random draws are the same as without
            it (only their bounds scale), so every other part of a training sample is unchanged. ``None``: the
            full ranges from the start (paper). Validation and test always use the full ranges. Tried on
            the CPU quality budget (2000 of 4000 steps): no gain, the net dropped the flash once the shake
            was back (benchmarks/results/fnf_quality_cpu/README.md, session 4).
        read_range, shot_range: log10 ranges of the read / shot noise std for training.
        test_dims: validation / test dims (each image once per dim, at the test noise levels); ``None``:
            validation / test drawn like training from the per-sample seed (paper 001's protocol: "100 pairs
            with random degradations").
        test_std_read, test_std_shot: validation / test noise std.
        extra_noflash: number ``M`` of extra no-flash frames (Table 6 variant; 0 = the pair protocol).
        synthesize_flash: ``"auto"`` (synthesise when the source has no ``flash_only``), ``True`` or
            ``False``.
        white_level: the sensor's white level (linear units of the captures): both captures, and the
            target (the clean no-flash capture), are clipped at it after the warp and before the noise, as
            a camera clips (light sources of the synthesis exceed it). ``"auto"`` (default): 1.0 for
            synthesised pairs, no clipping for a source's own flash images (paper 000's FAID protocol does
            not clip, NOTES "DeepFnF"; its tables are reproduced as the paper made them); ``None``: never.
        flash_synthesis: keyword ranges of :class:`~fnflight.data.flash_synthesis.FlashSynthesis`.
    """

    def __init__(
        self,
        eval_crop: int | None = None,
        alpha_range: Sequence[float] = (0.02, 0.2),
        dim_sampling: str = "log_uniform",
        noise_sampling: str = "log_uniform",
        flash_gain: float = 2.0,
        reference: str = "noflash",
        fov_deg: float = 90.0,
        max_rotation_deg: float = 0.5,
        scale_range: Sequence[float] = (0.98, 1.02),
        max_translation: float = 2.0,
        homography_size: int | None = PAPER_CROP,
        scale_centre: str = "origin",
        scale_origin_offset: float = 640.0,
        shake: float = 1.0,
        shake_warmup_steps: int | None = None,
        read_range: Sequence[float] = (-3.0, -2.0),
        shot_range: Sequence[float] = (-2.0, -1.3),
        test_dims: Sequence[float] | None = TEST_DIMS,
        test_std_read: float = TEST_STD_READ,
        test_std_shot: float = TEST_STD_SHOT,
        extra_noflash: int = 0,
        synthesize_flash: bool | str = "auto",
        flash_synthesis: dict[str, Any] | None = None,
        white_level: float | str | None = "auto",
        **loader: Any,
    ) -> None:
        if reference not in ("noflash", "flash"):
            raise ValueError(f"reference must be 'noflash' or 'flash', got {reference!r}")
        if synthesize_flash not in ("auto", True, False):
            raise ValueError(f"synthesize_flash must be 'auto', true or false, got {synthesize_flash!r}")
        if int(extra_noflash) < 0:
            raise ValueError(f"extra_noflash must be >= 0, got {extra_noflash}")
        if homography_size is not None and int(homography_size) < 1:
            raise ValueError(
                f"homography_size must be a positive side in pixels or null, got {homography_size}"
            )
        for name, value in (("dim_sampling", dim_sampling), ("noise_sampling", noise_sampling)):
            if value not in ("log_uniform", "uniform"):
                raise ValueError(f"{name} must be 'log_uniform' or 'uniform', got {value!r}")
        self.dim_sampling, self.noise_sampling = dim_sampling, noise_sampling
        if not 0 < alpha_range[0] <= alpha_range[1]:
            raise ValueError(f"alpha_range must be 0 < low <= high, got {tuple(alpha_range)}")
        super().__init__(**loader)  # the loader's arguments (LowLightDataModule)
        if eval_crop is not None:
            if int(eval_crop) < 1:
                raise ValueError(f"eval_crop must be >= 1, got {eval_crop}")
            self.eval_crop = int(eval_crop)
        self.alpha_range = (float(alpha_range[0]), float(alpha_range[1]))
        self.flash_gain, self.reference = float(flash_gain), reference
        if float(shake) < 0:
            raise ValueError(f"shake must be >= 0, got {shake}")
        self.homography_args = _scaled_shake(
            {
                "fov_deg": float(fov_deg),
                "max_rotation_deg": float(max_rotation_deg),
                "scale_range": (float(scale_range[0]), float(scale_range[1])),
                "max_translation": float(max_translation),
            },
            float(shake),
        )
        self.homography_size = None if homography_size is None else int(homography_size)
        if scale_centre not in ("origin", "centre"):
            raise ValueError(f"scale_centre must be 'origin' or 'centre', got {scale_centre!r}")
        if float(scale_origin_offset) < 0:
            raise ValueError(f"scale_origin_offset must be >= 0, got {scale_origin_offset}")
        self.scale_centre, self.scale_origin_offset = scale_centre, float(scale_origin_offset)
        if shake_warmup_steps is not None and int(shake_warmup_steps) < 1:
            raise ValueError(
                f"shake_warmup_steps must be a positive step count or null, got {shake_warmup_steps}"
            )
        self.shake_warmup_steps = None if shake_warmup_steps is None else int(shake_warmup_steps)
        self.read_range = (float(read_range[0]), float(read_range[1]))
        self.shot_range = (float(shot_range[0]), float(shot_range[1]))
        self.test_dims = None if test_dims is None else [float(d) for d in test_dims]
        self.test_std_read, self.test_std_shot = float(test_std_read), float(test_std_shot)
        self.extra_noflash = int(extra_noflash)
        self.synthesize_flash = synthesize_flash
        self.flash_synthesis = FlashSynthesis(**(flash_synthesis or {}))
        if white_level not in (None, "auto") and (
            not isinstance(white_level, (int, float)) or float(white_level) <= 0
        ):
            raise ValueError(f"white_level must be > 0, 'auto' or null, got {white_level!r}")
        self.white_level = white_level if white_level in (None, "auto") else float(white_level)

    def read_margin(self, stage: str) -> int:
        """Pixels read around the crop for ``stage``: the largest per-axis displacement of the shake (full
        ranges; :func:`shake_reach` over the ``homography_size`` frame and the stage's scale centres) times
        the number of homographies composed into the farthest frame (``extra_noflash``), plus one pixel of
        bilinear support. Defaults: 36 px for training (the scale about an origin up to 640 px away), 22 px
        for validation / test."""
        key = (stage == "train", self.crop if stage == "train" else self.eval_crop)
        cache = self.__dict__.setdefault("_margins", {})
        if key not in cache:
            cache[key] = self._read_margin(stage, key[1])
        return cache[key]

    def _read_margin(self, stage: str, crop: int) -> int:
        size = self.homography_size or 0
        fh, fw = max(size, crop), max(size, crop)
        abouts: list[Any] = [None]
        if self.scale_centre == "origin":
            off = -self.scale_origin_offset if stage == "train" else 0.0
            abouts = [(0.0, 0.0), (off, 0.0), (0.0, off), (off, off)]
        m = self.extra_noflash
        ref = m // 2 if self.reference == "noflash" else m + 1
        steps = max(ref, m + 1 - ref)
        return math.ceil(shake_reach(self.homography_args, fh, fw, abouts) * steps) + 1

    def make_dataset(self, stage: str) -> CropDataset:
        """:class:`_WindowDataset` crops with the stage's :meth:`read_margin` (see the module docstring)."""
        if stage == "train":
            return _WindowDataset(
                self.source, self.crop, True, self.read_margin(stage), self.augment, seed=self.seed
            )
        source = self.val_source if stage == "val" else self.test_source
        return _WindowDataset(
            source,
            self.eval_crop,
            False,
            self.read_margin(stage),
            variants=self.eval_variants(),
            limit=self.limit_val,
        )

    def eval_variants(self) -> dict[str, Sequence[float]] | None:
        return None if self.test_dims is None else {K.DIM: self.test_dims}

    def protocol(self) -> dict[str, Any]:
        """The degradation parameters (for test-set manifests)."""
        return {
            "paper": "000 (DeepFnF) sec. 4.1 / 4.2",
            "alpha_range": list(self.alpha_range),
            "flash_gain": self.flash_gain,
            "reference": self.reference,
            "homography": {
                k: list(v) if isinstance(v, tuple) else v for k, v in self.homography_args.items()
            },
            "homography_size": self.homography_size,
            "scale_centre": self.scale_centre,
            "scale_origin_offset_train": self.scale_origin_offset,
            "read_range_log10": list(self.read_range),
            "shot_range_log10": list(self.shot_range),
            "test_dims": self.test_dims,
            "dim_sampling": self.dim_sampling,
            "noise_sampling": self.noise_sampling,
            "test_std_read": self.test_std_read,
            "test_std_shot": self.test_std_shot,
            "extra_noflash": self.extra_noflash,
            "synthesize_flash": self.synthesize_flash,
            "white_level": self.white_level,
            "flash_synthesis": {
                k: list(v) if isinstance(v, tuple) else v for k, v in vars(self.flash_synthesis).items()
            },
        }

    def shake_scale(self, stage: str) -> float:
        """Fraction of the camera-shake ranges in use: ``step / shake_warmup_steps`` (at most 1) while
        training with a warm-up, else 1."""
        trainer = getattr(self, "trainer", None)
        if stage != "train" or self.shake_warmup_steps is None or trainer is None:
            return 1.0
        return min(1.0, int(trainer.global_step) / self.shake_warmup_steps)

    def _camera_shake(
        self,
        n: int,
        b: int,
        h: int,
        w: int,
        generator: torch.Generator,
        scale: float = 1.0,
        stage: str = "test",
    ) -> list[Tensor]:
        """``n`` relative homographies ``(B, 3, 3)`` for an ``h x w`` crop: drawn for the
        ``homography_size`` frame, seen through one random window per sample (the same for every frame);
        ``scale`` shrinks every shake range (see ``shake_warmup_steps``); the scale acts about
        ``scale_centre`` (for training the source image's origin at a random offset)."""
        size = self.homography_size or 0
        fh, fw = max(size, h), max(size, w)
        gdev = generator.device
        args = _scaled_shake(self.homography_args, scale)
        about = None
        if self.scale_centre == "origin":
            about = torch.zeros((b, 2), device=gdev)
            if stage == "train" and self.scale_origin_offset > 0:
                about = -self.scale_origin_offset * torch.rand((b, 2), generator=generator, device=gdev)
        homs = [
            imaging.sample_homography(b, fh, fw, generator, gdev, scale_about=about, **args) for _ in range(n)
        ]
        if (fh, fw) == (h, w):
            return homs
        # crop pixel p is frame pixel p + o: H_crop = T(-o) H_frame T(o)
        room = torch.tensor([fw - w, fh - h], device=gdev, dtype=homs[0].dtype)
        o = torch.rand((b, 2), generator=generator, device=gdev, dtype=room.dtype) * room
        to_frame, to_crop = imaging.translation_homography(o), imaging.translation_homography(-o)
        return [to_crop @ hom @ to_frame for hom in homs]

    def _sample_noise(
        self, b: int, generator: torch.Generator, device: torch.device
    ) -> tuple[Tensor, Tensor]:
        if self.noise_sampling == "uniform":  # paper 001: sigma_r, sigma_s "sampled uniformly"
            (rl, rh), (sl, sh) = ((10**lo, 10**hi) for lo, hi in (self.read_range, self.shot_range))
            u = torch.rand((2, b), generator=generator, device=device)
            return rl + (rh - rl) * u[0], sl + (sh - sl) * u[1]
        return imaging.sample_noise_params(b, self.read_range, self.shot_range, generator, device)

    def degrade(self, batch: dict[str, Tensor], generator: torch.Generator, stage: str) -> dict[str, Tensor]:
        """Add ``noflash``, ``flash``, std maps, ``target``, ``gain``, ``dim``, noise and warp parameters."""
        out = dict(batch)
        ambient = batch[K.AMBIENT]
        b, _, h, w = ambient.shape
        # a window of ``make_dataset`` (the crop plus the stage's read margin): made and warped whole and
        # cropped after the warp; a batch of any other size is taken as the crop itself (margin 0)
        margin = self.read_margin(stage)
        crop_side = self.crop if stage == "train" else self.eval_crop
        if (h, w) == (crop_side + 2 * margin, crop_side + 2 * margin):
            h, w = crop_side, crop_side
        else:
            margin = 0

        def crop(x: Tensor) -> Tensor:
            return x[..., margin : margin + h, margin : margin + w] if margin else x

        dev, gdev, dt = ambient.device, generator.device, ambient.dtype
        synth = self.synthesize_flash is True or (
            self.synthesize_flash == "auto" and K.FLASH_ONLY not in batch
        )
        if synth:
            pair = synthesize_flash_pair(ambient, generator, self.flash_synthesis, details=False)
            ambient, flash_only = pair["ambient"], pair["flash_only"]
        elif K.FLASH_ONLY not in batch:
            raise KeyError("synthesize_flash=False but the source gives no 'flash_only' image")
        else:
            flash_only = batch[K.FLASH_ONLY]
        out[K.AMBIENT], out[K.FLASH_ONLY] = crop(ambient), crop(flash_only)
        white = (1.0 if synth else None) if self.white_level == "auto" else self.white_level

        # dimming (sec. 4.1): train log-uniform, val/test the fixed dims carried by the samples
        if stage != "train" and K.DIM in batch:
            dim = batch[K.DIM].to(dev, ambient.dtype).reshape(b)
            alpha = 1.0 / dim
        else:
            if self.dim_sampling == "uniform":  # paper 001: the dimming factor uniform
                lo, hi = 1.0 / self.alpha_range[1], 1.0 / self.alpha_range[0]
                u = torch.rand((b,), generator=generator, device=gdev).to(dev, ambient.dtype)
                dim = lo + (hi - lo) * u
                alpha = 1.0 / dim
            else:
                lo, hi = math.log10(self.alpha_range[0]), math.log10(self.alpha_range[1])
                alpha = imaging.sample_log_uniform(lo, hi, (b,), generator, gdev).to(dev, ambient.dtype)
                dim = 1.0 / alpha
        a4 = alpha[:, None, None, None]

        # capture sequence: M + 1 no-flash frames then the flash; relative homographies composed sequentially
        m = self.extra_noflash
        rel = self._camera_shake(m + 1, b, h, w, generator, self.shake_scale(stage), stage)
        rel = [r.to(dev, ambient.dtype) for r in rel]
        ref = m // 2 if self.reference == "noflash" else m + 1
        eye = torch.eye(3, device=dev, dtype=ambient.dtype).expand(b, 3, 3)
        warps: list[Tensor] = [eye] * (m + 2)
        for j in range(ref + 1, m + 2):
            warps[j] = rel[j - 1] @ warps[j - 1]
        for j in range(ref - 1, -1, -1):
            warps[j] = torch.linalg.inv(rel[j]) @ warps[j + 1]

        if stage == "train" or self.test_dims is None:  # paper 001 tests with training-like draws too
            std_read, std_shot = self._sample_noise(b, generator, gdev)
            std_read, std_shot = std_read.to(dev, ambient.dtype), std_shot.to(dev, ambient.dtype)
        else:
            std_read = torch.full((b,), self.test_std_read, device=dev, dtype=ambient.dtype)
            std_shot = torch.full((b,), self.test_std_shot, device=dev, dtype=ambient.dtype)

        clean_nf = a4 * ambient
        clean_f = torch.add(
            clean_nf, flash_only, alpha=self.flash_gain
        )  # flash_gain * flash_only + a ambient

        # one randn call for every frame of the capture (each frame its own realisation)
        normals = torch.randn((m + 2, b, 3, h, w), generator=generator, device=gdev, dtype=dt)
        normals = normals.to(dev)

        clip = (lambda x: x) if white is None else (lambda x: x.clamp(max=white))  # the sensor clips
        reference_nf = clip(crop(clean_nf))  # the unwarped clean no-flash: the target and, unwarped, an input

        def capture(clean: Tensor, j: int, k: int) -> tuple[Tensor, Tensor]:
            """Frame ``j`` of the sequence (warped unless it is the reference), clipped at the white level,
            noise from ``normals[k]``."""
            if j == ref:
                x = reference_nf if clean is clean_nf else clip(crop(clean))
            else:
                x = clip(imaging.warp_image(clean, warps[j], margin=margin))
            noisy = imaging.add_heteroscedastic_noise(x, std_read, std_shot, normal=normals[k])
            return noisy, imaging.noise_std_map(noisy, std_read, std_shot)

        main_nf = ref if self.reference == "noflash" else m
        flash, flash_std = capture(clean_f, m + 1, 0)
        noflash, noflash_std = capture(clean_nf, main_nf, 1)
        extra_idx = [j for j in range(m + 1) if j != main_nf]
        extras = [capture(clean_nf, j, 2 + i) for i, j in enumerate(extra_idx)]

        out[K.NOFLASH], out[K.FLASH] = noflash, flash
        out[K.NOFLASH_STD], out[K.FLASH_STD] = noflash_std, flash_std
        if m:
            out[K.EXTRA_NOFLASH] = torch.stack([x for x, _ in extras], 1)
            out[K.EXTRA_NOFLASH_STD] = torch.stack([sd for _, sd in extras], 1)
        out[K.TARGET] = reference_nf
        out[K.GAIN] = dim
        out[K.DIM] = dim
        out[K.STD_READ], out[K.STD_SHOT] = std_read, std_shot
        nonref = m + 1 if self.reference == "noflash" else main_nf
        out[K.HOMOGRAPHY] = warps[nonref]
        out[K.DISPLACEMENT] = imaging.mean_displacement(warps[nonref], h, w)
        return out
