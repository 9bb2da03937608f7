"""DeepFnF: deep denoising of flash / no-flash pairs (paper 000, sec. 3.2 and supplement Table 3).

The network predicts a global basis of J pairs of per-colour K x K kernels ``(A_j, B_j)`` and per-pixel
coefficients ``c_j`` plus a 3-channel scale map ``G``; only the noisy no-flash image is filtered with the
two-scale kernels ``A_j + B_j (upsampled by d)`` (eq. 3-4, done by ``fnflight.ops.two_scale_basis_filter``)
and the result is multiplied by ``G`` (eq. 5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from fnflight import ops
from fnflight.nets._fnf_common import (
    FlashNoFlashNet,
    GlobalBasisTiling,
    basis_radius,
    check_fnf_inputs,
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

__all__ = ["SCALE_MAPS", "DeepFnF", "bounded_scale_map", "check_fnf_inputs"]

# How the decoder's scale-map channels become G (eq. 5): the paper's linear per-colour map, or a positive,
# bounded gain shared by the colours (DeepFnF docstring, ``scale_map``).
SCALE_MAPS = ("linear", "bounded")
# How the filter's output layers start (DeepFnF docstring, ``filter_init``)
FILTER_INITS = ("authors", "box")


def bounded_scale_map(raw: Tensor, g_max: float = 8.0) -> Tensor:
    """A positive gain shared by the colours: ``g_max ** tanh(mean_c raw)``, in ``[1/g_max, g_max]``.

    Args:
        raw: ``(B, 3, H, W)`` the decoder's scale-map channels.
        g_max: the largest gain (> 1); the smallest is its inverse.

    Returns:
        ``(B, 3, H, W)``, the three channels equal (so ``F * G`` keeps the colour of ``F``).

    >>> g = bounded_scale_map(torch.tensor([[-50.0, 0.0, 50.0]]).reshape(1, 3, 1, 1).expand(2, 3, 1, 1))
    >>> g.flatten().tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    >>> round(float(bounded_scale_map(torch.full((1, 3, 1, 1), 50.0)).max()), 3)
    8.0
    """
    if raw.dim() != 4:
        raise ValueError(f"raw must have shape (B, C, H, W), got {tuple(raw.shape)}")
    if not g_max > 1.0:
        raise ValueError(f"g_max must be > 1, got {g_max}")
    log_gain = math.log(g_max) * torch.tanh(raw.mean(dim=1, keepdim=True))
    return torch.exp(log_gain).expand_as(raw)


class DeepFnF(GlobalBasisTiling, FlashNoFlashNet):
    """Flash / no-flash denoiser of paper 000 (sec. 3.2, supplement Table 3).

    Args:
        num_basis: J, number of basis elements (paper: 90).
        kernel_size: K, basis kernel size (paper: 15). K = 15 is Table 3 exactly; other K resize the basis
            decoder's 16x16 map to (K+1)x(K+1) before its 2x2 valid conv (see ``BasisDecoder``).
        dilation: d, upsampling factor of the coarse kernels B_j (paper: 4, footprint (K-1)d+1 = 57).
        width: channel multiplier (1.0 = Table 3, 78,471,033 parameters for J=90, K=15; NOTES: ~78.5M).
        reference: ``"noflash"`` or ``"flash"``: which input the output is geometrically aligned to. Metadata
            only: the training data decides the alignment (sec. 3.1); the network is the same.
        coarse: use the coarse kernels B_j (eq. 4). ``False`` is the Table 2 ablation without B_j (one-scale
            basis of K x K kernels, ``basis_filter`` with A_j only). ``None`` (default) = the paper's choice:
            ``True`` for a pair, ``False`` for the ``extra_noflash > 0`` variant (supplement, Table 6: "we do
            not use kernel upsampling in these experiments").
        extra_noflash: M, number of additional no-flash frames (Table 6 variant, flash + (M+1) no-flash
            frames). Inputs are concatenated (12 + 6M channels); the basis has one K x K per-colour kernel
            per no-flash frame, every no-flash frame is filtered and the results summed, then times the
            scale map. ``coarse=True`` with M > 0 (not in the paper) applies the two-scale filter per frame.
        scale_map_init: initial value of the scale map G (the bias of its 3 linear output channels).
            The authors' code initialises every bias to zero (NOTES), so G starts near 0 and the output
            F * G sits at a saddle where neither factor gets a useful gradient; on a small CPU budget that
            stalled training (val PSNR flat from 200 to 3000 steps). Starting at G = 1 makes the net begin
            as a pure filter of the no-flash image (the no-flash baseline) and learn flash detail through G.
            Architecture unchanged (still a linear conv); ``0.0`` restores the authors' initialisation.
        scale_map: how the decoder's 3 scale-map channels ``s`` become ``G`` (:data:`SCALE_MAPS`).
            ``"linear"``: the paper's ``G = s`` per colour. ``"bounded"`` (our choice, see
            :func:`bounded_scale_map`): one gain for the three colours, ``G = g_max ** tanh(mean_c s')``, in
            ``[1 / g_max, g_max]``. Why: on a real pair with a clipped light source the paper's G went
            negative in red and green and positive in blue at the source (G = -0.71 / -0.50 / +0.41 against
            0.76 elsewhere, shipped 8000-step net), which painted the lamp blue; a positive gain shared by
            the colours cannot change the hue of the filtered no-flash image F, only its brightness, so the
            flash's detail still comes through G while its colour cannot.
        scale_map_max: ``g_max`` of the bounded scale map.
        filter_init: how the filter starts. ``"authors"`` (default): every layer as the authors' code
            (NOTES: U(+-sqrt(3/fan_in)) weights, zero biases), so the first filtered image F is a random
            combination of random kernels whose mean is about 0 (-1e-6 against a no-flash mean of 0.013 on
            a make-train batch), and the scale map G, whose gradient is proportional to F, gets almost
            none: after 1000 CPU steps G still spanned only 0.98-1.06 and the output was a blur that
            never took the flash's detail. ``"box"`` (our choice, not in the paper): the output layers of
            the kernel basis and of the coefficients start at zero weights with biases that make every
            fine kernel A_j a K x K box (1/K^2), every coarse B_j zero and every coefficient 1/J, and the
            scale map's rows start at zero weights: the net starts as a box filter of the no-flash image
            times G = ``scale_map_init``, a denoiser whose every part gets a useful gradient at step 0.
        The flash reaches the net as the task prepares it (one step for every flash/no-flash net:
        :func:`fnflight.tasks.fnf.fnf_inputs`, by default brought to the no-flash exposure).

    Forward:
        ``noflash, flash, noflash_std, flash_std``: ``(B, 3, H, W)`` linear images and their noise std maps
        (any H, W; padded to a multiple of 32 internally); ``extra_noflash``, ``extra_noflash_std``:
        ``(B, M', 3, H, W)``, required with ``M' >= M`` when ``extra_noflash = M > 0`` (the first M frames
        are used) and ignored otherwise.

    Returns:
        dict with ``"output"`` ``(B, 3, H, W)`` (= filtered * scale_map, eq. 5), ``"filtered"``
        ``(B, 3, H, W)`` (F of eq. 3-4) and ``"scale_map"`` ``(B, 3, H, W)`` (G of eq. 5).

    Example:
        >>> import torch
        >>> net = DeepFnF(num_basis=4, width=1 / 16)
        >>> x = torch.rand(1, 3, 37, 45)
        >>> out = net(x, x, 0.1 * x, 0.1 * x)
        >>> {k: tuple(v.shape) for k, v in out.items()}
        {'output': (1, 3, 37, 45), 'filtered': (1, 3, 37, 45), 'scale_map': (1, 3, 37, 45)}
    """

    def __init__(
        self,
        num_basis: int = 90,
        kernel_size: int = 15,
        dilation: int = 4,
        width: float = 1.0,
        reference: str = "noflash",
        coarse: bool | None = None,
        extra_noflash: int = 0,
        scale_map_init: float = 1.0,
        scale_map: str = "linear",
        scale_map_max: float = 8.0,
        filter_init: str = "authors",
    ):
        super().__init__()
        if scale_map not in SCALE_MAPS:
            raise ValueError(f"scale_map must be one of {SCALE_MAPS}, got {scale_map!r}")
        if filter_init not in FILTER_INITS:
            raise ValueError(f"filter_init must be one of {FILTER_INITS}, got {filter_init!r}")
        if not scale_map_max > 1.0:
            raise ValueError(f"scale_map_max must be > 1, got {scale_map_max}")
        if scale_map == "bounded" and not 1.0 / scale_map_max < scale_map_init < scale_map_max:
            raise ValueError(
                f"a bounded scale map starts inside (1/{scale_map_max:g}, {scale_map_max:g}); "
                f"got scale_map_init={scale_map_init}"
            )
        if reference not in ("noflash", "flash"):
            raise ValueError(f"reference must be 'noflash' or 'flash', got {reference!r}")
        if num_basis < 1:
            raise ValueError(f"num_basis must be >= 1, got {num_basis}")
        if dilation < 1:
            raise ValueError(f"dilation must be >= 1, got {dilation}")
        if extra_noflash < 0:
            raise ValueError(f"extra_noflash must be >= 0, got {extra_noflash}")
        self.num_basis = int(num_basis)
        self.kernel_size = int(kernel_size)
        self.dilation = int(dilation)
        self.reference = reference
        self.extra_noflash = int(extra_noflash)
        self.coarse = (self.extra_noflash == 0) if coarse is None else bool(coarse)
        self.frames = 1 + self.extra_noflash  # no-flash frames filtered
        scales = 2 if self.coarse else 1
        in_channels = 6 * (self.frames + 1)  # images then std maps: (no-flash frames, flash)
        # Table 3 outputs: per-pixel decoder J + 3 (coefficients, scale map); basis decoder 3 x 2 x J
        # (Table 6 variant: 3 x (M+1) x J; Table 2 "no B_j": 3 x J)
        self.net = EncoderDecoder(
            in_channels,
            pixel_channels=self.num_basis + 3,
            basis_channels=3 * scales * self.frames * self.num_basis,
            kernel_size=self.kernel_size,
            width=width,
        )
        self.stride = self.net.stride
        init_weights(self, "fan_in_uniform")  # NOTES: U(+-sqrt(3/fan_in)), zero bias
        self.scale_map, self.scale_map_max = scale_map, float(scale_map_max)
        with torch.no_grad():  # see scale_map_init: G starts at scale_map_init instead of 0
            start = float(scale_map_init)
            if scale_map == "bounded":  # the decoder value whose bounded map is scale_map_init
                start = math.atanh(math.log(start) / math.log(self.scale_map_max))
            self.net.pixel_decoder.out.bias[self.num_basis :].fill_(start)
            if filter_init == "box":
                self._init_box_filter()
        self.scale_map_init = float(scale_map_init)
        self.filter_init = filter_init

    @torch.no_grad()
    def _init_box_filter(self) -> None:
        """``filter_init="box"`` (see the class docstring): F = box(no-flash) and G = scale_map_init at
        step 0."""
        out = self.net.pixel_decoder.out
        out.weight.zero_()  # coefficients and scale map: constant at the start
        out.bias[: self.num_basis].fill_(1.0 / self.num_basis)
        basis_out = self.net.basis_decoder.heads[0][-1]
        basis_out.weight.zero_()
        bias = basis_out.bias.view(self.num_basis, -1, 3)  # channels: J x (frames x scales) x colour
        bias.zero_()
        bias[:, 0].fill_(1.0 / self.kernel_size**2)  # the first (fine) kernel of each element: a box

    def extra_repr(self) -> str:
        return (
            f"num_basis={self.num_basis}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"coarse={self.coarse}, extra_noflash={self.extra_noflash}, reference={self.reference!r}, "
            f"scale_map={self.scale_map!r}"
        )

    def extra_frames(self) -> int:
        return self.extra_noflash

    def enhance(self, noflash: Tensor, flash: Tensor, noflash_std: Tensor, flash_std: Tensor, *extra):
        inputs = (noflash, flash, noflash_std, flash_std, *extra)
        pixel, basis = self.net(self.body_input(*inputs))
        return self.head(inputs, pixel, basis)

    @property
    def receptive_field(self) -> int:
        """Input px one output pixel depends on, besides the global basis (which pools the whole image):
        the Table 3 per-pixel path (:func:`~fnflight.nets.unet.table3_receptive_field`, 540 px); the
        filter's footprint (``2 basis_radius + 1``, 57 px for K = 15, d = 4) lies inside it."""
        return max(
            table3_receptive_field(), 2 * (basis_radius(self.kernel_size, self.dilation, self.coarse) + 4)
        )

    def body_input(
        self, noflash: Tensor, flash: Tensor, noflash_std: Tensor, flash_std: Tensor, *extra
    ) -> Tensor:
        """The encoder-decoder's input (sec. 3.2.1): images then their per-pixel noise std maps (NOTES order:
        no-flash frames, flash, their stds); ``extra``: ``extra_noflash``, ``extra_noflash_std`` (or none)."""
        extra_noflash, extra_noflash_std = (list(extra) + [None, None])[:2]
        images, stds = noflash_frames(
            noflash, noflash_std, extra_noflash, extra_noflash_std, self.extra_noflash
        )
        return torch.cat([*images, flash, *stds, flash_std], dim=1)

    def head(self, inputs: Sequence[Tensor | None], pixel: Tensor, basis: Tensor) -> dict[str, Tensor]:
        """Filter the no-flash frame(s) of ``inputs`` (the forward's arguments) with ``basis`` and the
        per-pixel coefficients of ``pixel``, times the scale map (eq. 3-5). Tiled inference calls this per
        tile with the whole image's basis."""
        extra, extra_std = (list(inputs[4:6]) + [None, None])[:2]
        images, _ = noflash_frames(inputs[0], inputs[2], extra, extra_std, self.extra_noflash)
        m = self.extra_noflash
        j, k = self.num_basis, self.kernel_size
        coeffs, scale_map = pixel[:, :j], pixel[:, j:]  # Table 3 "Coeffs + Scale map"
        if self.scale_map == "bounded":
            scale_map = bounded_scale_map(scale_map, self.scale_map_max)
        b = basis.shape[0]
        # the ops need H, W > kernel radius: tiny inputs are reflect-padded for filtering, then cropped
        radius = basis_radius(k, self.dilation, self.coarse)
        padded, fpads = pad_min_size([*images, coeffs], radius + 1)
        *images, coeffs = padded
        if m == 0:
            # eq. 4 two-scale filter, or eq. 3 without B_j (Table 2 ablation): see filter_with_basis
            filtered = filter_with_basis(images[0], basis, coeffs, k, self.dilation, self.coarse)
        elif not self.coarse:
            # Table 6 variant: one K x K kernel per colour per no-flash frame, filter every frame and sum
            frames = torch.stack(images, dim=1)
            filtered = ops.basis_filter(frames, basis.reshape(b, j, self.frames, 3, k, k), coeffs)
        else:
            # extension (not in the paper): two-scale kernels per no-flash frame, summed over frames
            basis = basis.reshape(b, j, self.frames, 2, 3, k, k)
            filtered = sum(
                ops.two_scale_basis_filter(img, basis[:, :, n, 0], basis[:, :, n, 1], coeffs, self.dilation)
                for n, img in enumerate(images)
            )
        filtered = crop_padding(filtered, fpads)
        return {"output": filtered * scale_map, "filtered": filtered, "scale_map": scale_map}
