"""fnflight.classical: classical (not learned) pipelines, the floors that ``fnflight eval`` computes in the
same run as the learned methods.

- :mod:`~fnflight.classical.raw_pipeline`: SID's "traditional pipeline" (paper 004 sec. 4): the amplified
  raw through a forward ISP, with or without a classical denoiser given the true noise level.
"""

from .raw_pipeline import traditional_denoise, traditional_isp, unpack_raw, vst_denoise

__all__ = ["traditional_denoise", "traditional_isp", "unpack_raw", "vst_denoise"]
