"""Flash-compensated hierarchical network (paper 001, Kuang et al., sec. 2.2 and 3.2; Fig. 1).

"Two encoders and three decoders": a per-pixel decoder predicts, for each of the two images, per-pixel basis
coefficients, kernel biases, residual-connection weights and an importance map; two basis decoders ("identical
in structures without weight sharing", globally pooled skips) predict a low-rank basis for each layer of a
"Sample-Adaptive Element-wise CNN" (SAECNN). Each image is filtered by its predicted 3-layer CNN (15x15, 7x7,
3x3 kernels with weighted residual connections, eq. 4-5, ``fnflight.ops.multilayer_filter``) and the two
results are fused with the importance maps (eq. 6).

No public code exists (NOTES.md); every choice the paper leaves open is listed in :class:`SAECNN`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from fnflight import ops
from fnflight.nets._fnf_common import FlashNoFlashNet, basis_radius
from fnflight.nets.unet import (
    BasisDecoder,
    Encoder,
    PixelDecoder,
    crop_padding,
    init_weights,
    pad_min_size,
    pad_to_multiple,
)

__all__ = ["SAECNN"]


class SAECNN(FlashNoFlashNet):
    """Flash Compensated Dynamic Filtering Network (paper 001).

    Architecture (sec. 2.2, Fig. 1) with the choices made where the paper is silent:
        - Encoders: two Table 3 encoders (paper 001 builds on [8] DeepFnF / [12] BPN), one per image, each
          at ``branch_width`` (default 1/2) of the Table 3 widths so that their concatenation has the Table 3
          widths and the whole net stays close to DeepFnF's size (83,382,646 parameters at ``width=1``;
          paper 001 gives no size, only that its ablations keep "model sizes almost the same"). The
          low-light branch sees ``[noflash, noflash_std]``, the flash branch ``[flash, flash_std]``
          (6 channels each; the noise std input follows DeepFnF, whose data protocol paper 001 reuses).
        - Fusion of the encoders: every decoder sees both, by concatenation: the per-pixel decoder gets the
          concatenated bottlenecks and skips (Table 3 PDec widths), each basis decoder the global pools of
          the concatenated features (Table 3 GDec widths).
        - Per-pixel decoder outputs, per image (eq. 4): J coefficients ``C^i(r)`` shared by the L layers
          (eq. 4 has no layer index on ``C^i``), L kernel biases ``b^k(r)`` (one scalar per pixel and layer,
          shared by the colours and added to every tap of the kernel, as ``multilayer_filter`` defines),
          L residual weights ``alpha^k(r)`` (one per pixel and layer) and a 3-channel importance map (``A``
          resp. ``A_f``). All linear (no activation, no normalisation), like DeepFnF's coefficients and scale
          map, so the flash branch's importance map can also rescale brightness and colour.
        - Basis decoders: the Table 3 GDec trunk shared by one head per kernel size (15, 7, 3; sec. 3.2);
          bases are per colour, ``(B, J, 3, K, K)``, not normalised.
        - The paper's "kernel for filtering the bilinear interpolation images (15x15)" (sec. 3.2, "inherit
          the method in [8] that obtains a larger kernel using interpolation"): DeepFnF's coarse kernel,
          K x K upsampled by ``dilation`` (4, as DeepFnF), added to the FIRST layer only (paper silent on
          which layer; the first is the 15x15 one, so with it the layer reaches DeepFnF's 57x57 footprint).
          Its basis doubles the first head's output like DeepFnF's (J pairs); ``coarse=False`` drops it.
          J defaults to 90 (as DeepFnF; paper 001 does not give J).
        - Init U(+-sqrt(3/fan_in)), zero bias (DeepFnF's).

    Args:
        num_basis: J. kernel_sizes: kernel size per layer, first layer first (paper: 15, 7, 3).
        coarse: give the first layer DeepFnF's two-scale kernel (paper: yes). dilation: its ``d``.
        width: channel multiplier (1.0 = Table 3 widths for the decoders and the concatenated encoders).
        branch_width: width of each branch encoder relative to ``width`` (1.0 = two full Table 3 encoders,
            174M parameters at ``width=1``).
        fusion: ``"importance"`` (eq. 6) or ``"add"``: Table 2's ablation, the two results added (the
            predicted kernels absorb the scale).
        flash_branch: what the second branch sees: ``"flash"`` (the paper) or ``"noflash"``: Table 2's
            ablation "flash input replaced by the low-light input" (both branches see the low-light image and
            its noise map). Table 2's third ablation, one predicted kernel instead of the multi-layer CNN, is
            ``kernel_sizes=[15]``.

    Forward: DeepFnF signature (``extra_noflash*`` ignored); all images ``(B, 3, H, W)``, any H, W.

    Returns:
        ``{"output": A * from_noflash + A_f * from_flash (eq. 6), "from_noflash", "from_flash",
        "importance", "importance_flash"}``, all ``(B, 3, H, W)``.

    >>> net = SAECNN(num_basis=4, width=1 / 16)
    >>> x = torch.rand(1, 3, 37, 45)
    >>> sorted((k, tuple(v.shape)) for k, v in net(x, x, x, x).items())[0]
    ('from_flash', (1, 3, 37, 45))
    """

    def __init__(
        self,
        num_basis: int = 90,
        kernel_sizes: tuple[int, ...] = (15, 7, 3),
        width: float = 1.0,
        branch_width: float = 0.5,
        coarse: bool = True,
        dilation: int = 4,
        fusion: str = "importance",
        flash_branch: str = "flash",
    ):
        super().__init__()
        if fusion not in ("importance", "add"):
            raise ValueError(f"fusion must be 'importance' or 'add', got {fusion!r}")
        if flash_branch not in ("flash", "noflash"):
            raise ValueError(f"flash_branch must be 'flash' or 'noflash', got {flash_branch!r}")
        self.fusion, self.flash_branch = fusion, flash_branch
        if num_basis < 1:
            raise ValueError(f"num_basis must be >= 1, got {num_basis}")
        if not kernel_sizes or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"kernel_sizes must be positive odd sizes, got {kernel_sizes}")
        self.num_basis = int(num_basis)
        if dilation < 1:
            raise ValueError(f"dilation must be >= 1, got {dilation}")
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.coarse, self.dilation = bool(coarse), int(dilation)
        layers = len(self.kernel_sizes)
        self.encoder = Encoder(6, width * branch_width)  # low-light branch
        self.encoder_flash = Encoder(6, width * branch_width)  # flash branch
        self.stride = self.encoder.stride
        enc = [2 * c for c in self.encoder.channels]  # concatenated features
        # per image: J coefficients + L biases + L residual weights + 3 importance channels
        self.per_image = self.num_basis + 2 * layers + 3
        self.pixel_decoder = PixelDecoder(enc[-1], enc, 2 * self.per_image, width)
        basis_out = [3 * self.num_basis] * layers
        basis_out[0] *= 2 if self.coarse else 1  # J pairs (fine, coarse) for the first layer
        self.basis_decoder = BasisDecoder(enc[-1], enc, basis_out, self.kernel_sizes, width)
        self.basis_decoder_flash = BasisDecoder(enc[-1], enc, basis_out, self.kernel_sizes, width)
        init_weights(self, "fan_in_uniform")

    def extra_repr(self) -> str:
        return (
            f"num_basis={self.num_basis}, kernel_sizes={self.kernel_sizes}, coarse={self.coarse}, "
            f"dilation={self.dilation}, fusion={self.fusion}, flash_branch={self.flash_branch}"
        )

    def _split(self, maps: Tensor, bases: list[Tensor]) -> tuple[list, list, list, list, list, Tensor]:
        j, layers = self.num_basis, len(self.kernel_sizes)
        coeffs = maps[:, :j]
        biases = maps[:, j : j + layers].split(1, dim=1)  # (B, 1, H, W) each
        alphas = maps[:, j + layers : j + 2 * layers].split(1, dim=1)
        importance = maps[:, j + 2 * layers :]
        b = maps.shape[0]
        coarse: list[Tensor | None] = [None] * layers
        if self.coarse:
            k = self.kernel_sizes[0]
            pairs = bases[0].reshape(b, j, 2, 3, k, k)
            bases = [pairs[:, :, 0], *bases[1:]]
            coarse[0] = pairs[:, :, 1]
        bases = [basis.reshape(b, j, 3, k, k) for basis, k in zip(bases, self.kernel_sizes)]
        return bases, coarse, [coeffs] * layers, list(biases), list(alphas), importance

    def enhance(self, noflash: Tensor, flash: Tensor, noflash_std: Tensor, flash_std: Tensor, *extra):
        if self.flash_branch == "noflash":  # Table 2 ablation: no flash at all
            flash, flash_std = noflash, noflash_std
        xn, pads = pad_to_multiple(torch.cat([noflash, noflash_std], dim=1), self.stride)
        xf, _ = pad_to_multiple(torch.cat([flash, flash_std], dim=1), self.stride)
        bn, sn = self.encoder(xn)
        bf, sf = self.encoder_flash(xf)
        bottleneck = torch.cat([bn, bf], dim=1)
        skips = [torch.cat(pair, dim=1) for pair in zip(sn, sf)]
        maps = crop_padding(self.pixel_decoder(bottleneck, skips), pads)
        # the ops need H, W > kernel radius: tiny inputs are reflect-padded for filtering, then cropped
        radius = max(
            basis_radius(k, self.dilation, self.coarse and i == 0) for i, k in enumerate(self.kernel_sizes)
        )
        (noflash, flash, maps), fpads = pad_min_size([noflash, flash, maps], radius + 1)
        maps_n, maps_f = maps[:, : self.per_image], maps[:, self.per_image :]
        bases_n, coarse_n, c_n, b_n, a_n, importance = self._split(
            maps_n, self.basis_decoder(bottleneck, skips)
        )
        bases_f, coarse_f, c_f, b_f, a_f, importance_f = self._split(
            maps_f, self.basis_decoder_flash(bottleneck, skips)
        )
        # eq. 4-5: each image through its own predicted multi-layer CNN
        d = self.dilation
        from_noflash = ops.multilayer_filter(noflash, bases_n, c_n, b_n, a_n, coarse_n, d)
        from_flash = ops.multilayer_filter(flash, bases_f, c_f, b_f, a_f, coarse_f, d)
        from_noflash, from_flash = crop_padding(from_noflash, fpads), crop_padding(from_flash, fpads)
        importance, importance_f = crop_padding(importance, fpads), crop_padding(importance_f, fpads)
        if self.fusion == "importance":
            output = importance * from_noflash + importance_f * from_flash  # eq. 6
        else:  # Table 2 ablation: plain addition
            output = from_noflash + from_flash
        return {
            "output": output,
            "from_noflash": from_noflash,
            "from_flash": from_flash,
            "importance": importance,
            "importance_flash": importance_f,
        }
