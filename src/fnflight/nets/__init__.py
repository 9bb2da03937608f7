"""fnflight.nets: plain ``nn.Module`` networks (no Lightning).

Flash/no-flash nets share ``forward(noflash, flash, noflash_std, flash_std, extra_noflash=None,
extra_noflash_std=None) -> dict`` with ``"output"`` ``(B, 3, H, W)``; burst, short/long and raw nets have
their own signatures (docs/DEVELOPING.md "nets"). Every constructor takes ``width`` (1.0 = paper width).
"""

from fnflight.nets.deepfnf import DeepFnF
from fnflight.nets.fnf_baselines import BPN, DirectPrediction, KPNPair, NoFlashOnly
from fnflight.nets.kpn_burst import KPNBurst
from fnflight.nets.lsd2 import LSD2UNet
from fnflight.nets.saecnn import SAECNN
from fnflight.nets.sid import SIDUNet
from fnflight.nets.tiling import tiled_apply, tiled_forward
from fnflight.nets.unet import crop_padding, init_weights, pad_to_multiple

__all__ = [
    "BPN",
    "SAECNN",
    "DeepFnF",
    "DirectPrediction",
    "KPNBurst",
    "KPNPair",
    "LSD2UNet",
    "NoFlashOnly",
    "SIDUNet",
    "crop_padding",
    "init_weights",
    "pad_to_multiple",
    "tiled_apply",
    "tiled_forward",
]
