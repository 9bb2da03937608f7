"""How real is the synthetic flash? ``fnflight bench flash-realism --json``: one JSON line per (source, dim).

Two measurements (issue "make the flash pay off on real flash", point 1), for synthetic flash/ambient pairs
made by :func:`fnflight.data.flash_synthesis.synthesize_flash_pair` from a photo folder and for REAL pairs
(a folder of ``NAME_ambient.png`` / ``NAME_flash.png`` read by :class:`fnflight.data.sources.FAIDPairs`, the
flash file holding the flash-only illumination; 8-bit sRGB linearised, 16-bit FAID linear), on centre
crops of ``crop`` px:

- ``transfer_gain_db``: what an UNTRAINED use of the flash gains. With paper 000's test protocol (dim ``d``,
  ``std_read = 10**-2.6``, ``std_shot = 10**-1.8``, the flash ``2 flash_only + ambient / d``, no warp), the
  best plain Gaussian blur of the noisy no-flash image ``G_s(noflash)`` against a simplified Petschnigg
  detail transfer ``G_s(noflash) (G_0.7(L_f) + e) / (G_s(L_f) + e)`` (``L_f`` the flash's mean-RGB
  luminance, ``e = 1e-3``), each at its best ``s`` of ``sigmas`` (chosen on the mean PSNR of the set);
  PSNR of the rendered sRGB (gain ``d``, clipped) against the clean ambient, mean over images;
- ``detail_corr``: the correlation of the fine detail of ambient and flash-only (clean): the high-pass of
  the log mean-RGB luminance (minus its Gaussian blur, sigma 3 px), per image, mean over images (the same at
  every dim: the clean images do not depend on it). A real flash lights the same albedo with other shading
  (0.64-0.76 on the three FAID samples); a flash that repeats the ambient's shading correlates near 1.
- the detail's AMPLITUDE per band (issue 22, point 3), fine (``log L - G_3``) and mid (``G_3 - G_24``) of
  the same log luminance, per image, mean over images: ``{fine,mid}_ratio`` the std of the ambient's detail
  over the flash's, ``{fine,mid}_slope`` the regression slope of the ambient's detail on the flash's
  (``cov / var(flash)``: what a detail transfer must multiply the flash's detail by), ``mid_corr``. The
  real FAID pairs: ratio about 1, slope about 0.7; a flash whose detail is much weaker than the
  ambient's makes a net amplify the flash by an unknown per-image gain.

Options: ``synthetic=DIR`` (photos; default the embedded photos), ``real=DIR`` (pairs; none: skipped),
``crop=224`` (or a list, e.g. ``crop=[128,448]``: one set of lines per crop; an image smaller than the crop
is measured on its largest centred square, ``crop_used``), ``dims=[100,50,25,12.5]``,
``sigmas=[0.5,1,1.5,2,3,4,6,8,12,16]``, ``limit=null``, ``seed=0``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = ["DEFAULTS", "measure", "read_real_pairs", "run"]

DEFAULTS: dict[str, Any] = {
    "synthetic": None,
    "real": None,
    "crop": 224,
    "dims": [100.0, 50.0, 25.0, 12.5],
    "sigmas": [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0],
    "limit": None,
    "seed": 0,
}
_EPS = 1e-3


def _centre(x: Tensor, crop: int, fit: bool = False) -> Tensor:
    h, w = x.shape[-2:]
    if fit:
        crop = min(crop, h, w)
    if h < crop or w < crop:
        raise ValueError(f"image {h}x{w} is smaller than the crop {crop}")
    top, left = (h - crop) // 2, (w - crop) // 2
    return x[..., top : top + crop, left : left + crop]


def read_real_pairs(folder: str | Path, crop: int, fit: bool = False) -> list[tuple[str, Tensor, Tensor]]:
    """``[(name, ambient, flash_only)]`` linear ``(1, 3, crop, crop)`` of a FAID-layout folder
    (:class:`fnflight.data.sources.FAIDPairs`: 16-bit linear, or 8-bit sRGB like ``faid-samples``);
    ``fit``: a smaller image gives its largest centred square."""
    import warnings

    from fnflight.data.sources import FAIDPairs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 8-bit note: expected here
        source = FAIDPairs(folder)
    pairs = []
    for i in range(len(source)):
        arrays = source.read(i)
        amb, fl = (
            torch.from_numpy(arrays[k].copy()).permute(2, 0, 1)[None] for k in ("ambient", "flash_only")
        )
        pairs.append((source.name(i), _centre(amb, crop, fit), _centre(fl, crop, fit)))
    return pairs


def _synthetic_pairs(
    folder: str | None, crop: int, limit: int | None, seed: int, fit: bool = False
) -> list[tuple[str, Tensor, Tensor]]:
    from fnflight.data.flash_synthesis import FlashSynthesis, synthesize_flash_pair
    from fnflight.data.sources import EmbeddedPhotos, ImageFolder

    source = ImageFolder(folder) if folder else EmbeddedPhotos(split="val")
    count = len(source) if limit is None else min(int(limit), len(source))
    pairs = []
    for i in range(count):
        image = _centre(torch.from_numpy(source.read(i)["ambient"].copy()).permute(2, 0, 1)[None], crop, fit)
        g = torch.Generator().manual_seed(seed * 100003 + i)
        # synthesised on the crop; without light sources (FlashSynthesis.light_share): the real pairs hold
        # none, and the measure is of the surfaces' detail
        pair = synthesize_flash_pair(image, g, FlashSynthesis(light_share=0.0), details=False)
        pairs.append((source.name(i), pair["ambient"], pair["flash_only"]))
    return pairs


def _blur(x: Tensor, sigma: float) -> Tensor:
    from kornia.filters import gaussian_blur2d

    k = 2 * int(torch.ceil(torch.tensor(3.0 * sigma))) + 1
    return gaussian_blur2d(x, (k, k), (sigma, sigma), border_type="reflect")


def _high_pass(x: Tensor) -> Tensor:
    log = torch.log(x.mean(1, keepdim=True).clamp_min(0) + _EPS)
    return log - _blur(log, 3.0)


def _corr(a: Tensor, b: Tensor) -> float:
    a, b = a.flatten() - a.mean(), b.flatten() - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-12))


def bands(x: Tensor) -> tuple[Tensor, Tensor]:
    """The fine (``log L - G_3``) and mid (``G_3 - G_24``) detail of the log mean-RGB luminance."""
    log = torch.log(x.mean(1, keepdim=True).clamp_min(0) + _EPS)
    g3 = _blur(log, 3.0)
    return log - g3, g3 - _blur(log, 24.0)


def band_stats(ambient: Tensor, flash: Tensor) -> dict[str, float]:
    """Per band: ``ratio`` std(ambient detail) / std(flash detail), ``slope`` of the regression of the
    ambient's detail on the flash's, ``corr``; keys ``fine_ratio``, ``fine_slope``, ``fine_corr``,
    ``mid_*``."""
    out = {}
    for name, a, f in zip(("fine", "mid"), bands(ambient), bands(flash)):
        a, f = a.flatten() - a.mean(), f.flatten() - f.mean()
        var_f = (f * f).mean().clamp_min(1e-12)
        out[f"{name}_ratio"] = float((a * a).mean().sqrt() / var_f.sqrt())
        out[f"{name}_slope"] = float((a * f).mean() / var_f)
        out[f"{name}_corr"] = _corr(a, f)
    return out


@torch.no_grad()
def measure(
    pairs: list[tuple[str, Tensor, Tensor]], dims: list[float], sigmas: list[float], seed: int
) -> list[dict]:
    """The per-dim records of one source (module docstring)."""
    from fnflight.imaging import add_heteroscedastic_noise
    from fnflight.metrics.image_quality import psnr_per_image, render_for_metrics

    eye = torch.eye(3)[None]
    corr = sum(_corr(_high_pass(a), _high_pass(f)) for _, a, f in pairs) / len(pairs)
    stats = [band_stats(a, f) for _, a, f in pairs]
    amplitude = {
        k: round(sum(st[k] for st in stats) / len(stats), 4)
        for k in ("fine_ratio", "fine_slope", "mid_ratio", "mid_slope", "mid_corr")
    }
    rows = []
    for dim in dims:
        blur_psnr = {s: 0.0 for s in sigmas}
        transfer_psnr = {s: 0.0 for s in sigmas}
        for i, (_, ambient, flash_only) in enumerate(pairs):
            g = torch.Generator().manual_seed(seed * 7919 + i)
            clean_nf = ambient / dim
            noflash = add_heteroscedastic_noise(clean_nf, 10**-2.6, 10**-1.8, g)
            flash = add_heteroscedastic_noise(2.0 * flash_only + clean_nf, 10**-2.6, 10**-1.8, g)
            target = render_for_metrics(clean_nf, dim, eye)
            luma = flash.mean(1, keepdim=True)
            fine = _blur(luma, 0.7) + _EPS
            for s in sigmas:
                base = _blur(noflash, s)
                blur_psnr[s] += float(psnr_per_image(render_for_metrics(base, dim, eye), target)) / len(pairs)
                out = base * fine / (_blur(luma, s) + _EPS)
                transfer_psnr[s] += float(psnr_per_image(render_for_metrics(out, dim, eye), target)) / len(
                    pairs
                )
        sb, st = max(blur_psnr, key=blur_psnr.get), max(transfer_psnr, key=transfer_psnr.get)
        rows.append(
            {
                "dim": dim,
                "transfer_gain_db": round(transfer_psnr[st] - blur_psnr[sb], 3),
                "detail_corr": round(corr, 4),
                **amplitude,
                "blur_psnr": round(blur_psnr[sb], 3),
                "transfer_psnr": round(transfer_psnr[st], 3),
                "sigma_blur": sb,
                "sigma_transfer": st,
                "images": len(pairs),
            }
        )
    return rows


def run(overrides: list[str] | None = None, json_out: bool = True) -> int:
    """Measure the synthetic (and with ``real=DIR`` the real) pairs; print one JSON line per (source, dim)."""
    from fnflight.cli.arguments import parse_overrides
    from fnflight.data.sources import SourceError

    opts = parse_overrides(DEFAULTS, overrides or [])  # the one argument layer's rules
    several = isinstance(opts["crop"], list)
    crops = [int(c) for c in opts["crop"]] if several else [int(opts["crop"])]
    dims, sigmas = [float(d) for d in opts["dims"]], [float(s) for s in opts["sigmas"]]
    for crop in crops:
        try:
            sources = [
                (
                    "synthetic",
                    _synthetic_pairs(opts["synthetic"], crop, opts["limit"], int(opts["seed"]), several),
                )
            ]
            if opts["real"]:
                sources.append(("real", read_real_pairs(opts["real"], crop, several)))
        except (SourceError, ValueError) as err:
            print(f"fnflight bench flash-realism: {err}", file=sys.stderr)
            return 2
        for name, pairs in sources:
            used = min(int(x.shape[-1]) for _, x, _ in pairs)
            for row in measure(pairs, dims, sigmas, int(opts["seed"])):
                row = {"source": name, **row, "crop": crop, "crop_used": used}
                line = json.dumps(row) if json_out else "  ".join(f"{k}={v}" for k, v in row.items())
                print(line, flush=True)
    return 0
