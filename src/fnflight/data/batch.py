"""The batch dictionary: one place that documents every key that travels from data to loss.

A batch is a plain ``dict[str, Tensor]``. The CPU side (Dataset + collate) fills the *clean* keys; the
on-device degradation step (``DataModule.on_after_batch_transfer``) adds the *degraded* keys and the
sampled parameters. Images are linear camera RGB in ``[0, 1]`` (before gain), shape ``(B, 3, H, W)``
unless stated. Rendering to sRGB for loss, metrics and pictures is
``srgb(gain * color_matrix @ image)`` (paper 000, sec. 3.3).

Flash / no-flash (paper 000)
    ``ambient``        clean ambient-only image, undimmed (CPU side)
    ``flash_only``     clean flash-only image (CPU side)
    ``color_matrix``   (B, 3, 3) camera RGB -> linear sRGB
    ``noflash``        noisy dimmed no-flash input
    ``flash``          noisy flash input (``2 * flash_only + alpha * ambient``, warped)
    ``noflash_std``    per-pixel noise std of ``noflash`` (computed from the noisy image)
    ``flash_std``      per-pixel noise std of ``flash``
    ``extra_noflash``  (B, M, 3, H, W) optional further noisy no-flash frames (Table 6 variant / 2-frame burst)
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

Short / long exposure (paper 003, LSD2)
    ``short``          noisy, colour-distorted short exposure (brightness-matched)
    ``long``           blurred, saturated long exposure
    ``target``         sharp clean image aligned with the short exposure

Raw low light (paper 004, SID)
    ``raw``            (B, 4, H/2, W/2) packed Bayer (or (B, 9, H/3, W/3) X-Trans), black-level
                       subtracted, multiplied by ``ratio`` and clipped to 1
    ``ratio``          (B,) amplification ratio
    ``target``         (B, 3, H, W) sRGB ground truth (already rendered: ``color_matrix`` identity, gain 1)

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
SHORT = "short"
LONG = "long"
RAW = "raw"
RATIO = "ratio"
INDEX = "index"
