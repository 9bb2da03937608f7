"""Learning to See in the Dark U-Net (paper 004, sec. 3 and Fig. 3; NOTES.md "SID").

Full-resolution inference goes through :func:`fnflight.nets.tiling.tiled_forward` (exact, using
:attr:`SIDUNet.receptive_field`).

The network maps the packed, black-level-subtracted and amplified raw image (Bayer: 4 channels at half
resolution; X-Trans: 9 channels at a third) to sRGB at full resolution through a final depth-to-space.
"""

from __future__ import annotations

import torch  # noqa: F401 (the doctests use it)
import torch.nn.functional as F
from torch import Tensor, nn

from fnflight.nets.unet import ClassicUNet, crop_padding, init_weights, pad_to_multiple

__all__ = ["CFA_LAYOUT", "SIDUNet"]

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
        """Receptive field (packed pixels) of one output pixel (:attr:`ClassicUNet.receptive_field`).

        >>> SIDUNet(width=1 / 8).receptive_field, SIDUNet(width=1 / 8, depth=2).receptive_field
        (215, 19)
        """
        return self.unet.receptive_field

    def forward(self, raw: Tensor) -> dict[str, Tensor]:
        if not isinstance(raw, Tensor):
            raise TypeError(f"raw must be a torch.Tensor, got {type(raw).__name__}")
        if raw.dim() != 4 or raw.shape[1] != self.in_channels:
            raise ValueError(f"raw must have shape (B, {self.in_channels}, h, w), got {tuple(raw.shape)}")
        x, pads = pad_to_multiple(raw, self.stride)
        out = F.pixel_shuffle(self.unet(x), self.upscale)
        return {"output": crop_padding(out, pads, scale=self.upscale)}
