"""LSD2 U-Net (paper 003, sec. 3.2 and Fig. 2; NOTES.md "LSD2").

Joint denoising and deblurring of a short (noisy) and a long (blurry) exposure: the two RGB images are stacked
into 6 channels and mapped by a plain U-Net to the sharp, clean image.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fnflight.nets.unet import ClassicUNet, crop_padding, init_weights, pad_to_multiple

__all__ = ["LSD2UNet"]


class LSD2UNet(nn.Module):
    """LSD2 network (paper 003 sec. 3.2; NOTES "LSD2").

    U-Net with 64, 128, 256, 512, 1024 channels, two 3x3 conv + ReLU per level, 2x2 max-pool, 2x2 stride-2
    transposed-conv upsampling (linear, with bias: the paper does not give its activation), concat skips,
    1x1 linear conv to 3 channels. Not residual (the output is predicted directly).

    Choices where paper and NOTES are silent:
        - input order: ``[long, short]`` (NOTES: "stacked long + short images"; paper: "a pair of blurry and
          noisy images (stacked)");
        - initialisation: Glorot-uniform weights, zero bias (the Keras ``Conv2D`` default of the authors'
          framework);
        - any input size: reflect-padded to a multiple of 16 (four max-pools) and cropped back.

    Args:
        width: channel multiplier (1.0 = paper, 31,033,603 parameters).
        inputs: ``"both"`` (the paper: long and short stacked), or ``"short"`` / ``"long"``: the same U-Net
            given one image only (3 input channels), the single-image baselines of the fusion benchmark
            (a denoiser and a deblurrer; fnflight's, not in the paper).

    Forward: ``short, long``: ``(B, 3, H, W)`` -> ``{"output": (B, 3, H, W)}``.

    >>> net = LSD2UNet(width=1 / 16)
    >>> x = torch.rand(1, 3, 37, 45)
    >>> net(x, x)["output"].shape
    torch.Size([1, 3, 37, 45])
    """

    def __init__(self, width: float = 1.0, inputs: str = "both"):
        super().__init__()
        if inputs not in ("both", "short", "long"):
            raise ValueError(f"inputs must be 'both', 'short' or 'long', got {inputs!r}")
        self.inputs = inputs
        in_channels = 6 if inputs == "both" else 3
        self.unet = ClassicUNet(in_channels, 3, (64, 128, 256, 512, 1024), width=width, activation="relu")
        self.stride = self.unet.stride
        init_weights(self, "glorot_uniform")

    @property
    def receptive_field(self) -> int:
        """Receptive field (px) of one output pixel (:attr:`ClassicUNet.receptive_field`): 215."""
        return self.unet.receptive_field

    def forward(self, short: Tensor, long: Tensor) -> dict[str, Tensor]:
        for name, t in (("short", short), ("long", long)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
            if t.dim() != 4 or t.shape[1] != 3:
                raise ValueError(f"{name} must have shape (B, 3, H, W), got {tuple(t.shape)}")
        if short.shape != long.shape:
            raise ValueError(
                f"short {tuple(short.shape)} and long {tuple(long.shape)} must have the same shape"
            )
        stacked = {"both": (long, short), "short": (short,), "long": (long,)}[self.inputs]
        x, pads = pad_to_multiple(torch.cat(stacked, dim=1), self.stride)
        return {"output": crop_padding(self.unet(x), pads)}
