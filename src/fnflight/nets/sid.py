"""Learning to See in the Dark U-Net (paper 004, sec. 3 and Fig. 3; NOTES.md "SID"), plus tiled inference.

The network maps the packed, black-level-subtracted and amplified raw image (Bayer: 4 channels at half
resolution; X-Trans: 9 channels at a third) to sRGB at full resolution through a final depth-to-space.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fnflight.nets.unet import ClassicUNet, crop_padding, init_weights, pad_to_multiple

__all__ = ["SIDUNet", "tiled_forward"]

SID_CHANNELS = (32, 64, 128, 256, 512)
# packed channels and depth-to-space factor per colour filter array (paper 004 sec. 3.2)
CFA_LAYOUT = {"bayer": (4, 2), "xtrans": (9, 3)}


class SIDUNet(nn.Module):
    """SID U-Net (paper 004 Fig. 3; NOTES "SID").

    32, 64, 128, 256, 512 channels, two 3x3 conv + LeakyReLU(0.2) per level, 2x2 max-pool, 2x2 stride-2
    transposed-conv upsampling, concat skips, two 3x3 conv + LeakyReLU, 1x1 linear conv to
    ``3 * upscale**2`` channels, then depth-to-space by ``upscale`` (sub-pixel layer, paper ref. [37]).

    Choices where paper and NOTES are silent:
        - depth-to-space is ``torch.pixel_shuffle`` (channel order ``c * r * r + i * r + j``; TF's
          ``depth_to_space`` orders channels ``(i * r + j) * C + c``: a fixed permutation of the learned
          1x1 conv, irrelevant when training from scratch);
        - transposed convs have no bias (the following 3x3 conv carries one); Glorot-uniform weights and zero
          bias (the tf-slim / TF default of the authors' framework);
        - the output is not clipped (clip to [0, 1] for display and metrics);
        - any packed size: reflect-padded to a multiple of ``stride`` = 16 and cropped back.

    Args:
        in_channels: 4 (Sony Bayer, packed RGGB) or 9 (Fuji X-Trans).
        width: channel multiplier (1.0 = paper: 7,760,268 parameters for Sony).
        upscale: depth-to-space factor (2 for Bayer, 3 for X-Trans).
        depth: number of levels (5 = paper). Smaller depths are for tests and tiny experiments.
        cfa: ``"bayer"`` or ``"xtrans"`` sets ``in_channels`` and ``upscale`` (4, 2 / 9, 3) at once, so a
            config can take it from the data (``cfa: ${data.init_args.cfa}``); ``None`` keeps the two.

    Forward: ``raw``: ``(B, in_channels, h, w)`` packed raw -> ``{"output": (B, 3, upscale*h, upscale*w)}``.

    >>> net = SIDUNet(width=1 / 8)
    >>> net(torch.rand(1, 4, 19, 23))["output"].shape
    torch.Size([1, 3, 38, 46])
    """

    def __init__(
        self,
        in_channels: int = 4,
        width: float = 1.0,
        upscale: int = 2,
        depth: int = 5,
        cfa: str | None = None,
    ):
        super().__init__()
        if cfa is not None:
            if cfa not in CFA_LAYOUT:
                raise ValueError(f"cfa must be one of {sorted(CFA_LAYOUT)} or None, got {cfa!r}")
            in_channels, upscale = CFA_LAYOUT[cfa]
        if not 1 <= depth <= len(SID_CHANNELS):
            raise ValueError(f"depth must be in [1, {len(SID_CHANNELS)}], got {depth}")
        if upscale < 1:
            raise ValueError(f"upscale must be >= 1, got {upscale}")
        self.in_channels, self.upscale = int(in_channels), int(upscale)
        self.cfa = next((k for k, v in CFA_LAYOUT.items() if v == (self.in_channels, self.upscale)), None)
        self.unet = ClassicUNet(
            self.in_channels,
            3 * self.upscale**2,
            SID_CHANNELS[:depth],
            width=width,
            activation="lrelu",
            up_bias=False,
        )
        self.stride = self.unet.stride
        init_weights(self, "glorot_uniform")

    @property
    def receptive_field(self) -> int:
        """Receptive field (packed pixels) of one output pixel: ``RF = 1 + 2 * radius``.

        Computed from the layer list (3x3 convs, 2x2 pools, 2x2 transposed convs).

        >>> SIDUNet(width=1 / 8).receptive_field, SIDUNet(width=1 / 8, depth=2).receptive_field
        (215, 19)
        """
        rf, jump = 1, 1
        n = len(self.unet.channels)
        for i in range(n):
            if i > 0:
                rf, jump = rf + jump, jump * 2  # 2x2 max-pool
            rf += 2 * 2 * jump  # two 3x3 convs
        for _ in range(n - 1):
            jump //= 2
            rf += jump  # 2x2 stride-2 transposed conv
            rf += 2 * 2 * jump
        return rf

    def forward(self, raw: Tensor) -> dict[str, Tensor]:
        if not isinstance(raw, Tensor):
            raise TypeError(f"raw must be a torch.Tensor, got {type(raw).__name__}")
        if raw.dim() != 4 or raw.shape[1] != self.in_channels:
            raise ValueError(f"raw must have shape (B, {self.in_channels}, h, w), got {tuple(raw.shape)}")
        x, pads = pad_to_multiple(raw, self.stride)
        out = F.pixel_shuffle(self.unet(x), self.upscale)
        return {"output": crop_padding(out, pads, scale=self.upscale)}


def _tile_starts(size: int, tile: int, step: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, step))
    starts.append(size - tile)
    return starts


def _ramp(length: int, start: int, tile: int, size: int, trim: int, ramp: int) -> Tensor:
    """1D blending weight of a tile ``[start, start + tile)``: 0 within ``trim`` px of an interior tile edge,
    then a linear ramp over ``ramp`` px, 1 elsewhere (edges on the image border get weight 1)."""
    pos = torch.arange(length, dtype=torch.float64)
    w = torch.ones(length, dtype=torch.float64)
    if start > 0:
        w = torch.minimum(w, ((pos + 0.5 - trim) / ramp).clamp(0, 1))
    if start + tile < size:
        w = torch.minimum(w, ((length - 1 - pos + 0.5 - trim) / ramp).clamp(0, 1))
    return w


@torch.no_grad()
def tiled_forward(net: nn.Module, raw: Tensor, tile: int = 512, overlap: int = 32) -> Tensor:
    """Full-resolution inference of an image-to-image net in overlapping tiles (NOTES SID: users report
    out-of-memory at full resolution). Inference only: runs under ``torch.no_grad()``.

    The packed input is first reflect-padded to a multiple of ``net.stride`` exactly as ``net.forward`` would,
    so every tile (a multiple of ``stride``, starting on a multiple of ``stride``) sees the same pooling grid
    as the untiled forward. Tiles of ``tile`` px step by ``tile - overlap`` (rounded down to a multiple of
    ``stride``, so the real overlap may be larger). Blending: in each overlap a pixel gets weight 0 within
    ``overlap // 4`` px of a tile's interior edge, then a linear cross-fade over ``overlap // 2`` px; the
    weighted outputs are normalised by the summed weights.

    Exactness: an output pixel differs from the untiled forward only through inputs outside its tile, i.e.
    within the receptive-field radius ``r = (net.receptive_field - 1) // 2``. Every pixel used lies at least
    ``overlap // 4`` px from an interior tile edge, so the result equals the untiled forward (to float
    rounding) when ``overlap // 4 >= r``. For the full SID U-Net r = 107 packed px (needs overlap >= 428,
    tile > 512); with smaller overlaps the cross-fade hides the (small, decaying with distance) seam error.

    Args:
        net: module with ``forward(raw) -> {"output"}``, attributes ``stride`` and (optionally) ``upscale``
            (output resolution factor, default 1), e.g. :class:`SIDUNet`.
        raw: ``(B, C, h, w)`` packed input.
        tile: tile size in input (packed) pixels, rounded down to a multiple of ``stride`` (>= stride).
        overlap: minimum overlap of neighbouring tiles in input pixels (>= 0, < tile).

    Returns:
        ``(B, 3, upscale * h, upscale * w)`` (whatever channels the net outputs).

    >>> net = SIDUNet(width=1 / 8, depth=2).eval()
    >>> raw = torch.rand(1, 4, 60, 40)
    >>> out = tiled_forward(net, raw, tile=40, overlap=36)  # overlap // 4 = 9 >= radius 9: exact
    >>> torch.allclose(out, net(raw)["output"], atol=1e-5)
    True
    """
    if not isinstance(raw, Tensor) or raw.dim() != 4:
        raise ValueError(f"raw must be a (B, C, h, w) tensor, got {getattr(raw, 'shape', type(raw))}")
    stride = int(getattr(net, "stride", 1))
    up = int(getattr(net, "upscale", 1))
    tile = (int(tile) // stride) * stride
    if tile < stride:
        raise ValueError(f"tile must be >= net.stride = {stride}, got {tile}")
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile = {tile}), got {overlap}")
    x, pads = pad_to_multiple(raw, stride)
    h, w = x.shape[-2:]
    if h <= tile and w <= tile:
        return crop_padding(net(x)["output"], pads, scale=up)
    step = max(stride, ((tile - overlap) // stride) * stride)
    trim, ramp = overlap // 4, max(1, overlap // 2)
    out = weight = None
    for y0 in _tile_starts(h, tile, step):
        th = min(tile, h)
        wy = _ramp(th, y0, th, h, trim, ramp)
        for x0 in _tile_starts(w, tile, step):
            tw = min(tile, w)
            wx = _ramp(tw, x0, tw, w, trim, ramp)
            y = net(x[..., y0 : y0 + th, x0 : x0 + tw])["output"]
            if out is None:
                out = y.new_zeros(*y.shape[:2], h * up, w * up)
                weight = y.new_zeros(1, 1, h * up, w * up)
            wt = (wy[:, None] * wx[None, :]).to(y)
            if up > 1:
                wt = wt.repeat_interleave(up, 0).repeat_interleave(up, 1)
            out[..., y0 * up : (y0 + th) * up, x0 * up : (x0 + tw) * up] += y * wt
            weight[..., y0 * up : (y0 + th) * up, x0 * up : (x0 + tw) * up] += wt
    return crop_padding(out / weight, pads, scale=up)
