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
    ``level``          (B,) validation / test only: the noise level, a gain of paper 002's protocol
                       (1, 2, 4, 8)

Short / long exposure (paper 003, LSD2): ``short``, ``long``, ``target`` are ENCODED images: gamma-2.2
display images ``x^(1/2.2)`` of the linear synthesis (paper sec. 3.1: gamma inverted, degraded in linear
space, gamma re-applied; ``encoding_gamma`` 2.2, the default) or linear ones (``encoding_gamma`` 1, the
``encoding="linear"`` option; the task renders those with ``gain``, ``color_matrix`` and the sRGB curve).
    ``short``          (B, 3, H, W) the short exposure AS CAPTURED, the network input: dark (a_i < 0.3),
                       colour-distorted, noisy (Poisson, 4x the long's), not clipped (may exceed 1)
    ``long``           (B, 3, H, W) the long exposure: overexposed, blurred along the camera rotation with a
                       rolling shutter (PSF from the exposure start), noisy, clipped to [0, 1]
    ``target``         (B, 3, H, W) sharp and clean at the long exposure, ``min(s * scene, 1)``, aligned with
                       the short exposure (the long one's PSF origin)
    ``short_gain``     (B,) display brightness match: ``short_gain * short`` (encoded) has the long
                       exposure's mean LINEAR intensity (``(mean(long) / mean(short))^(1 / encoding_gamma)``
                       with linear means; the short is shown that way in the paper, Fig. 3)
    ``encoding_gamma`` (B,) 2.2: the images are gamma-2.2 display images; 1.0: linear
    ``gain``           (B,) ones: ``target`` is already at the (saturated) long-exposure brightness
    ``color_matrix``   (B, 3, 3) camera RGB -> linear sRGB (identity for photos), for linear batches
    synthetic batches also carry the sampled parameters:
    ``saturation``     (B,) overexposure factor ``s`` (long = min(s * scene, 1), sec. 3.1.1)
    ``exposure_long``  (B,) long exposure time (s); ``exposure_short`` (B,) short exposure time (s)
    ``color_gain``     (B, 3) per-channel gains ``a_i`` of the short exposure (sec. 3.1.2)
    ``color_offset``   (B, 3) per-channel offsets ``b_i`` of the short exposure (sec. 3.1.2)
    ``std_shot``       (B,) shot-noise std of the long exposure (the short's is ``noise_factor`` x larger);
                       ``std_read`` (B,) read-noise std (0 unless configured)
    ``ambient``        (B, 3, H, W) the clean photo, LINEAR (after the DataModule's linearisation)
    real pairs (``ShortLongPairs``) carry ``short``, ``long``, ``target``, ``short_gain``,
    ``encoding_gamma``, ``gain``, ``color_matrix``, ``index`` (and ``exposure_long`` when the blur of the
    long exposure is synthesised)

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
LEVEL = "level"
SATURATION = "saturation"
EXPOSURE_LONG = "exposure_long"
EXPOSURE_SHORT = "exposure_short"
COLOR_GAIN = "color_gain"
COLOR_OFFSET = "color_offset"
SHORT_GAIN = "short_gain"
ENCODING_GAMMA = "encoding_gamma"
WB_GAINS = "wb_gains"
TONE_CURVE = "tone_curve"
