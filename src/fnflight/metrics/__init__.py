"""fnflight.metrics: how outputs are scored, shared by training, ``fnflight eval`` and the benchmarks.

- :mod:`~fnflight.metrics.image_quality`: per-image PSNR / SSIM on clipped sRGB, aggregated per level
  (:class:`~fnflight.metrics.image_quality.DimMetrics`).
- :mod:`~fnflight.metrics.lpips`: LPIPS (paper 001's perceptual column) from a LOCAL weights file.
- :mod:`~fnflight.metrics.color_artifacts`: ``chroma_off``, the share of output pixels whose colour neither
  input has.
"""
