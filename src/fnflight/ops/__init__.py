"""fnflight.ops: the differentiable filtering core (kornia style: function + ``nn.Module`` twin).

- :func:`kernel_field_filter` / :class:`KernelFieldFilter`: per-pixel kernel fields (KPN).
- :func:`basis_filter` / :class:`BasisFilter`: global kernel basis + per-pixel coefficients (BPN).
- :func:`two_scale_basis_filter` / :class:`TwoScaleBasisFilter`, :func:`tent_prefilter`,
  :func:`upsample_kernel`: the two-scale basis of DeepFnF (paper 000 eq. 3-4).
- :func:`multilayer_filter` / :class:`MultiLayerFilter`: multi-layer predicted filtering (paper 001 eq. 4-5).

:func:`release_scratch` frees the scratch buffers the basis filters keep between calls on CPU.

All are reflect-padded, differentiable, device-agnostic, and compute in float32 under autocast.
:mod:`fnflight.ops.reference` holds slow obviously-correct versions.
"""

from fnflight.ops.basis_filter import BasisFilter, basis_filter, release_scratch
from fnflight.ops.kernel_field import KernelFieldFilter, kernel_field_filter
from fnflight.ops.multilayer import MultiLayerFilter, box_sum, multilayer_filter
from fnflight.ops.two_scale import (
    TwoScaleBasisFilter,
    tent_kernel,
    tent_prefilter,
    two_scale_basis_filter,
    upsample_kernel,
)

__all__ = [
    "BasisFilter",
    "KernelFieldFilter",
    "MultiLayerFilter",
    "TwoScaleBasisFilter",
    "basis_filter",
    "box_sum",
    "kernel_field_filter",
    "multilayer_filter",
    "release_scratch",
    "tent_kernel",
    "tent_prefilter",
    "two_scale_basis_filter",
    "upsample_kernel",
]
