"""Baselines of paper 000 (sec. 4.1 "Baselines" and supplement "Baselines").

"Our baselines use similar architectures to our main method to enable a fair comparison": all of them are the
Table 3 encoder + per-pixel decoder (+ basis decoder where they use a basis), with the DeepFnF forward
signature ``forward(noflash, flash, noflash_std, flash_std, extra_noflash=None, extra_noflash_std=None)``
and a dict holding at least ``"output"`` ``(B, 3, H, W)``.

- :class:`NoFlashOnly`: single no-flash image (6 input channels), no scale map.
- :class:`BPN`: the original basis prediction network (Xia et al. 2020) on the flash/no-flash pair or on a
  burst of no-flash frames; softmax-normalised basis and coefficients; filter every frame and sum.
- :class:`KPNPair`: KPN (Mildenhall et al. 2018) on the pair: no basis decoder, 150 = 2 x 3 x 5 x 5 per-pixel
  kernel taps.
- :class:`DirectPrediction`: no basis decoder, 3-channel residual added to the noisy no-flash image.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fnflight import ops
from fnflight.nets._fnf_common import (
    FlashNoFlashNet,
    GlobalBasisTiling,
    basis_radius,
    exposure_normalize,
    filter_with_basis,
    noflash_frames,
)
from fnflight.nets.unet import (
    EncoderDecoder,
    crop_padding,
    init_weights,
    pad_min_size,
    table3_receptive_field,
)

__all__ = ["BPN", "DirectPrediction", "KPNPair", "NoFlashOnly"]


class NoFlashOnly(GlobalBasisTiling, FlashNoFlashNet):
    """Single-image no-flash denoiser: DeepFnF's architecture on the no-flash image alone (supplement
    "Baselines": 6 input channels, image and noise std; the per-pixel decoder outputs only the J coefficients,
    no scale map).

    The paper does not say whether this baseline keeps the two-scale (A_j, B_j) basis. Default ``coarse=True``
    keeps everything but the flash input and the scale map identical to DeepFnF (the "version of our
    architecture"); ``coarse=False`` uses a one-scale basis of K x K kernels.

    Args:
        num_basis: J. kernel_size: K. dilation: d of the coarse kernels. width: channel multiplier.
        coarse: two-scale basis (eq. 4) if True, one-scale otherwise.

    Forward: DeepFnF signature; only ``noflash`` and ``noflash_std`` are used (the others are validated and
    ignored). Returns ``{"output", "filtered"}``, both ``(B, 3, H, W)`` and equal (no scale map).

    >>> net = NoFlashOnly(num_basis=4, width=1 / 16)
    >>> x = torch.rand(1, 3, 37, 45)
    >>> net(x, x, x, x)["output"].shape
    torch.Size([1, 3, 37, 45])
    """

    def __init__(
        self,
        num_basis: int = 90,
        kernel_size: int = 15,
        dilation: int = 4,
        width: float = 1.0,
        coarse: bool = True,
    ):
        super().__init__()
        self.num_basis, self.kernel_size, self.dilation = int(num_basis), int(kernel_size), int(dilation)
        self.coarse = bool(coarse)
        self.net = EncoderDecoder(
            6,
            pixel_channels=self.num_basis,
            basis_channels=3 * (2 if self.coarse else 1) * self.num_basis,
            kernel_size=self.kernel_size,
            width=width,
        )
        self.stride = self.net.stride
        init_weights(self, "fan_in_uniform")

    def enhance(self, noflash: Tensor, flash: Tensor, noflash_std: Tensor, flash_std: Tensor, *extra):
        inputs = (noflash, flash, noflash_std, flash_std)
        coeffs, basis = self.net(self.body_input(*inputs))
        return self.head(inputs, coeffs, basis)

    @property
    def receptive_field(self) -> int:
        """As :attr:`fnflight.nets.deepfnf.DeepFnF.receptive_field` (540 px; the basis is global)."""
        return max(
            table3_receptive_field(), 2 * (basis_radius(self.kernel_size, self.dilation, self.coarse) + 4)
        )

    def body_input(
        self, noflash: Tensor, flash: Tensor, noflash_std: Tensor, flash_std: Tensor, *_
    ) -> Tensor:
        """The encoder-decoder's input: the no-flash image and its noise std map (6 channels)."""
        return torch.cat([noflash, noflash_std], dim=1)

    def head(self, inputs, coeffs: Tensor, basis: Tensor) -> dict[str, Tensor]:
        """Filter the no-flash image (``inputs[0]``) with ``basis`` and the per-pixel ``coeffs``."""
        k, d = self.kernel_size, self.dilation
        radius = basis_radius(k, d, self.coarse)
        (image, coeffs), pads = pad_min_size([inputs[0], coeffs], radius + 1)  # tiny inputs only
        out = crop_padding(filter_with_basis(image, basis, coeffs, k, d, self.coarse), pads)
        return {"output": out, "filtered": out}


class BPN(FlashNoFlashNet):
    """Basis prediction network (Xia et al. CVPR 2020) as the paper-000 baseline ("the original architecture
    from their paper": per-pixel decoder outputs the coefficients only, no scale map; one basis kernel per
    input frame; each frame filtered by its kernels and the results summed).

    Modes:
        ``"flash_noflash"``: frames (noflash, flash); input = images + std maps (12 channels).
        ``"noflash_burst"``: frames (noflash, extra_noflash[:, 0], ..., extra_noflash[:, frames - 2]);
        ``frames=2`` is the "2x no-flash" baseline of Table 1, ``frames=5, 7`` the BPN rows of Table 6.

    Normalisation (NOTES.md BPN): the coefficients are a softmax over the J basis elements at every pixel, and
    every basis element is a softmax over all its taps of all frames, separately per colour channel
    (``(N, K, K)`` for each ``(j, c)``). So the per-pixel kernel of each colour is a convex combination of
    frames and taps: positive and summing to one (a weighted average). ``normalize=False`` disables both.
    The kernels are per colour (``3`` kernels per frame), as DeepFnF's basis decoder outputs (supplement:
    "the two sets of kernels are used to filter the two input images"); K x K, no upsampling, dilation 1.

    Args:
        mode: ``"flash_noflash"`` or ``"noflash_burst"``.
        num_basis: J. kernel_size: K. width: channel multiplier.
        frames: frames in ``"noflash_burst"`` mode (>= 2); must be 2 in ``"flash_noflash"`` mode.
        normalize: softmax normalisation of basis and coefficients.

    Returns ``{"output"}`` ``(B, 3, H, W)``.

    >>> net = BPN(num_basis=4, width=1 / 16)
    >>> x = torch.rand(1, 3, 37, 45)
    >>> net(x, x, x, x)["output"].shape
    torch.Size([1, 3, 37, 45])
    """

    def __init__(
        self,
        mode: str = "flash_noflash",
        num_basis: int = 90,
        kernel_size: int = 15,
        width: float = 1.0,
        frames: int = 2,
        normalize: bool = True,
    ):
        super().__init__()
        if mode not in ("flash_noflash", "noflash_burst"):
            raise ValueError(f"mode must be 'flash_noflash' or 'noflash_burst', got {mode!r}")
        if mode == "flash_noflash" and frames != 2:
            raise ValueError(f"frames must be 2 in 'flash_noflash' mode, got {frames}")
        if frames < 2:
            raise ValueError(f"frames must be >= 2, got {frames}")
        self.mode, self.frames, self.normalize = mode, int(frames), bool(normalize)
        self.num_basis, self.kernel_size = int(num_basis), int(kernel_size)
        self.net = EncoderDecoder(
            6 * self.frames,
            pixel_channels=self.num_basis,
            basis_channels=3 * self.frames * self.num_basis,
            kernel_size=self.kernel_size,
            width=width,
        )
        self.stride = self.net.stride
        init_weights(self, "fan_in_uniform")

    @staticmethod
    def normalize_basis(basis: Tensor, coeffs: Tensor) -> tuple[Tensor, Tensor]:
        """BPN softmax normalisation.

        Args:
            basis: ``(B, J, N, C, K, K)`` raw basis. coeffs: ``(B, J, H, W)`` raw coefficients.

        Returns:
            ``(basis, coeffs)``, same shapes: ``basis[:, j, :, c]`` sums to one over ``(N, K, K)`` and
            ``coeffs`` sums to one over J.

        >>> b, c = BPN.normalize_basis(torch.randn(1, 3, 2, 3, 5, 5), torch.randn(1, 3, 4, 4))
        >>> torch.allclose(b.sum(dim=(2, 4, 5)), torch.ones(1, 3, 3))
        True
        >>> torch.allclose(c.sum(1), torch.ones(1, 4, 4))
        True
        """
        bsz, j, n, c, k, _ = basis.shape
        flat = basis.permute(0, 1, 3, 2, 4, 5).reshape(bsz, j, c, n * k * k).softmax(dim=-1)
        basis = flat.reshape(bsz, j, c, n, k, k).permute(0, 1, 3, 2, 4, 5)
        return basis, coeffs.softmax(dim=1)

    def extra_frames(self) -> int:
        """The no-flash burst variant's extra frames (frames - 1); the pair variant takes none."""
        return self.frames - 1 if self.mode == "noflash_burst" else 0

    def enhance(self, noflash: Tensor, flash: Tensor, noflash_std: Tensor, flash_std: Tensor, *extra):
        if self.extra_frames():
            images, stds = noflash_frames(noflash, noflash_std, *extra, self.extra_frames())
        else:
            images, stds = [noflash, flash], [noflash_std, flash_std]
        coeffs, basis = self.net(torch.cat(images + stds, dim=1))
        b, j, k = basis.shape[0], self.num_basis, self.kernel_size
        basis = basis.reshape(b, j, self.frames, 3, k, k)
        if self.normalize:
            basis, coeffs = self.normalize_basis(basis, coeffs)
        # BPN: sum_j c_j sum_n (x_n * basis_{j,n}): every frame filtered, results summed
        (frames, coeffs), pads = pad_min_size([torch.stack(images, dim=1), coeffs], k // 2 + 1)  # tiny inputs
        out = ops.basis_filter(frames, basis, coeffs)
        return {"output": crop_padding(out, pads)}


class KPNPair(FlashNoFlashNet):
    """KPN (Mildenhall et al. 2018) on the flash/no-flash pair (supplement "Baselines"): Table 3 encoder and
    per-pixel decoder, no global decoder; the per-pixel decoder outputs ``2 x 3 x K x K`` channels (150 for
    K = 5): one K x K kernel per colour channel for each of the no-flash and flash images. Both are filtered
    with their per-pixel kernels (``kernel_field_filter``) and summed. No normalisation and no bias (NOTES
    KPN). Channel layout: ``(frame, colour, tap)`` with frame 0 = no-flash, tap row-major.

    Args:
        kernel_size: K (paper: 5). width: channel multiplier.

    Returns ``{"output"}`` ``(B, 3, H, W)``.

    >>> net = KPNPair(width=1 / 16)
    >>> net.num_kernel_channels
    150
    """

    def __init__(self, kernel_size: int = 5, width: float = 1.0):
        super().__init__()
        self.kernel_size = int(kernel_size)
        self.num_kernel_channels = 2 * 3 * self.kernel_size**2
        self.net = EncoderDecoder(12, pixel_channels=self.num_kernel_channels, width=width)
        self.stride = self.net.stride
        init_weights(self, "fan_in_uniform")

    def enhance(self, noflash: Tensor, flash: Tensor, noflash_std: Tensor, flash_std: Tensor, *extra):
        kernels, _ = self.net(torch.cat([noflash, flash, noflash_std, flash_std], dim=1))
        b, _, h, w = kernels.shape
        kernels = kernels.reshape(b, 2, 3, self.kernel_size**2, h, w)
        frames = torch.stack([noflash, flash], dim=1)
        (frames, kernels), pads = pad_min_size([frames, kernels], self.kernel_size // 2 + 1)  # tiny inputs
        return {"output": crop_padding(ops.kernel_field_filter(frames, kernels), pads)}


class DirectPrediction(FlashNoFlashNet):
    """Direct prediction baseline (supplement "Baselines"): Table 3 encoder and per-pixel decoder, no global
    decoder; the decoder outputs a 3-channel map added as a residual to the noisy no-flash image.

    Returns ``{"output"}`` ``(B, 3, H, W)``.

    >>> net = DirectPrediction(width=1 / 16)
    >>> x = torch.rand(2, 3, 37, 45)
    >>> net(x, x, x, x)["output"].shape
    torch.Size([2, 3, 37, 45])
    """

    def __init__(self, width: float = 1.0):
        super().__init__()
        self.net = EncoderDecoder(12, pixel_channels=3, width=width)
        self.stride = self.net.stride
        init_weights(self, "fan_in_uniform")
        # The residual head starts at zero (output = noisy no-flash). With the authors' uniform init its
        # O(0.1) output swamps inputs of O(1e-3) (dimmed linear images), and on our CPU budget the net never
        # recovered (Kodak PSNR 3-12 dB after 3000 steps). The paper does not say how this baseline was
        # initialised; a zero residual is the standard choice.
        nn.init.zeros_(self.net.pixel_decoder.out.weight)
        nn.init.zeros_(self.net.pixel_decoder.out.bias)

    def enhance(self, noflash: Tensor, flash: Tensor, noflash_std: Tensor, flash_std: Tensor, *extra):
        # every input divided by the no-flash mean brightness m (exposure_normalize); the residual is
        # predicted in units of m and scaled back, so it lives at the no-flash exposure. The flash is divided
        # by the same m, not by its own mean: how it relates to the no-flash exposure is the shared input
        # preparation's business (fnflight.tasks.fnf.fnf_inputs), as for every other FnF net
        nf, nf_std, m = exposure_normalize(noflash, noflash_std)
        f, f_std = flash / m, flash_std / m
        residual, _ = self.net(torch.cat([nf, f, nf_std, f_std], dim=1))
        return {"output": noflash + m * residual}
