"""The batch dictionary: one place that documents every key that travels from data to loss.

A batch is a plain ``dict[str, Tensor]``. The CPU side (Dataset + collate) fills the *clean* keys; the
on-device degradation step (``DataModule.on_after_batch_transfer``) adds the *degraded* keys and the
sampled parameters. Images are linear camera RGB in ``[0, 1]`` (before gain), shape ``(B, 3, H, W)``
unless stated. How a prediction and its target become sRGB for metrics and pictures is each task's
``to_srgb`` (:mod:`fnflight.tasks.base`): for flash/no-flash and bursts ``srgb(gain * color_matrix @
image)`` (paper 000, sec. 3.3); raw targets are sRGB already.

Flash / no-flash (paper 000)
    ``ambient``        clean ambient-only image, undimmed (CPU side)
    ``flash_only``     clean flash-only image (CPU side)
    ``color_matrix``   (B, 3, 3) camera RGB -> linear sRGB
    ``noflash``        noisy dimmed no-flash input
    ``flash``          noisy flash input (``2 * flash_only + alpha * ambient``, warped)
    ``noflash_std``    per-pixel noise std of ``noflash`` (computed from the noisy image)
    ``flash_std``      per-pixel noise std of ``flash``
    ``extra_noflash``  (B, M, 3, H, W) optional further noisy no-flash frames (Table 6 variant, 2-frame burst)
    ``extra_noflash_std`` (B, M, 3, H, W) their noise std maps
    ``target``         clean ambient in the reference frame at the input exposure (``alpha * ambient``)
    ``gain``           (B,) ``1 / alpha``: the brightness that renders ``target`` well exposed
    ``dim``            (B,) dimming factor ``1 / alpha`` (test sets use 100, 50, 25, 12.5)
    ``std_read``       (B,) read-noise std;  ``std_shot`` (B,) shot-noise std
    ``homography``     (B, 3, 3) warp applied to the non-reference image (pixels)
    ``displacement``   (B,) mean pixel displacement of that warp

Burst (paper 002, KPN)
    ``burst``          (B, N, 3, H, W) noisy frames, frame 0 is the reference
    ``noise_std``      (B, 1, H, W) noise estimate from the reference frame
    ``target``, ``gain``, ``color_matrix``, ``std_read``, ``std_shot`` as above; ``white_level`` (B,)
    ``offsets``        (B, N, 2) the (dx, dy) pixel shift of each frame (frame 0: zero)

Short / long exposure (paper 003, LSD2)
    ``short``          noisy, colour-distorted short exposure (brightness-matched)
    ``long``           blurred, saturated long exposure
    ``target``         sharp clean image aligned with the short exposure
    ``gain``           (B,) ones: ``target`` is already at the (saturated) long-exposure brightness
    ``saturation``     (B,) overexposure factor ``s`` (long = min(s * scene, 1), sec. 3.1.1)
    ``exposure_long``  (B,) long exposure time (s); ``exposure_short`` (B,) short exposure time (s)
    ``color_gain``     (B, 3) per-channel gains ``a_i`` of the short exposure (sec. 3.1.2)
    ``color_offset``   (B, 3) per-channel offsets ``b_i`` of the short exposure (sec. 3.1.2)
    ``short_gain``     (B,) brightness-matching gain applied to the noisy short exposure
    ``std_shot``       (B,) shot-noise std of the long exposure (the short's is ``noise_factor`` x larger);
                       ``std_read`` (B,) read-noise std (0 unless configured)

Raw low light (paper 004, SID)
    ``raw``            (B, 4, H/2, W/2) packed Bayer (or (B, 9, H/3, W/3) X-Trans), black-level
                       subtracted, multiplied by ``ratio`` and clipped to 1
    ``ratio``          (B,) amplification ratio
    ``target``         (B, 3, H, W) sRGB ground truth (already rendered: the net outputs sRGB)
    ``color_matrix``   (B, 3, 3) the capture's camera RGB -> linear sRGB matrix (unprocessing's ``cam2rgb``,
                       or the raw file's), for the classical forward ISP (pictures, ``traditional`` floor)
    ``wb_gains``       (B, 3) that ISP's white-balance (and brightness) gains of camera R, G, B
    ``tone_curve``     (B,) 1 where that ISP ends with the smoothstep tone curve (synthetic: unprocessing
                       inverted one), 0 where not (real captures: LibRaw renders the references without one)
    ``std_read``, ``std_shot`` (B,) synthetic mode only: noise stds of the dark capture (normalised raw
                       units, before amplification)

Every task also carries ``index`` (B,) the sample index in its source, for reproducible test sets.
"""

from __future__ import annotations

AMBIENT = "ambient"
FLASH_ONLY = "flash_only"
COLOR_MATRIX = "color_matrix"
NOFLASH = "noflash"
FLASH = "flash"
NOFLASH_STD = "noflash_std"
FLASH_STD = "flash_std"
EXTRA_NOFLASH = "extra_noflash"
EXTRA_NOFLASH_STD = "extra_noflash_std"
TARGET = "target"
GAIN = "gain"
DIM = "dim"
STD_READ = "std_read"
STD_SHOT = "std_shot"
HOMOGRAPHY = "homography"
DISPLACEMENT = "displacement"
BURST = "burst"
NOISE_STD = "noise_std"
WHITE_LEVEL = "white_level"
OFFSETS = "offsets"
SHORT = "short"
LONG = "long"
RAW = "raw"
RATIO = "ratio"
INDEX = "index"
SATURATION = "saturation"
EXPOSURE_LONG = "exposure_long"
EXPOSURE_SHORT = "exposure_short"
COLOR_GAIN = "color_gain"
COLOR_OFFSET = "color_offset"
SHORT_GAIN = "short_gain"
WB_GAINS = "wb_gains"
TONE_CURVE = "tone_curve"
