"""fnflight: low-light photography with learned filtering.

Sub-packages, one topic each:

- :mod:`fnflight.ops`: the differentiable filtering core (kernel fields, kernel bases, two-scale bases,
  multi-layer predicted filtering).
- :mod:`fnflight.imaging`: the camera model (sRGB curves, rendering, noise, homographies, blur, raw).
- :mod:`fnflight.data`: image sources, flash synthesis, LightningDataModules, deterministic test sets.
- :mod:`fnflight.nets`: plain ``nn.Module`` networks, one file per architecture.
- :mod:`fnflight.tasks`: thin LightningModules (loss + metrics + logging around a net).
- :mod:`fnflight.cli`: the ``fnflight`` command.
"""

__version__ = "0.1.0"
