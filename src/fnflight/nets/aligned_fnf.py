"""An FnF net behind the learned flash aligner (an fnflight extension, not in paper 000).

The aligner (:class:`fnflight.nets.flash_aligner.FlashAligner`) estimates the flash's homography and the flash
and its noise std map are warped onto the no-flash image before the wrapped net sees them. The aligner is
trained first on its own (``model=flash_aligner``, supervised by the data engine's warps) and loaded with
``init_from={aligner: PATH}``; by default it is then frozen (``train_aligner=false``), so the FnF net trains
on aligned flashes and the alignment keeps the accuracy it was measured at (benchmarks/results/fnf_alignment).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fnflight.imaging.homography import warp_image
from fnflight.nets._fnf_common import FlashNoFlashNet

__all__ = ["AlignedFlashNet"]


class AlignedFlashNet(FlashNoFlashNet):
    """``net`` fed with the flash warped by ``aligner``'s homography (same FnF signature as ``net``).

    Args:
        net: any FnF net of :mod:`fnflight.nets`.
        aligner: a :class:`~fnflight.nets.flash_aligner.FlashAligner`.
        train_aligner: ``False`` (default): the aligner's weights are frozen and it runs without gradients.

    Returns the wrapped net's outputs plus ``"homography"`` ``(B, 3, 3)`` and ``"aligned_flash"``.

    >>> from fnflight.nets import NoFlashOnly
    >>> from fnflight.nets.flash_aligner import FlashAligner
    >>> aligner = FlashAligner(0.25, 2, levels=(2, 1), iterations=(1, 1), motions=("affine", "homography"))
    >>> net = AlignedFlashNet(NoFlashOnly(width=0.0625), aligner)
    >>> x = torch.rand(1, 3, 32, 32) + 0.1
    >>> net(x, x, 0.01 * x, 0.01 * x)["output"].shape
    torch.Size([1, 3, 32, 32])
    """

    def __init__(self, net: nn.Module, aligner: nn.Module, train_aligner: bool = False) -> None:
        super().__init__()
        self.net = net
        self.aligner = aligner
        self.train_aligner = bool(train_aligner)
        if not self.train_aligner:
            self.aligner.requires_grad_(False)

    def extra_frames(self) -> int:
        return self.net.extra_frames()  # the filtering net's inputs, checked before the aligner runs

    def enhance(self, noflash: Tensor, flash: Tensor, noflash_std: Tensor, flash_std: Tensor, *extra):
        with torch.set_grad_enabled(self.train_aligner and torch.is_grad_enabled()):
            homography = self.aligner(noflash, flash, noflash_std, flash_std)["homography"]
        back = torch.linalg.inv(homography)  # aligned(x) = flash(A x) = warp_image(flash, A^-1)
        # reflection at the border, as the data engine warps (the flash outside the frame is unknown)
        aligned = warp_image(flash, back)
        aligned_std = warp_image(flash_std, back)
        out = dict(self.net(noflash, aligned, noflash_std, aligned_std, *extra))
        out["homography"] = homography
        out["aligned_flash"] = aligned
        return out
