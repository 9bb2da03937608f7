"""LPIPS (Zhang et al. CVPR 2018, "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric"),
AlexNet variant, from locally stored weights only.

Paper 001 reports LPIPS next to PSNR / SSIM. torchmetrics' LPIPS needs torchvision, which this package must
not install, and its weights would be downloaded at run time, which fnflight never does. So the network is
written here in plain torch and its weights come from ONE local file the user points to
(``fnflight eval ... lpips=PATH``); without it the table says LPIPS is not available.

The weights file is a ``torch.save``'d state dict (loaded with ``weights_only=True``: never unpickled) holding
the union of
    - torchvision's ``alexnet`` ImageNet weights, its ``features.{0,3,6,8,10}.{weight,bias}`` entries, and
    - the LPIPS linear heads ``lin{0..4}.model.1.weight`` (shapes ``(1, C, 1, 1)``) of the authors' v0.1
      ``alex.pth``.
Made once on a machine that has both, e.g.::

    sd = {k: v for k, v in torchvision.models.alexnet(weights="DEFAULT").state_dict().items()
          if k.startswith("features.")}
    sd.update(torch.load("lpips/weights/v0.1/alex.pth"))
    torch.save(sd, "lpips_alex.pt")

Distance (the paper's eq. 1): images in [0, 1] -> [-1, 1] -> the authors' input scaling (shift
(-.030, -.088, -.188), scale (.458, .448, .450)); per AlexNet ReLU stage 1-5, unit-normalise the features over
channels, square the difference, weigh the channels by the linear head, average over space; sum the stages.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["LPIPS", "LPIPSError", "file_state", "load_lpips"]

# (in, out, kernel, stride, padding) of AlexNet's five convolutions; a max-pool follows the 1st, 2nd (and 5th)
_CONVS = (
    (3, 64, 11, 4, 2),
    (64, 192, 5, 1, 2),
    (192, 384, 3, 1, 1),
    (384, 256, 3, 1, 1),
    (256, 256, 3, 1, 1),
)
_FEATURE_INDEX = (0, 3, 6, 8, 10)  # their positions in torchvision's ``alexnet.features``
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


class LPIPSError(ValueError):
    """LPIPS weights missing, unreadable or of the wrong layout."""


class LPIPS(nn.Module):
    """LPIPS distance (AlexNet, v0.1 linear heads); lower is more similar. Weights: :func:`load_lpips`.

    Forward: ``pred, target (B, 3, H, W)`` sRGB in ``[0, 1]`` (H, W >= 32) -> ``(B,)`` distances.

    >>> m = LPIPS().eval()
    >>> x = torch.rand(2, 3, 64, 64)
    >>> m(x, x).abs().max().item() < 1e-6
    True
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (cin, cout, k, s, p) in enumerate(_CONVS):
            layers += [nn.Conv2d(cin, cout, k, stride=s, padding=p), nn.ReLU(inplace=False)]
            if i < 2:
                layers.append(nn.MaxPool2d(3, 2))
        self.features = nn.Sequential(*layers)
        self.lins = nn.ModuleList(nn.Conv2d(c[1], 1, 1, bias=False) for c in _CONVS)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)

    def _stages(self, x: Tensor) -> list[Tensor]:
        out = []
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, nn.ReLU):
                out.append(x)
        return out

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.shape != target.shape or pred.ndim != 4 or pred.shape[1] != 3:
            raise ValueError(
                "pred and target must share one (B, 3, H, W) shape, "
                f"got {tuple(pred.shape)}, {tuple(target.shape)}"
            )
        if min(pred.shape[-2:]) < 32:
            raise ValueError(f"LPIPS needs images of at least 32 x 32 px, got {tuple(pred.shape[-2:])}")

        def prepare(x: Tensor) -> Tensor:
            return ((x.float() * 2 - 1) - self.shift) / self.scale

        total = pred.new_zeros(len(pred), dtype=torch.float32)
        for fp, ft, lin in zip(self._stages(prepare(pred)), self._stages(prepare(target)), self.lins):
            fp = fp / (fp.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            ft = ft / (ft.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + lin((fp - ft) ** 2).mean(dim=(1, 2, 3))
        return total


def _expected_keys() -> dict[str, tuple[int, ...]]:
    keys: dict[str, tuple[int, ...]] = {}
    for idx, (cin, cout, k, _s, _p) in zip(_FEATURE_INDEX, _CONVS):
        keys[f"features.{idx}.weight"] = (cout, cin, k, k)
        keys[f"features.{idx}.bias"] = (cout,)
    for i, (_cin, cout, *_rest) in enumerate(_CONVS):
        keys[f"lin{i}.model.1.weight"] = (1, cout, 1, 1)
    return keys


def load_lpips(path: str | Path, map_location: str | torch.device = "cpu") -> LPIPS:
    """:class:`LPIPS` with the weights of the local file ``path`` (layout: this module's docstring).

    Raises :class:`LPIPSError` with the missing or misshapen keys; the file is read with
    ``torch.load(weights_only=True)``.
    """
    path = Path(path)
    if not path.is_file():
        raise LPIPSError(
            f"LPIPS weights {path} not found (fnflight never downloads them: see fnflight.metrics.lpips)"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise LPIPSError(f"cannot read LPIPS weights {path}: {type(err).__name__}: {err}") from None
    if not isinstance(state, dict):
        raise LPIPSError(f"LPIPS weights {path} hold a {type(state).__name__}, not a state dict")
    expected = _expected_keys()
    missing = [k for k in expected if k not in state]
    bad = [
        f"{k} {tuple(state[k].shape)} (expected {s})"
        for k, s in expected.items()
        if k in state and tuple(state[k].shape) != s
    ]
    if missing or bad:
        raise LPIPSError(
            f"LPIPS weights {path} do not have the AlexNet + LPIPS v0.1 layout: "
            + (f"missing {', '.join(missing)}" if missing else "")
            + ("; " if missing and bad else "")
            + (f"wrong shapes {', '.join(bad)}" if bad else "")
        )
    model = LPIPS()
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        for conv, idx in zip(convs, _FEATURE_INDEX):
            conv.weight.copy_(state[f"features.{idx}.weight"])
            conv.bias.copy_(state[f"features.{idx}.bias"])
        for i, lin in enumerate(model.lins):
            lin.weight.copy_(state[f"lin{i}.model.1.weight"])
    return model.eval()


def file_state(model: LPIPS) -> dict[str, Tensor]:
    """``model``'s weights in the file layout :func:`load_lpips` reads (its inverse)."""
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    state: dict[str, Tensor] = {}
    for conv, idx in zip(convs, _FEATURE_INDEX):
        state[f"features.{idx}.weight"], state[f"features.{idx}.bias"] = conv.weight, conv.bias
    for i, lin in enumerate(model.lins):
        state[f"lin{i}.model.1.weight"] = lin.weight
    return state
