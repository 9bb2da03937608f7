"""Pieces shared by the flash/no-flash nets (DeepFnF and its baselines): the no-flash frame list and the
one-image basis filtering of DeepFnF-style nets (paper 000 eq. 3-4). The input check is
:func:`fnflight.nets.deepfnf.check_fnf_inputs`."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from fnflight import ops

__all__ = [
    "GlobalBasisTiling",
    "basis_radius",
    "exposure_normalize",
    "filter_with_basis",
    "match_exposure",
    "noflash_frames",
]


class GlobalBasisTiling:
    """The parts split tiling needs (:func:`fnflight.nets.tiling.supports_split_tiling`) of a net whose
    body ``self.net`` is a Table 3 :class:`~fnflight.nets.unet.EncoderDecoder` with a basis decoder and whose
    ``head(inputs, pixel, basis)`` filters with the basis (DeepFnF, no-flash only): mixed into them."""

    def unet_parts(self):
        return self.net.encoder, self.net.pixel_decoder, self.net.basis_decoder

    @property
    def head_radius(self) -> int:
        """How far (input px) the basis filter looks: its kernels' radius, the tent prefilter's ``d - 1``."""
        return basis_radius(self.kernel_size, self.dilation, self.coarse) + self.dilation

    def head_from_features(
        self, inputs: Sequence[Tensor | None], features: Tensor, basis: Tensor, margins: Sequence[int]
    ) -> Tensor:
        """``head``'s output from the PDec-F-1 ``features`` of a window ``margins`` (left, right, top,
        bottom) px larger than ``inputs``: the output conv on the whole window (its zero padding where the
        untiled forward has it), then the filter on the inputs."""
        pixel = self.net.pixel_decoder.out(features)
        left, right, top, bottom = margins
        h, w = pixel.shape[-2:]
        return self.head(inputs, pixel[..., top : h - bottom, left : w - right], basis)["output"]


def noflash_frames(
    noflash: Tensor,
    noflash_std: Tensor,
    extra_noflash: Tensor | None,
    extra_noflash_std: Tensor | None,
    extra: int,
) -> tuple[list[Tensor], list[Tensor]]:
    """The no-flash frames a net uses and their std maps: ``noflash`` then the first ``extra`` frames of
    ``extra_noflash`` (``(B, M, 3, H, W)``, already validated by :func:`check_fnf_inputs`).

    >>> import torch
    >>> x = torch.rand(1, 3, 8, 8)
    >>> images, stds = noflash_frames(x, x, torch.rand(1, 4, 3, 8, 8), torch.rand(1, 4, 3, 8, 8), 2)
    >>> len(images), len(stds), tuple(images[1].shape)
    (3, 3, (1, 3, 8, 8))
    """
    if extra <= 0:
        return [noflash], [noflash_std]
    images = [noflash, *extra_noflash[:, :extra].unbind(1)]
    stds = [noflash_std, *extra_noflash_std[:, :extra].unbind(1)]
    return images, stds


def exposure_normalize(image: Tensor, std: Tensor, eps: float = 1e-6) -> tuple[Tensor, Tensor, Tensor]:
    """Divide an image ``(B, C, H, W)`` and its noise std map by the image's per-sample mean brightness.

    Used by :class:`fnflight.nets.fnf_baselines.DirectPrediction` (a choice; the papers are silent on input
    scaling): its residual is predicted in units of the no-flash mean and scaled back, so the net sees every
    exposure at the same scale, on top of the shared input preparation (:func:`match_exposure` of the flash,
    :func:`fnflight.tasks.fnf.fnf_inputs`); for DeepFnF unit-mean inputs trained slower and less stably than
    that shared step alone. Returns
    ``(image / m, std / m, m)`` with ``m`` ``(B,1,1,1)``.

    >>> import torch
    >>> x = torch.full((2, 3, 4, 4), 0.01)
    >>> y, s, m = exposure_normalize(x, 0.1 * x)
    >>> float(y.mean()), float(s.mean()), tuple(m.shape)
    (1.0, 0.1..., (2, 1, 1, 1))
    """
    m = image.mean(dim=(1, 2, 3), keepdim=True).clamp_min(eps)
    return image / m, std / m, m


def match_exposure(image: Tensor, std: Tensor, reference: Tensor, eps: float = 1e-6) -> tuple[Tensor, Tensor]:
    """Scale an image ``(B, C, H, W)`` and its noise std map to the per-sample mean brightness of
    ``reference``: returns ``(image * r, std * r)`` with ``r = mean(reference) / mean(image)``, ``(B,1,1,1)``.

    Used to bring the flash image to the dimmed no-flash image's exposure before it enters any FnF network
    (:func:`fnflight.tasks.fnf.fnf_inputs`). The noise-to-signal ratio of the scaled image is unchanged.

    >>> import torch
    >>> flash, noflash = torch.full((1, 3, 4, 4), 0.5), torch.full((1, 3, 4, 4), 0.01)
    >>> f, s = match_exposure(flash, 0.1 * flash, noflash)
    >>> round(float(f.mean()), 4), round(float(s.mean()), 5)
    (0.01, 0.001)
    """
    dims = (1, 2, 3)
    ref_mean = reference.mean(dim=dims, keepdim=True).clamp_min(eps)
    r = ref_mean / image.mean(dim=dims, keepdim=True).clamp_min(eps)
    return image * r, std * r


def basis_radius(kernel_size: int, dilation: int, coarse: bool) -> int:
    """Radius of the footprint of a basis kernel: two-scale (``coarse``, K x K plus K x K upsampled by
    ``dilation`` after the tent prefilter) or one-scale K x K. The ops need H, W > radius.

    >>> basis_radius(15, 4, True), basis_radius(15, 4, False)
    (28, 7)
    """
    k, d = kernel_size, dilation
    return max(d * (k - 1) // 2, d - 1) if coarse else (k - 1) // 2


def filter_with_basis(
    image: Tensor, basis: Tensor, coeffs: Tensor, kernel_size: int, dilation: int, coarse: bool
) -> Tensor:
    """Filter one image ``(B, 3, H, W)`` with the basis decoder's output ``basis`` (``(B, ...)`` holding
    J x (2 if ``coarse`` else 1) x 3 x K x K values) and the per-pixel coefficients ``coeffs``
    ``(B, J, H, W)``; returns ``(B, 3, H, W)``.

    >>> import torch
    >>> image, coeffs = torch.rand(1, 3, 8, 8), torch.rand(1, 2, 8, 8)
    >>> tuple(filter_with_basis(image, torch.rand(1, 2 * 3 * 9), coeffs, 3, 1, False).shape)
    (1, 3, 8, 8)
    """
    b, j, k = basis.shape[0], coeffs.shape[1], kernel_size
    if coarse:
        basis = basis.reshape(b, j, 2, 3, k, k)  # J pairs (A_j, B_j) of per-colour K x K kernels
        # eq. 4: sum_j c_j ((x * A_j) + (tent(x) *_d B_j))
        return ops.two_scale_basis_filter(image, basis[:, :, 0], basis[:, :, 1], coeffs, dilation)
    # one-scale basis (Table 2 ablation): eq. 3 without the B_j term
    return ops.basis_filter(image, basis.reshape(b, j, 3, k, k), coeffs)
