"""Shared U-Net building blocks for the fnflight networks.

The encoder and the two decoders follow the architecture table of paper 000 (DeepFnF, supplement Table 3),
which in turn follows BPN (Xia et al. 2020). The same blocks build the flash/no-flash baselines, the
hierarchical network of paper 001 and the KPN burst network.

Conventions
- Tensors are ``(B, C, H, W)``; all convolutions use zero "same" padding unless stated (Table 3 caption).
- ``width`` scales every hidden channel count: ``scaled(c, width) = max(MIN_CHANNELS, round(c * width))``;
  input and output channel counts are never scaled. ``width=1.0`` is the paper's network.
- Any input size: :func:`pad_to_multiple` reflect-pads to a multiple of the net's stride (32 for the five
  max-pool encoder), :func:`crop_padding` crops back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fnflight.ops.traceable import antialiased_resize_traceable, exporting

__all__ = [
    "MIN_CHANNELS",
    "BasisDecoder",
    "ClassicUNet",
    "ConvReLU",
    "EncoderDecoder",
    "Encoder",
    "PixelDecoder",
    "crop_padding",
    "init_weights",
    "pad_min_size",
    "pad_to_multiple",
    "scaled",
    "table3_receptive_field",
    "table3_split_radii",
]

#: Smallest hidden channel count produced by :func:`scaled` (keeps tiny test networks meaningful).
MIN_CHANNELS = 4

#: Table 3 widths.
ENCODER_CHANNELS = (64, 128, 256, 512, 1024)
PIXEL_DECODER_CHANNELS = (512, 256, 128, 64, 64)
BASIS_DECODER_CHANNELS = (512, 256, 256, 128)


def scaled(channels: int, width: float) -> int:
    """Hidden channel count ``max(MIN_CHANNELS, round(channels * width))``.

    >>> scaled(64, 1.0), scaled(64, 1 / 16), scaled(64, 1 / 64)
    (64, 4, 4)
    """
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    return max(MIN_CHANNELS, int(round(channels * width)))


# ----------------------------------------------------------------------------------------------------------
# padding helpers
# ----------------------------------------------------------------------------------------------------------
def _pad_last2(x: Tensor, pad: tuple[int, int, int, int], mode: str) -> Tensor:
    """``F.pad`` over the last two dims for any ``x.dim() >= 3`` (leading dims are flattened)."""
    shape = x.shape
    flat = x.reshape(-1, *shape[-3:]) if x.dim() > 4 else x
    out = F.pad(flat, pad, mode=mode)
    return out.reshape(*shape[:-2], *out.shape[-2:])


def _reflect_pad_1d(x: Tensor, before: int, after: int, dim: int) -> Tensor:
    """Reflect-pad ``x`` along ``dim`` (-1 or -2), repeating the reflection when the pad exceeds the size
    (a size-1 dim is replicated)."""
    while before > 0 or after > 0:
        size = x.shape[dim]
        if size == 1:
            b, a, mode = before, after, "replicate"
        else:
            b, a, mode = min(before, size - 1), min(after, size - 1), "reflect"
        x = _pad_last2(x, (0, 0, b, a) if dim == -2 else (b, a, 0, 0), mode)
        before, after = before - b, after - a
    return x


def pad_to_multiple(x: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int, int, int]]:
    """Reflect-pad the last two dims of ``x`` up to a multiple of ``multiple``.

    The padding is split between both sides (``before = total // 2``) so the image stays centred in the
    network's pooling grid. A pad larger than the image repeats the reflection (a 1-pixel-wide image is
    replicated), so any size works.

    Args:
        x: ``(..., H, W)`` with at least 3 dims (e.g. ``(B, C, H, W)`` or ``(B, N, C, H, W)``).
        multiple: the net's total stride (32 for the Table 3 encoder).

    Returns:
        ``(padded, pads)`` with ``padded`` of shape ``(..., H', W')``, ``H' = ceil(H / multiple) * multiple``,
        and ``pads = (left, right, top, bottom)`` for :func:`crop_padding`.

    >>> x = torch.arange(12.0).reshape(1, 1, 3, 4)
    >>> y, pads = pad_to_multiple(x, 8)
    >>> tuple(y.shape), pads
    ((1, 1, 8, 8), (2, 2, 2, 3))
    >>> torch.equal(crop_padding(y, pads), x)
    True
    """
    if x.dim() < 3:
        raise ValueError(f"x must have at least 3 dims (..., H, W), got shape {tuple(x.shape)}")
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    h, w = x.shape[-2:]
    th, tw = (-h) % multiple, (-w) % multiple
    top, left = th // 2, tw // 2
    bottom, right = th - top, tw - left
    if th:
        x = _reflect_pad_1d(x, top, bottom, dim=-2)
    if tw:
        x = _reflect_pad_1d(x, left, right, dim=-1)
    return x, (left, right, top, bottom)


def pad_min_size(tensors: Sequence[Tensor], min_size: int) -> tuple[list[Tensor], tuple[int, int, int, int]]:
    """Reflect-pad tensors sharing their last two dims so that ``H, W >= min_size``; no-op when they are.

    The filtering ops reflect-pad by the kernel radius and need ``H, W > radius``. Nets call this before
    filtering with ``min_size = radius + 1`` so that any input size works: images are padded by (repeated)
    reflection and per-pixel maps alike (a pixel's maps only affect that pixel's output, which is cropped);
    crop the result with :func:`crop_padding`. Images at least that large are filtered unchanged.

    >>> (a, b), pads = pad_min_size([torch.rand(1, 3, 5, 40), torch.rand(1, 4, 5, 40)], 8)
    >>> tuple(a.shape), tuple(b.shape), pads
    ((1, 3, 8, 40), (1, 4, 8, 40), (0, 0, 1, 2))
    """
    h, w = tensors[0].shape[-2:]
    th, tw = max(0, min_size - h), max(0, min_size - w)
    if th == 0 and tw == 0:
        return list(tensors), (0, 0, 0, 0)
    top, left = th // 2, tw // 2
    out = []
    for t in tensors:
        if t.shape[-2:] != (h, w):
            raise ValueError(f"all tensors must share H, W = {h}, {w}; got shape {tuple(t.shape)}")
        t = _reflect_pad_1d(t, top, th - top, dim=-2)
        out.append(_reflect_pad_1d(t, left, tw - left, dim=-1))
    return out, (left, tw - left, top, th - top)


def crop_padding(x: Tensor, pads: tuple[int, int, int, int], scale: int = 1) -> Tensor:
    """Undo :func:`pad_to_multiple`: crop ``pads = (left, right, top, bottom)`` (times ``scale``) from the
    last two dims of ``x`` (``scale`` > 1 for outputs at ``scale`` x the input resolution, e.g. SID).

    >>> crop_padding(torch.zeros(1, 3, 8, 8), (1, 2, 0, 3)).shape
    torch.Size([1, 3, 5, 5])
    """
    left, right, top, bottom = (p * scale for p in pads)
    h, w = x.shape[-2:]
    return x[..., top : h - bottom, left : w - right]


# ----------------------------------------------------------------------------------------------------------
# initialisation
# ----------------------------------------------------------------------------------------------------------
def _fan_in(module: nn.Module) -> int:
    w = module.weight
    if isinstance(module, nn.ConvTranspose2d):
        # each output pixel of a transposed conv sees in_channels * (k / stride)^2 inputs
        kh, kw = module.kernel_size
        sh, sw = module.stride
        return max(1, int(w.shape[0] * max(1, kh // sh) * max(1, kw // sw) / module.groups))
    return max(1, w[0].numel())


def init_weights(
    module: nn.Module, scheme: str = "fan_in_uniform", generator: torch.Generator | None = None
) -> nn.Module:
    """Initialise every conv / transposed conv / linear layer of ``module`` in place; returns ``module``.

    ``generator`` makes the initialisation reproducible without touching the global RNG (the nets call this
    without one, i.e. from the global RNG like every ``torch.nn`` layer; seed it or re-run with a generator).

    Schemes:
        ``"fan_in_uniform"``: weights ``U(-sqrt(3 / fan_in), +sqrt(3 / fan_in))``, zero bias (DeepFnF authors'
        code, NOTES.md "Network").
        ``"glorot_uniform"``: ``U(-sqrt(6 / (fan_in + fan_out)), ...)``, zero bias: the framework default of
        Keras ``Conv2D`` and tf-slim ``conv2d`` (used where the authors' code states no initialiser: LSD2,
        SID). For transposed convolutions fan_in counts the inputs one output pixel sees.

    >>> m = init_weights(nn.Conv2d(4, 2, 3))
    >>> bool(m.weight.abs().max() <= math.sqrt(3 / 36)), float(m.bias.detach().abs().sum())
    (True, 0.0)
    """
    if scheme not in ("fan_in_uniform", "glorot_uniform"):
        raise ValueError(f"scheme must be 'fan_in_uniform' or 'glorot_uniform', got {scheme!r}")
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            fan_in = _fan_in(m)
            if scheme == "fan_in_uniform":
                bound = math.sqrt(3.0 / fan_in)
            else:
                w = m.weight
                taps = w[0, 0].numel() if w.dim() > 2 else 1
                n_out = w.shape[1] if isinstance(m, nn.ConvTranspose2d) else w.shape[0]
                bound = math.sqrt(6.0 / (fan_in + n_out * taps))
            with torch.no_grad():
                m.weight.uniform_(-bound, bound, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
    return module


# ----------------------------------------------------------------------------------------------------------
# blocks
# ----------------------------------------------------------------------------------------------------------
class ConvReLU(nn.Sequential):
    """``k x k`` convolution (zero "same" padding unless ``padding`` is given) followed by ReLU.

    Shapes: ``(B, in_channels, H, W) -> (B, out_channels, H', W')``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int | None = None):
        pad = kernel_size // 2 if padding is None else padding
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad), nn.ReLU(inplace=True)
        )


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    """Linear 3x3 convolution with zero "same" padding (the output layers of Table 3)."""
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


