"""Flash / no-flash denoising (paper 000): a thin LightningModule around any FnF net.

Every FnF net of :mod:`fnflight.nets` has the signature ``net(noflash, flash, noflash_std, flash_std,
extra_noflash=None, extra_noflash_std=None) -> {"output", ...}``; what it uses of those inputs is its own
business (the no-flash-only baseline ignores the flash; the 2-frame burst BPN uses ``extra_noflash``). The
output is linear at the no-flash exposure and rendered with the batch's ``gain`` / ``color_matrix`` for loss,
metrics and pictures (sec. 3.3, 4.1).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fnflight.data import batch as keys
from fnflight.data.raw_sources import RAW_SUFFIXES
from fnflight.data.sources import SUPPORTED_EXTENSIONS
from fnflight.evaluation.pictures import normalise_map
from fnflight.imaging.color import render_srgb
from fnflight.metrics.image_quality import render_for_metrics
from fnflight.nets._fnf_common import match_exposure
from fnflight.tasks.base import EnhancementTask
from fnflight.tasks.losses import DeepFnFLoss
from fnflight.tasks.spec import TaskSpec

__all__ = [
    "INPUT_PREPARATIONS",
    "TRAINED_MEAN",
    "FlashNoFlashTask",
    "cap_exposure",
    "fnf_inputs",
    "nlmeans_noflash",
]


# How the flash enters a flash/no-flash net: ONE step for every net (DeepFnF, no-flash only, BPN, KPN,
# direct, SAECNN), so that a comparison gives every method the same inputs.
#   exposure_matched (default, our choice; the papers are silent): the flash and its std map scaled to the
#     mean brightness of the no-flash image (match_exposure; the noise-to-signal ratio is unchanged). The
#     dimmed no-flash image is 5-100x darker than the flash (NOTES: flash = 2 x flash-only + alpha x
#     ambient); as captured, the flash dominates every first-layer feature, and the nets that filter the
#     flash itself (BPN, KPN) must undo that gain per pixel. On our CPU budget DeepFnF fed the flash as
#     captured filtered the same at every noise level (benchmarks/fnf_input_ablation.py, results in
#     benchmarks/results/fnf_quality_cpu/); scaling each input to unit mean (tried first) trained slower.
#   as_captured: the authors' code (the flash as the camera recorded it).
INPUT_PREPARATIONS = ("exposure_matched", "as_captured")

# The brightest no-flash exposure an FnF net sees (our choice; the papers are silent). The nets learn dim
# captures: BSDS500 photos (linear means up to about 0.18) dimmed by the training dims 5-50. A brighter
# image (a well-exposed user photo, or a bright real FAID scene at dim 5: means up to 0.1) is far outside
# that range, and the nets are not scale-invariant (unnormalised basis and scale map): they darkened and
# blew out such images. So every image brighter than this mean is scaled down to it, images and noise std
# maps alike (the same noise-to-signal ratio), and the outputs scaled back: on the real FAID pairs at dim 5
# the DeepFnF of 8000 steps went from 28.2 to 31.4 dB (benchmarks/investigation/fnf_real_mild_exposure.txt);
# the cap binds on few training crops.
TRAINED_MEAN = 0.18 / 5
# the outputs of the FnF nets that are linear images (scaled back); the others (scale maps, importance
# maps, homographies) do not depend on the exposure
LINEAR_OUTPUTS = ("output", "filtered", "from_noflash", "from_flash", "aligned_flash")
EXTRA_FRAMES = (keys.EXTRA_NOFLASH, keys.EXTRA_NOFLASH_STD)


def cap_exposure(
    batch: dict[str, Tensor], cap: float | None, normalize: bool = False
) -> tuple[dict[str, Tensor], Tensor | None]:
    """``(batch, k)``: the batch with every image brighter than ``cap`` (mean of its no-flash image) scaled
    down to it, its flash, extra frames and their std maps by the same factor ``k`` ``(B, 1, 1, 1)``
    (``<= 1``; ``None`` when nothing is scaled); divide linear outputs by ``k``. With ``normalize`` every
    image is brought to the mean ``cap``, darker ones brightened too (``k`` any positive factor).

    >>> b = {keys.NOFLASH: torch.full((2, 3, 4, 4), 0.01), keys.FLASH: torch.full((2, 3, 4, 4), 0.5)}
    >>> b[keys.NOFLASH][1] = 0.2
    >>> capped, k = cap_exposure(b, 0.05)
    >>> k.flatten().tolist(), round(float(capped[keys.NOFLASH][1].mean()), 4)
    ([1.0, 0.25], 0.05)
    >>> cap_exposure(b, 0.5)[1] is None
    True
    >>> [round(v, 2) for v in cap_exposure(b, 0.05, normalize=True)[1].flatten().tolist()]
    [5.0, 0.25]
    """
    if cap is None:
        return batch, None
    noflash = batch[keys.NOFLASH]
    mean = noflash.mean(dim=tuple(range(1, noflash.dim())), keepdim=True).clamp_min(1e-12)
    if not normalize and bool((mean <= cap).all()):
        return batch, None
    k = cap / mean if normalize else (cap / mean).clamp(max=1.0)
    scaled = dict(batch)
    for name in (keys.NOFLASH, keys.FLASH, keys.NOFLASH_STD, keys.FLASH_STD) + EXTRA_FRAMES:
        x = batch.get(name)
        if x is not None:  # (B, 3, H, W), or (B, M, 3, H, W) extra frames
            scaled[name] = x * k.reshape(-1, *([1] * (x.dim() - 1)))
    return scaled, k


def fnf_inputs(batch: dict[str, Tensor], preparation: str = "exposure_matched") -> dict[str, Tensor | None]:
    """The keyword arguments of an FnF net taken from a batch dict, the flash prepared by ``preparation``
    (:data:`INPUT_PREPARATIONS`).

    >>> b = {keys.NOFLASH: torch.full((1, 3, 4, 4), 0.01), keys.FLASH: torch.full((1, 3, 4, 4), 0.5)}
    >>> b[keys.NOFLASH_STD], b[keys.FLASH_STD] = 0.1 * b[keys.NOFLASH], 0.1 * b[keys.FLASH]
    >>> x = fnf_inputs(b)
    >>> round(float(x["flash"].mean()), 4), round(float(x["flash_std"].mean()), 5)
    (0.01, 0.001)
    >>> float(fnf_inputs(b, "as_captured")["flash"].mean())
    0.5
    """
    if preparation not in INPUT_PREPARATIONS:
        raise ValueError(
            f"input preparation must be one of {', '.join(INPUT_PREPARATIONS)}, got {preparation!r}"
        )
    flash, flash_std = batch[keys.FLASH], batch[keys.FLASH_STD]
    if preparation == "exposure_matched":
        flash, flash_std = match_exposure(flash, flash_std, batch[keys.NOFLASH])
    return {
        "noflash": batch[keys.NOFLASH],
        "flash": flash,
        "noflash_std": batch[keys.NOFLASH_STD],
        "flash_std": flash_std,
        "extra_noflash": batch.get(keys.EXTRA_NOFLASH),
        "extra_noflash_std": batch.get(keys.EXTRA_NOFLASH_STD),
    }


def nlmeans_noflash(batch: dict[str, Tensor]) -> Tensor | None:
    """The no-flash image alone denoised by non-local means given its TRUE noise level (variance-stabilised:
    :func:`fnflight.classical.vst_denoise`), linear ``(B, 3, H, W)``; ``None`` when the batch has no
    ``std_read`` / ``std_shot``. The no-flash-only comparison of training summaries and a floor of
    ``fnflight eval``."""
    if keys.STD_READ not in batch or keys.STD_SHOT not in batch:
        return None
    from fnflight.classical import vst_denoise

    ones = torch.ones_like(batch[keys.STD_READ])
    # not clipped first: the dim no-flash image's read noise goes below 0, and clipping it to 0 would bias the
    # dark pixels that the gain then amplifies (the transform takes values below 0)
    return vst_denoise(batch[keys.NOFLASH], ones, batch[keys.STD_READ], batch[keys.STD_SHOT])


SPEC = TaskSpec(
    name="fnf",
    datamodule="fnflight.data.fnf.FlashNoFlashDataModule",
    level_key=keys.DIM,  # paper 000 Table 1: a column per dimming factor
    floors="fnflight.evaluation.floors.fnf_floors",
    shown_as_input=("noisy_input",),
    enhance_mode="own",
    enhance_keys=("noflash", "flash", "dim", "std_read", "std_shot", "noise", "compare", "tile", "bits"),
    enhance_files=("noflash", "flash"),
    # FAID's naming (NAME_ambient / NAME_flash) or ours; raw files too (decoded like noflash=A.dng)
    folder_roles={"noflash": ("_ambient", "_noflash"), "flash": ("_flash",)},
    folder_suffixes=SUPPORTED_EXTENSIONS + RAW_SUFFIXES,
    inputs="flash/no-flash pair: noflash= flash=",
)


class FlashNoFlashTask(EnhancementTask):
    """Train / validate / test an FnF net with paper 000's loss, metrics and schedule.

    Args: see :class:`fnflight.tasks.base.EnhancementTask` (paper 000's defaults); ``loss`` defaults to
    :class:`DeepFnFLoss` (eq. 6); ``input_preparation``: how the flash enters the net, the same for every
    net (:data:`INPUT_PREPARATIONS`: ``exposure_matched``, default, or the authors' ``as_captured``);
    ``exposure_cap``: the brightest no-flash mean the net sees (:data:`TRAINED_MEAN`; brighter images are
    scaled down to it and the outputs back, :func:`cap_exposure`; ``None``: off).

    Logged: ``train/loss`` (+ ``train/l2``, ``train/grad``, ``train/lr``), ``val/loss``, ``val/psnr``,
    ``val/ssim`` and per dimming level ``val/psnr_dim50``, ``val/ssim_dim50``, ...; the same under ``test/``.
    Pictures: noisy no-flash brightened | flash | output | target | filtered | scale map (the last two when
    the net returns them).
    """

    spec = SPEC  # what the command line knows of this task (fnflight.tasks.spec)

    default_loss = DeepFnFLoss

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module | None = None,
        input_preparation: str = "exposure_matched",
        exposure_cap: float | None = TRAINED_MEAN,
        normalize_exposure: bool = False,
        **options,
    ) -> None:
        if input_preparation not in INPUT_PREPARATIONS:
            raise ValueError(
                f"input_preparation must be one of {', '.join(INPUT_PREPARATIONS)}, got {input_preparation!r}"
            )
        if exposure_cap is not None and not float(exposure_cap) > 0:
            raise ValueError(f"exposure_cap must be > 0 or None, got {exposure_cap!r}")
        super().__init__(net, loss, **options)
        self.input_preparation = input_preparation
        self.exposure_cap = None if exposure_cap is None else float(exposure_cap)
        if normalize_exposure and self.exposure_cap is None:
            raise ValueError("normalize_exposure needs exposure_cap, the mean every image is brought to")
        self.normalize_exposure = bool(normalize_exposure)

    def predict(self, batch: dict[str, Tensor], net=None) -> dict[str, Tensor]:
        """The net's outputs for ``batch``: exposure cap and input preparation, then ``net`` (default
        ``self.net``; ``fnflight enhance`` passes the same net run in tiles), linear outputs scaled back."""
        batch, k = cap_exposure(batch, self.exposure_cap, self.normalize_exposure)
        out = (net or self.net)(**fnf_inputs(batch, self.input_preparation))
        if k is None:
            return out
        return {name: v / k if name in LINEAR_OUTPUTS else v for name, v in out.items()}

    def to_srgb(self, batch: dict[str, Tensor], image: Tensor) -> Tensor:
        """Linear camera RGB x ``gain`` -> ``color_matrix`` -> sRGB curve, clipped (paper 000 sec. 3.3)."""
        return render_for_metrics(image, batch[keys.GAIN], batch[keys.COLOR_MATRIX])

    def export_inputs(self, height: int, width: int) -> dict[str, Tensor]:
        """No-flash, flash and their noise std maps (the std maps positive, as the data makes them)."""
        images = {name: torch.rand(1, 3, height, width) for name in ("noflash", "flash")}
        return {**images, **{f"{n}_std": 0.01 + 0.05 * x.sqrt() for n, x in images.items()}}

    def input_preview(self, batch: dict[str, Tensor]) -> Tensor:
        """The noisy no-flash image brightened by the gain."""
        return self.to_srgb(batch, batch[keys.NOFLASH])

    def comparisons(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """``nlmeans_noflash`` (:func:`nlmeans_noflash`, the floor ``fnflight eval`` reports under that name):
        what denoising without the flash gets, so that a summary shows what the flash added. Needs the
        batch's ``std_read`` / ``std_shot`` (synthetic data); else none."""
        denoised = nlmeans_noflash(batch)
        return {} if denoised is None else {"nlmeans_noflash": self.to_srgb(batch, denoised)}

    def sample_panels(self, batch: dict[str, Tensor], outputs: dict[str, Tensor]) -> list[Tensor]:
        """``noisy no-flash x gain | flash (as captured) | [no-flash only] | output | target`` in sRGB
        (``sample.png``; the no-flash-only panel is :meth:`comparisons`' when the batch allows it)."""
        noisy, output, target = super().sample_panels(batch, outputs)
        flash = render_srgb(batch[keys.FLASH].float(), 1.0, batch[keys.COLOR_MATRIX], clip=True)
        return [noisy, flash, *self.comparisons(batch).values(), output, target]

    def panels(self, batch: dict[str, Tensor], outputs: dict[str, Tensor]) -> tuple[list[Tensor], str]:
        gain, cm = batch[keys.GAIN], batch[keys.COLOR_MATRIX]

        def show(x: Tensor, g: Tensor | float = gain) -> Tensor:
            return render_srgb(x.float(), g, cm, clip=True)

        panels = [show(batch[keys.NOFLASH]), show(batch[keys.FLASH], 1.0), show(outputs["output"])]
        panels.append(show(batch[keys.TARGET]))
        names = ["noisy no-flash (x gain)", "flash", "output", "target"]
        if "filtered" in outputs:
            panels.append(show(outputs["filtered"]))
            names.append("filtered")
        if "scale_map" in outputs:
            scale = outputs["scale_map"].float()
            panels.append(normalise_map(scale.expand(-1, 3, -1, -1) if scale.shape[1] == 1 else scale))
            names.append("scale map (/ p99)")
        return panels, " | ".join(names)
