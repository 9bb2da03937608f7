"""Kernel prediction network for burst denoising (paper 002, Mildenhall et al. CVPR 2018; NOTES.md "KPN")."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fnflight import ops
from fnflight.nets.unet import (
    PIXEL_DECODER_CHANNELS,
    Encoder,
    PixelDecoder,
    crop_padding,
    init_weights,
    pad_min_size,
    pad_to_multiple,
    scaled,
    table3_receptive_field,
)

__all__ = ["KPNBurst"]


class KPNBurst(nn.Module):
    """KPN burst denoiser (paper 002; NOTES "KPN").

    Input: the burst ``(B, N, 3, H, W)`` (frame 0 = reference) and the noise-estimate channel ``(B, 1, H, W)``
    stacked into ``3N + 1`` channels. A U-Net predicts per pixel one K x K kernel per frame, shared by the
    three colour channels (no softmax, no bias; NOTES). Output (eq. in paper 002 "Basic concept", as in the
    authors' code which drops the 1/N): ``Y = sum_i <f_i, V(X_i)>`` via ``kernel_field_filter``.

    ``per_frame[:, i] = N * <f_i, V(X_i)>``: frame i filtered by its own kernel and scaled by N, so that
    ``output = per_frame.mean(1)``; these are the ``f_i(X_i)`` terms of the annealed loss
    ``l(output) + beta alpha^t sum_i l(per_frame_i)`` (NOTES: "weights each frame's N * f_i(X_i)").

    Choices:
        - the U-Net is the Table 3 body of paper 000 without the basis decoder (the paper-000 KPN baseline,
          "this architecture without the global decoder"); paper 002 gives no layer table. Init
          U(+-sqrt(3/fan_in)), zero bias, as that body.
        - ``half_resolution``: NOTES says the original code predicts the kernels at half resolution and
          upsamples them bilinearly; the paper text defines a filter per output pixel, so the default is full
          resolution (``False``). ``True`` drops the last decoder up-block (PDec-1) and bilinearly upsamples
          the ``N K^2`` kernel maps by 2 (align_corners=False) before cropping.

    Args:
        frames: N (paper: 8; ``1``: paper 002's "1-frame" variant). kernel_size: K (paper: 5). width: channel
            multiplier.
        half_resolution: predict kernels at half resolution (see above).
        noise_input: stack the noise estimate with the frames (``False``: paper 002's "sigma blind" variant,
            ``noise_std`` is then ignored).
        direct: paper 002's "direct" variant: no kernels; the decoder's features go through three more 3x3
            conv layers (ReLU between them) to the output pixels. The paper gives only "three additional conv
            layers"; their width is our choice: the decoder's last width (64 x width), so that the variant
            costs about what the kernel net costs and a fixed step budget is a fair one (at N K^2 = 200
            channels the head alone made a step 9x slower at width 1/4). It has no per-frame estimates (the
            annealed term then has nothing to weigh).

    Forward: ``burst (B, N, 3, H, W)``, ``noise_std (B, 1, H, W)`` (any H, W) ->
    ``{"output": (B, 3, H, W), "per_frame": (B, N, 3, H, W)}``.

    >>> net = KPNBurst(frames=3, width=1 / 16)
    >>> out = net(torch.rand(2, 3, 3, 37, 45), torch.rand(2, 1, 37, 45))
    >>> tuple(out["output"].shape), tuple(out["per_frame"].shape)
    ((2, 3, 37, 45), (2, 3, 3, 37, 45))
    """

    def __init__(
        self,
        frames: int = 8,
        kernel_size: int = 5,
        width: float = 1.0,
        half_resolution: bool = False,
        noise_input: bool = True,
        direct: bool = False,
    ):
        super().__init__()
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
        self.frames, self.kernel_size = int(frames), int(kernel_size)
        self.half_resolution = bool(half_resolution)
        self.noise_input, self.direct = bool(noise_input), bool(direct)
        if self.direct and self.half_resolution:
            raise ValueError("direct=True predicts pixels at full resolution: half_resolution must be False")
        self.encoder = Encoder(3 * self.frames + int(self.noise_input), width)
        enc = self.encoder.channels
        self.stride = self.encoder.stride
        self.decoder = PixelDecoder(
            enc[-1],
            enc,
            self.frames * self.kernel_size**2,
            width,
            levels=len(enc) - 1 if self.half_resolution else None,
        )
        self.pixels: nn.Module | None = None
        if self.direct:
            feat, hidden = self.frames * self.kernel_size**2, scaled(PIXEL_DECODER_CHANNELS[-1], width)
            self.pixels = nn.Sequential(
                nn.Conv2d(feat, hidden, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(hidden, hidden, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(hidden, 3, 3, padding=1),
            )
        init_weights(self, "fan_in_uniform")

    @property
    def receptive_field(self) -> int:
        """Receptive field (px) of one output pixel: the Table 3 body
        (:func:`~fnflight.nets.unet.table3_receptive_field`; half-resolution kernels: one decoder level
        fewer, then the bilinear x2 of the kernel maps, 2 taps of the half-resolution grid), the direct
        head's three 3x3 convs or the K x K kernels: what tiled inference must overlap by
        (:mod:`fnflight.nets.tiling`).

        >>> KPNBurst(width=1 / 16).receptive_field, KPNBurst(width=1 / 16, direct=True).receptive_field
        (544, 546)
        """
        levels = len(self.encoder.channels)
        if self.half_resolution:
            body = table3_receptive_field(levels, levels - 1) + 2
        else:
            body = table3_receptive_field(levels)
        return body + (6 if self.direct else self.kernel_size - 1)

    def forward(self, burst: Tensor, noise_std: Tensor) -> dict[str, Tensor]:
        self._check(burst, noise_std)
        b, n, c, h, w = burst.shape
        x, pads = self._stacked(burst, noise_std)
        kernels = self.decoder(*self.encoder(x))
        if self.pixels is not None:  # "direct": pixels, not kernels
            return {"output": crop_padding(self.pixels(kernels), pads)}
        filtered = self._filter_frames(burst, kernels, pads)
        return {"output": filtered.sum(dim=1), "per_frame": filtered * n}

    def _filter_frames(self, burst: Tensor, kernels: Tensor, margins) -> Tensor:
        """``f_i(X_i)`` per frame ``(B, N, 3, H, W)``: the kernel maps of a frame ``margins`` (left, right,
        top, bottom) px larger than ``burst`` (half-resolution ones upsampled to it first), cropped to it and
        applied to every frame at once (frames folded into the batch, one N=1 kernel field each)."""
        b, n, c, h, w = burst.shape
        left, right, top, bottom = margins
        if self.half_resolution:
            size = (h + top + bottom, w + left + right)
            kernels = F.interpolate(kernels, size=size, mode="bilinear", align_corners=False)
        kernels = crop_padding(kernels, margins).reshape(b * n, 1, 1, self.kernel_size**2, h, w)
        frames = burst.reshape(b * n, 1, c, h, w)
        (frames, kernels), fpads = pad_min_size([frames, kernels], self.kernel_size // 2 + 1)  # tiny inputs
        return crop_padding(ops.kernel_field_filter(frames, kernels), fpads).reshape(b, n, c, h, w)

    #: output rows per strip of :meth:`forward_output`
    STRIP_ROWS = 64

    @torch.no_grad()
    def forward_output(self, burst: Tensor, noise_std: Tensor) -> Tensor:
        """``forward(...)["output"]`` for inference (no gradients), in less memory: the 200-channel kernel
        maps (N K^2 per pixel, most of a window's memory) are made and applied :attr:`STRIP_ROWS` rows at a
        time, and the per-frame estimates are not kept. The same values as :meth:`forward` (a strip's output
        conv sees its features with a 1-row margin, the filter its frames with a K // 2 margin).

        >>> net = KPNBurst(frames=2, width=1 / 16).eval()
        >>> burst, noise = torch.rand(1, 2, 3, 150, 40), torch.rand(1, 1, 150, 40)
        >>> torch.allclose(net.forward_output(burst, noise), net(burst, noise)["output"], atol=1e-6)
        True
        """
        self._check(burst, noise_std)
        x, pads = self._stacked(burst, noise_std)
        return self.head_from_features([burst], self.decoder.features(*self.encoder(x)), None, pads)

    # split tiling (fnflight.nets.tiling.supports_split_tiling): the U-Net's parts and the kernel head

    def unet_parts(self):
        return self.encoder, self.decoder, None

    @property
    def head_radius(self) -> int:
        """How far (input px) the head looks beyond the decoder: the K x K kernels; the direct variant's
        three 3x3 convs; half-resolution kernels: also the bilinear x2 (one half-resolution px)."""
        if self.pixels is not None:
            return 3
        return self.kernel_size // 2 + (2 if self.half_resolution else 0)

    def body_input(self, burst: Tensor, noise_std: Tensor) -> Tensor:
        """The U-Net input ``(B, 3N [+ 1], H, W)``: the frames and (unless sigma-blind) the noise map."""
        b, n, c, h, w = burst.shape
        return torch.cat([burst.reshape(b, n * c, h, w)] + ([noise_std] if self.noise_input else []), dim=1)

    @torch.no_grad()
    def head_from_features(
        self, inputs: list[Tensor], features: Tensor, basis: None = None, margins=(0, 0, 0, 0)
    ) -> Tensor:
        """The output for ``inputs = [burst, ...]`` from the PDec-F-1 ``features`` of a frame ``margins``
        (left, right, top, bottom) px larger than the burst (the stride padding; a tile's border padding):
        output conv, kernels and filter, the kernel taps made :attr:`STRIP_ROWS` rows at a time."""
        burst = inputs[0]
        b, n, c, h, w = burst.shape
        left, _, top, _ = margins
        if self.pixels is not None:  # "direct": pixels, not kernels
            return crop_padding(self.pixels(self.decoder.out(features)), margins)
        if self.half_resolution or min(h, w) <= self.kernel_size // 2:  # whole kernel maps: small ones
            return self._filter_frames(burst, self.decoder.out(features), margins).sum(dim=1)
        hp = features.shape[-2]
        r, kk = self.kernel_size // 2, self.kernel_size**2
        frames = burst.reshape(b * n, 1, c, h, w)
        out = burst.new_empty(b, c, h, w)
        for y0 in range(0, h, self.STRIP_ROWS):
            y1 = min(h, y0 + self.STRIP_ROWS)
            # the output conv on the padded rows y0-1 .. y1 (+ top): its 3x3 margin, zeros beyond the padded
            # frame as in the full conv; then the columns of the image
            p0, p1 = y0 + top - 1, y1 + top + 1
            rows = features[..., max(0, p0) : min(hp, p1), :]
            rows = F.pad(rows, (0, 0, max(0, -p0), max(0, p1 - hp)))
            k = F.conv2d(rows, self.decoder.out.weight, self.decoder.out.bias, padding=(0, 1))
            k = k[..., left : left + w].reshape(b * n, 1, 1, kk, y1 - y0, w)
            # the filter on the frame rows y0-r .. y1+r (reflected by the op only at the image border)
            g0, g1 = max(0, y0 - r), min(h, y1 + r)
            filtered = ops.kernel_field_filter(frames[..., g0:g1, :], F.pad(k, (0, 0, y0 - g0, g1 - y1)))
            out[..., y0:y1, :] = filtered[..., y0 - g0 : y1 - g0, :].reshape(b, n, c, y1 - y0, w).sum(1)
        return out

    def _check(self, burst: Tensor, noise_std: Tensor) -> None:
        if not isinstance(burst, Tensor) or burst.dim() != 5 or burst.shape[1:3] != (self.frames, 3):
            raise ValueError(
                f"burst must have shape (B, {self.frames}, 3, H, W), got {tuple(getattr(burst, 'shape', ()))}"
            )
        b, n, c, h, w = burst.shape
        if not isinstance(noise_std, Tensor) or tuple(noise_std.shape) != (b, 1, h, w):
            raise ValueError(
                f"noise_std must have shape ({b}, 1, {h}, {w}), got {tuple(getattr(noise_std, 'shape', ()))}"
            )

    def _stacked(self, burst: Tensor, noise_std: Tensor) -> tuple[Tensor, tuple[int, int, int, int]]:
        """The U-Net input: frames and (unless sigma-blind) the noise estimate, padded to the stride."""
        return pad_to_multiple(self.body_input(burst, noise_std), self.stride)
