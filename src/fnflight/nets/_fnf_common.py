"""Pieces shared by the flash/no-flash nets (DeepFnF and its baselines): their one interface
(:class:`FlashNoFlashNet`: the forward signature and its input check, :func:`check_fnf_inputs`), the no-flash
frame list and the one-image basis filtering of DeepFnF-style nets (paper 000 eq. 3-4)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from fnflight import ops

__all__ = [
    "FlashNoFlashNet",
    "GlobalBasisTiling",
    "check_fnf_inputs",
    "basis_radius",
    "exposure_normalize",
    "filter_with_basis",
    "match_exposure",
    "noflash_frames",
]


def _check_image(name: str, x: object, like: Tensor | None = None) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must have shape (B, 3, H, W), got {tuple(x.shape)}")
    if like is not None and x.shape != like.shape:
        raise ValueError(f"{name} must have the shape of noflash {tuple(like.shape)}, got {tuple(x.shape)}")


def check_fnf_inputs(inputs: Sequence[Tensor | None], extra_needed: int = 0) -> None:
    """Validate the flash/no-flash forward arguments shared by every FnF net (DEVELOPING.md "nets"):
    ``inputs = (noflash, flash, noflash_std, flash_std[, extra_noflash, extra_noflash_std])``.

    ``noflash``, ``flash``, ``noflash_std``, ``flash_std``: ``(B, 3, H, W)``; ``extra_noflash`` and
    ``extra_noflash_std``: ``(B, M, 3, H, W)`` with ``M >= extra_needed``. Raises ``TypeError`` /
    ``ValueError`` naming the argument.

    >>> import torch
    >>> x = torch.rand(1, 3, 8, 8)
    >>> check_fnf_inputs((x, x, x, x))
    >>> check_fnf_inputs((x, x[..., :4], x, x))
    Traceback (most recent call last):
    ...
    ValueError: flash must have the shape of noflash (1, 3, 8, 8), got (1, 3, 8, 4)
    """
    noflash, flash, noflash_std, flash_std, extra_noflash, extra_noflash_std = (list(inputs) + [None, None])[
        :6
    ]
    _check_image("noflash", noflash)
    _check_image("flash", flash, noflash)
    _check_image("noflash_std", noflash_std, noflash)
    _check_image("flash_std", flash_std, noflash)
    if extra_needed <= 0:
        return
    b, _, h, w = noflash.shape
    for name, t in (("extra_noflash", extra_noflash), ("extra_noflash_std", extra_noflash_std)):
        if t is None:
            raise ValueError(f"{name} is required: this net uses {extra_needed} extra no-flash frame(s)")
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 5 or t.shape[0] != b or t.shape[2] != 3 or t.shape[-2:] != (h, w):
            raise ValueError(
                f"{name} must have shape (B, M, 3, H, W) = ({b}, M, 3, {h}, {w}), got {tuple(t.shape)}"
            )
        if t.shape[1] < extra_needed:
            raise ValueError(f"{name} must hold at least {extra_needed} frame(s), got {t.shape[1]}")


class FlashNoFlashNet(nn.Module):
    """The interface of every flash/no-flash net (DEVELOPING.md "nets"), stated once:
    ``forward(noflash, flash, noflash_std, flash_std, extra_noflash=None, extra_noflash_std=None) -> dict``
    checks the inputs (:func:`check_fnf_inputs`, ``extra_frames()`` extra no-flash frames required) and
    returns :meth:`enhance` of them. A net implements :meth:`enhance`; nets that take no extra frames
    ignore ``extra_noflash``.
    """

    def extra_frames(self) -> int:
        """How many extra no-flash frames the net uses (0: none; the extras are then ignored)."""
        return 0

    def forward(
        self,
        noflash: Tensor,
        flash: Tensor,
        noflash_std: Tensor,
        flash_std: Tensor,
        extra_noflash: Tensor | None = None,
        extra_noflash_std: Tensor | None = None,
    ) -> dict[str, Tensor]:
        extra = self.extra_frames()
        check_fnf_inputs((noflash, flash, noflash_std, flash_std, extra_noflash, extra_noflash_std), extra)
        return self.enhance(noflash, flash, noflash_std, flash_std, extra_noflash, extra_noflash_std)

    def enhance(self, noflash: Tensor, flash: Tensor, noflash_std: Tensor, flash_std: Tensor, *extra):
        """The net's output dict from checked inputs (``extra``: ``extra_noflash``, ``extra_noflash_std``)."""
        raise NotImplementedError


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
