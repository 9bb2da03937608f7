"""fnflight.classical: classical (not learned) pipelines, the floors that ``fnflight eval`` computes in the
same run as the learned methods.

- :mod:`~fnflight.classical.raw_pipeline`: SID's "traditional pipeline" (paper 004 sec. 4): the amplified
  raw through a forward ISP, with or without a classical denoiser given the true noise level.
- :mod:`~fnflight.classical.short_long`: the short or the long exposure alone (brightness-matched, denoised).
- :mod:`~fnflight.classical.vst_denoise`: Poisson-Gaussian denoising given the noise level (raw, bursts, and
  the no-flash image alone: ``nlmeans_noflash``).
- :mod:`~fnflight.classical.petschnigg`: flash/no-flash joint bilateral filtering and detail transfer
  (Petschnigg et al. 2004).
"""

from .petschnigg import petschnigg
from .raw_pipeline import traditional_denoise, traditional_isp, unpack_raw
from .short_long import denoise_short, match_brightness
from .vst_denoise import vst_denoise

__all__ = [
    "denoise_short",
    "match_brightness",
    "petschnigg",
    "traditional_denoise",
    "traditional_isp",
    "unpack_raw",
    "vst_denoise",
]