def _upsample2x(x: Tensor) -> Tensor:
    """Table 3 "Bilinear-Up": bilinear upsampling by 2 (torch half-pixel convention, align_corners=False;
    the authors' TF1 resize used a slightly different sampling grid, immaterial when training from
    scratch)."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class Encoder(nn.Module):
    """Table 3 encoder (paper 000 supplement; BPN): Enc-0, then five levels of two 3x3 conv+ReLU and a 2x2
    stride-2 max-pool (64, 128, 256, 512, 1024 channels), then Enc-F and Enc-Out, two 3x3 conv+ReLU at 1/32.

    Args:
        in_channels: input channels (12 for DeepFnF: no-flash, flash and their noise std maps).
        width: channel multiplier (1.0 = Table 3).
        channels: per-level widths before scaling.

    Forward: ``(B, in_channels, H, W)`` with ``H, W`` multiples of ``2 ** len(channels)`` ->
    ``(bottleneck, skips)``: ``bottleneck`` = Enc-Out ``(B, c[-1], H/32, W/32)``, ``skips[i]`` = Enc-(i+1)-B
    ``(B, c[i], H / 2**i, W / 2**i)``.

    >>> enc = Encoder(12, width=1 / 16)
    >>> bottleneck, skips = enc(torch.rand(1, 12, 64, 32))
    >>> tuple(bottleneck.shape), [s.shape[1] for s in skips]
    ((1, 64, 2, 1), [4, 8, 16, 32, 64])
    """

    def __init__(self, in_channels: int, width: float = 1.0, channels: Sequence[int] = ENCODER_CHANNELS):
        super().__init__()
        ch = [scaled(c, width) for c in channels]
        self.channels = tuple(ch)
        self.stride = 2 ** len(ch)
        self.enc0 = ConvReLU(in_channels, ch[0])  # Enc-0
        levels = []
        prev = ch[0]
        for c in ch:  # Enc-i-A, Enc-i-B (the max-pool Enc-i-C is applied in forward)
            levels.append(nn.Sequential(ConvReLU(prev, c), ConvReLU(c, c)))
            prev = c
        self.levels = nn.ModuleList(levels)
        self.final = nn.Sequential(ConvReLU(prev, prev), ConvReLU(prev, prev))  # Enc-F, Enc-Out

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        x, fine_skips = self.fine(x, len(self.levels))
        bottleneck, skips = self.coarse(x, len(self.levels))
        return bottleneck, fine_skips + skips

    def fine(self, x: Tensor, split: int) -> tuple[Tensor, list[Tensor]]:
        """Enc-0 and the first ``split`` levels: ``(x at 1 / 2**split, skips[:split])``. With
        :meth:`coarse` the forward in two parts, so that tiled inference can run the fine levels in windows
        and the coarse ones on the whole image (:mod:`fnflight.nets.tiling`)."""
        x = self.enc0(x)
        skips = []
        for level in self.levels[:split]:
            x = level(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)  # Enc-i-C: 2x2 stride-2 max pool
        return x, skips

    def coarse(self, x: Tensor, split: int) -> tuple[Tensor, list[Tensor]]:
        """The levels from ``split`` on and Enc-F / Enc-Out, from :meth:`fine`'s output:
        ``(bottleneck, skips[split:])``."""
        skips = []
        for level in self.levels[split:]:
            x = level(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        return self.final(x), skips


class PixelDecoder(nn.Module):
    """Table 3 per-pixel decoder (PDec): per level, Bilinear-Up x2 + 3x3 conv (PDec-k-A), concat the encoder
    skip Enc-k-B and 3x3 conv (PDec-k-B), 3x3 conv (PDec-k-C); then two 3x3 convs (PDec-F-0, PDec-F-1) and a
    linear 3x3 output conv (NO activation).

    Args:
        bottleneck_channels: channels of the encoder output (Enc-Out).
        skip_channels: channels of the encoder skips, shallowest first (``Encoder.channels``).
        out_channels: output channels (DeepFnF: J coefficients + 3 scale-map channels).
        width: channel multiplier.
        channels: decoder widths before scaling, deepest first; the last one is used for PDec-F-*.
        levels: number of up-blocks used (default all; ``levels = len(skip_channels) - 1`` stops at half
            resolution, used by the half-resolution KPN kernels).

    Forward: ``(bottleneck, skips) -> (B, out_channels, H / 2**(len(skips) - levels), ...)``.

    >>> enc = Encoder(12, width=1 / 16)
    >>> dec = PixelDecoder(enc.channels[-1], enc.channels, 93, width=1 / 16)
    >>> dec(*enc(torch.rand(1, 12, 64, 32))).shape
    torch.Size([1, 93, 64, 32])
    """

    def __init__(
        self,
        bottleneck_channels: int,
        skip_channels: Sequence[int],
        out_channels: int,
        width: float = 1.0,
        channels: Sequence[int] = PIXEL_DECODER_CHANNELS,
        levels: int | None = None,
    ):
        super().__init__()
        n = len(skip_channels)
        if len(channels) != n:
            raise ValueError(f"channels must have one entry per skip ({n}), got {len(channels)}")
        self._n_skips = n
        self.levels = n if levels is None else int(levels)
        if not 1 <= self.levels <= n:
            raise ValueError(f"levels must be in [1, {n}], got {levels}")
        ch = [scaled(c, width) for c in channels]
        blocks = []
        prev = bottleneck_channels
        for k in range(self.levels):  # PDec-5 ... PDec-1 (deepest first)
            skip = skip_channels[n - 1 - k]
            blocks.append(
                nn.ModuleDict(
                    {
                        "a": ConvReLU(prev, ch[k]),  # PDec-k-A (after Bilinear-Up)
                        "b": ConvReLU(ch[k] + skip, ch[k]),  # PDec-k-B on [A, Enc-k-B]
                        "c": ConvReLU(ch[k], ch[k]),  # PDec-k-C
                    }
                )
            )
            prev = ch[k]
        self.blocks = nn.ModuleList(blocks)
        self.final = nn.Sequential(ConvReLU(prev, ch[-1]), ConvReLU(ch[-1], ch[-1]))  # PDec-F-0, PDec-F-1
        self.out = _conv3x3(ch[-1], out_channels)  # Output: 3x3 conv, linear

    def forward(self, bottleneck: Tensor, skips: Sequence[Tensor]) -> Tensor:
        return self.out(self.features(bottleneck, skips))

    def features(self, bottleneck: Tensor, skips: Sequence[Tensor]) -> Tensor:
        """Everything but the linear output conv (``self.out``): the PDec-F-1 features. A net whose output
        conv is wide (KPN: N K^2 = 200 kernel taps per pixel) can apply it in strips at inference."""
        return self.fine_features(self.coarse_features(bottleneck, skips, 0), skips, 0)

    def _coarse_blocks(self, n: int, split: int) -> int:
        """How many up-blocks (deepest first) output at 1 / 2**split or coarser: block k outputs at
        1 / 2**(n - 1 - k)."""
        return max(0, min(self.levels, n - split))

    def coarse_features(self, bottleneck: Tensor, skips: Sequence[Tensor], split: int) -> Tensor:
        """The up-blocks down to 1 / 2**split (their skips ``skips[split:]``); :meth:`fine_features`
        continues from here. ``skips`` holds every encoder skip or only ``skips[split:]`` (the shallower
        ones are not read)."""
        n = self._n_skips
        offset = n - len(skips)  # skips may start at level `offset`
        x = bottleneck
        for k, block in enumerate(self.blocks[: self._coarse_blocks(n, split)]):
            x = block["a"](_upsample2x(x))
            x = block["b"](torch.cat([x, skips[n - 1 - k - offset]], dim=1))
            x = block["c"](x)
        return x

    def fine_features(self, x: Tensor, skips: Sequence[Tensor], split: int) -> Tensor:
        """The up-blocks finer than 1 / 2**split and PDec-F-0/1, from :meth:`coarse_features`'s output and
        the shallow skips ``skips[:split]`` (extra deeper skips are not read)."""
        n = self._n_skips
        for k in range(self._coarse_blocks(n, split), self.levels):
            block = self.blocks[k]
            x = block["a"](_upsample2x(x))
            x = block["b"](torch.cat([x, skips[n - 1 - k]], dim=1))
            x = block["c"](x)
        return self.final(x)


def table3_receptive_field(
    encoder_levels: int = len(ENCODER_CHANNELS), decoder_levels: int | None = None
) -> int:
    """Receptive field (input px) of one output pixel of the Table 3 encoder + per-pixel decoder (no basis
    decoder: it sees the whole image through its global pools), from the layer list: Enc-0, per level two 3x3
    convs and a 2x2 pool, Enc-F / Enc-Out; per decoder level a bilinear x2 (2 taps of the coarse grid) and
    three 3x3 convs; PDec-F-0/1 and the 3x3 output conv. ``decoder_levels`` < ``encoder_levels`` stops the
    decoder at a coarser scale (half-resolution KPN kernels); the result is then in input px too.

    >>> table3_receptive_field(), table3_receptive_field(decoder_levels=4)
    (540, 538)
    """
    decoder_levels = encoder_levels if decoder_levels is None else int(decoder_levels)
    rf, jump = 3, 1  # Enc-0
    for _ in range(encoder_levels):
        rf += 2 * 2 * jump  # Enc-i-A, Enc-i-B
        rf, jump = rf + jump, jump * 2  # Enc-i-C: 2x2 stride-2 max pool
    rf += 2 * 2 * jump  # Enc-F, Enc-Out
    for _ in range(decoder_levels):
        rf += jump  # Bilinear-Up: two taps of the coarse grid
        jump //= 2
        rf += 3 * 2 * jump  # PDec-k-A, -B, -C
    return rf + 3 * 2 * jump  # PDec-F-0, PDec-F-1, Output


def table3_split_radii(
    split: int, encoder_levels: int = len(ENCODER_CHANNELS), decoder_levels: int | None = None
) -> tuple[int, int]:
    """Receptive-field radii (input px) of the two windowed parts of split tiling
    (:mod:`fnflight.nets.tiling`), where the levels at ``1 / 2**split`` and coarser run on the whole image:
    ``(fine encoder, fine path)``. The fine encoder is Enc-0 and ``split`` levels (its output at
    ``1 / 2**split`` and its skips); the fine path is that encoder followed by the up-blocks finer than
    ``1 / 2**split``, PDec-F-0/1 and the output conv (the coarse decoder output it reads is exact on the
    whole window; the window edge's zero padding spreads through both chains, so the radii add up: a bound).

    >>> table3_split_radii(2)
    (9, 24)
    """
    decoder_levels = encoder_levels if decoder_levels is None else int(decoder_levels)
    rf, jump = 3, 1  # Enc-0
    for _ in range(split):
        rf += 2 * 2 * jump  # Enc-i-A, Enc-i-B
        rf, jump = rf + jump, jump * 2  # 2x2 stride-2 max pool
    encoder = rf // 2
    dec = 1
    for _ in range(max(0, decoder_levels - (encoder_levels - split))):
        dec += jump  # Bilinear-Up: two taps of the coarse grid
        jump //= 2
        dec += 3 * 2 * jump  # PDec-k-A, -B, -C
    dec += 3 * 2 * jump  # PDec-F-0, PDec-F-1, Output
    return encoder, encoder + dec // 2


def _global_pool(x: Tensor) -> Tensor:
    """Table 3 "GP": global average pooling, ``(B, C, H, W) -> (B, C, 1, 1)``."""
    return x.mean(dim=(-2, -1), keepdim=True)


class BasisDecoder(nn.Module):
    """Table 3 global (basis) decoder (GDec).

    GP(Enc-Out) -> per level: Bilinear-Up x2 + 3x3 conv (GDec-k-A), concat GP-R of encoder skip Enc-k-B
    (global average pool replicated spatially) + 3x3 conv (GDec-k-B), 3x3 conv (GDec-k-C), at 2x2, 4x4, 8x8
    and 16x16 with widths 512, 256, 256, 128; then a 2x2 VALID conv (GDec-F-A, 16x16 -> 15x15), a 3x3 conv
    (GDec-F-B) and a linear 3x3 output conv (no activation; the basis is not normalised, NOTES.md).

    Kernel size: Table 3 gives K = 15 from the 16x16 map. For another ``kernel_size`` K the 16x16 feature
    map is resized (bilinear, antialiased when shrinking) to ``(K + 1) x (K + 1)`` before the same
    2x2-valid / 3x3 / 3x3 head, so the layer structure is unchanged for every K (paper silent; chosen so
    one decoder serves the K = 15 bases and the K = 5 / 7 / 3 kernels of the baselines and paper 001).

    Several kernel sizes (paper 001: one basis per filtering layer, 15 / 7 / 3): pass sequences for
    ``kernel_size`` and ``out_channels``; the GDec-2..5 trunk is shared and each size gets its own
    GDec-F-A / GDec-F-B / output head (paper 001 is silent on how one decoder emits three sizes).

    Args:
        bottleneck_channels: channels of Enc-Out.
        skip_channels: encoder skip channels, shallowest first (Enc-1-B ... Enc-5-B); the decoder uses the
            deepest ``len(channels)`` of them (Enc-5-B ... Enc-2-B).
        out_channels: channels per kernel tap, e.g. ``3 * 2 * J`` for DeepFnF (a sequence with several
            kernel sizes).
        kernel_size: K, or a sequence of sizes.
        width: channel multiplier.

    Forward: ``(bottleneck, skips) -> (B, out_channels, K, K)``; with sequences, a list of such tensors.

    The global pools include the reflect padding of inputs that are not multiples of 32 (the authors train
    on 448 = 14 x 32 crops, which need none).

    >>> enc = Encoder(12, width=1 / 16)
    >>> feats = enc(torch.rand(1, 12, 64, 32))
    >>> BasisDecoder(enc.channels[-1], enc.channels, 540, 15, width=1 / 16)(*feats).shape
    torch.Size([1, 540, 15, 15])
    >>> [b.shape[-1] for b in BasisDecoder(enc.channels[-1], enc.channels, [6, 6], [7, 3], 1 / 16)(*feats)]
    [7, 3]
    """

    def __init__(
        self,
        bottleneck_channels: int,
        skip_channels: Sequence[int],
        out_channels: int | Sequence[int],
        kernel_size: int | Sequence[int] = 15,
        width: float = 1.0,
        channels: Sequence[int] = BASIS_DECODER_CHANNELS,
    ):
        super().__init__()
        self.multi = not isinstance(kernel_size, int)
        sizes = list(kernel_size) if self.multi else [kernel_size]
        outs = list(out_channels) if self.multi else [out_channels]
        if len(sizes) != len(outs) or not sizes:
            raise ValueError(
                f"kernel_size {kernel_size} and out_channels {out_channels} must match in length"
            )
        if any(int(k) < 1 for k in sizes):
            raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")
        if len(channels) > len(skip_channels):
            raise ValueError(f"need at least {len(channels)} skips, got {len(skip_channels)}")
        self.kernel_sizes = tuple(int(k) for k in sizes)
        self.kernel_size = self.kernel_sizes if self.multi else self.kernel_sizes[0]
        ch = [scaled(c, width) for c in channels]
        n = len(skip_channels)
        blocks = []
        prev = bottleneck_channels
        for k, c in enumerate(ch):  # GDec-5 ... GDec-2
            skip = skip_channels[n - 1 - k]
            blocks.append(
                nn.ModuleDict(
                    {
                        "a": ConvReLU(prev, c),  # GDec-k-A (after Bilinear-Up)
                        "b": ConvReLU(c + skip, c),  # GDec-k-B on [A, GP-R(Enc-k-B)]
                        "c": ConvReLU(c, c),  # GDec-k-C
                    }
                )
            )
            prev = c
        self.blocks = nn.ModuleList(blocks)
        self.heads = nn.ModuleList(
            nn.Sequential(
                ConvReLU(prev, prev, kernel_size=2, padding=0),  # GDec-F-A: 2x2 valid conv
                ConvReLU(prev, prev),  # GDec-F-B
                _conv3x3(prev, o),  # Output: basis, linear
            )
            for o in outs
        )

    def pooled_levels(self, n_skips: int) -> list[int]:
        """The encoder skips (indices, deepest first) the decoder sees through global pools, after the
        bottleneck: Enc-5-B ... Enc-2-B of Table 3."""
        return [n_skips - 1 - k for k in range(len(self.blocks))]

    def pooled_features(self, bottleneck: Tensor, skips: Sequence[Tensor]) -> list[Tensor]:
        """The encoder maps the decoder sees only through global average pools: ``[bottleneck, deepest skip,
        ...]`` (``len(channels) + 1`` maps, of which :meth:`from_pools` takes the means ``(B, C, 1, 1)``).
        Split tiling (:mod:`fnflight.nets.tiling`) sums the fine ones over tiles instead."""
        return [bottleneck, *(skips[lv] for lv in self.pooled_levels(len(skips)))]

    def forward(self, bottleneck: Tensor, skips: Sequence[Tensor]) -> Tensor | list[Tensor]:
        return self.from_pools([_global_pool(x) for x in self.pooled_features(bottleneck, skips)])

    def from_pools(self, pools: Sequence[Tensor]) -> Tensor | list[Tensor]:
        """The basis from the global means ``(B, C, 1, 1)`` of :meth:`pooled_features` (Table 3 "GP")."""
        x = pools[0]
        for k, block in enumerate(self.blocks):
            x = block["a"](_upsample2x(x))
            gp = pools[k + 1].expand(-1, -1, *x.shape[-2:])  # GP-R[h, w](Enc-k-B)
            x = block["c"](block["b"](torch.cat([x, gp], dim=1)))
        outs = []
        for size, head in zip(self.kernel_sizes, self.heads):
            y = x
            shrink = size + 1 < y.shape[-1]
            if shrink and exporting():  # ONNX has no antialiased resize: the same map as matrices
                y = antialiased_resize_traceable(y, (size + 1, size + 1))
            elif y.shape[-1] != size + 1:  # K != 15: resize so the 2x2 valid conv gives K x K (docstring)
                y = F.interpolate(
                    y,
                    size=(size + 1, size + 1),
                    mode="bilinear",
                    align_corners=False,
                    antialias=shrink,
                )
            outs.append(head(y))
        return outs if self.multi else outs[0]


class EncoderDecoder(nn.Module):
    """Table 3 network body: :class:`Encoder` + :class:`PixelDecoder` (+ optional :class:`BasisDecoder`),
    with the reflect padding to a multiple of 32 and the crop back.

    Args:
        in_channels: input channels.
        pixel_channels: per-pixel decoder output channels.
        basis_channels: basis decoder output channels per kernel tap; 0 = no basis decoder (KPN, direct).
        kernel_size: basis kernel size K.
        width: channel multiplier.

    Forward: ``(B, in_channels, H, W)`` (any H, W) -> ``(pixel, basis)`` with ``pixel``
    ``(B, pixel_channels, H, W)`` and ``basis`` ``(B, basis_channels, K, K)`` or ``None``.

    >>> pixel, basis = EncoderDecoder(12, 7, 30, 5, width=1 / 16)(torch.rand(1, 12, 37, 45))
    >>> tuple(pixel.shape), tuple(basis.shape)
    ((1, 7, 37, 45), (1, 30, 5, 5))
    """

    def __init__(
        self,
        in_channels: int,
        pixel_channels: int,
        basis_channels: int = 0,
        kernel_size: int = 15,
        width: float = 1.0,
    ):
        super().__init__()
        self.encoder = Encoder(in_channels, width)
        self.stride = self.encoder.stride
        enc = self.encoder.channels
        self.pixel_decoder = PixelDecoder(enc[-1], enc, pixel_channels, width)
        self.basis_decoder = (
            BasisDecoder(enc[-1], enc, basis_channels, kernel_size, width) if basis_channels > 0 else None
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        xp, pads = pad_to_multiple(x, self.stride)
        bottleneck, skips = self.encoder(xp)
        pixel = crop_padding(self.pixel_decoder(bottleneck, skips), pads)
        basis = self.basis_decoder(bottleneck, skips) if self.basis_decoder is not None else None
        return pixel, basis


class ClassicUNet(nn.Module):
    """Ronneberger-style U-Net used by LSD2 (paper 003, Fig. 2) and SID (paper 004, Fig. 3).

    Encoder: per level two 3x3 convs + activation, then 2x2 stride-2 max-pool (none after the deepest level).
    Decoder: per level a 2x2 stride-2 transposed conv to the next shallower width, concat the encoder skip,
    two 3x3 convs + activation. Output: 1x1 linear conv.

    Args:
        in_channels, out_channels: input / output channels (never scaled by ``width``).
        channels: per-level widths before scaling, shallowest first (LSD2 64..1024, SID 32..512).
        width: channel multiplier.
        activation: ``"relu"`` or ``"lrelu"`` (LeakyReLU, slope 0.2, SID).
        up_bias: bias in the transposed convs.

    Forward: ``(B, in_channels, H, W)`` with H, W multiples of ``stride = 2 ** (len(channels) - 1)`` ->
    ``(B, out_channels, H, W)``.

    >>> ClassicUNet(4, 12, (32, 64, 128), width=1 / 8)(torch.rand(1, 4, 16, 8)).shape
    torch.Size([1, 12, 16, 8])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        channels: Sequence[int],
        width: float = 1.0,
        activation: str = "relu",
        up_bias: bool = True,
    ):
        super().__init__()
        if activation not in ("relu", "lrelu"):
            raise ValueError(f"activation must be 'relu' or 'lrelu', got {activation!r}")
        if len(channels) < 1:
            raise ValueError("channels must not be empty")
        ch = [scaled(c, width) for c in channels]
        self.channels = tuple(ch)
        self.stride = 2 ** (len(ch) - 1)

        def act() -> nn.Module:
            return nn.ReLU(inplace=True) if activation == "relu" else nn.LeakyReLU(0.2, inplace=True)

        def double(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1), act(), nn.Conv2d(cout, cout, 3, padding=1), act()
            )

        self.down = nn.ModuleList()
        prev = in_channels
        for c in ch:
            self.down.append(double(prev, c))
            prev = c
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for c in reversed(ch[:-1]):
            self.up.append(nn.ConvTranspose2d(prev, c, 2, stride=2, bias=up_bias))
            self.dec.append(double(2 * c, c))
            prev = c
        self.out = nn.Conv2d(prev, out_channels, 1)

    @property
    def receptive_field(self) -> int:
        """Receptive field (input px) of one output pixel, ``1 + 2 * radius``, from the layer list (3x3 convs,
        2x2 pools, 2x2 transposed convs): what tiled inference must overlap by
        (:mod:`fnflight.nets.tiling`).

        >>> ClassicUNet(4, 12, (32, 64, 128, 256, 512)).receptive_field
        215
        """
        rf, jump = 1, 1
        n = len(self.channels)
        for i in range(n):
            if i > 0:
                rf, jump = rf + jump, jump * 2  # 2x2 max-pool
            rf += 2 * 2 * jump  # two 3x3 convs
        for _ in range(n - 1):
            jump //= 2
            rf += jump  # 2x2 stride-2 transposed conv
            rf += 2 * 2 * jump
        return rf

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for i, block in enumerate(self.down):
            if i > 0:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        skips.pop()
        for up, dec in zip(self.up, self.dec):
            x = dec(torch.cat([up(x), skips.pop()], dim=1))
        return self.out(x)
