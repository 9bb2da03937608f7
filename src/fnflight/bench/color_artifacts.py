"""Do the flash/no-flash nets invent colour? ``fnflight bench color-artifacts --json``: a JSON line per
(model, set).

A user's night photo nearly always holds a light source (a lamp, a flame, a glint), and a net that paints
it blue is wrong however high its PSNR (issue 22). For each model (shipped names or checkpoints) and each
set, the share of output pixels whose local colour neither input has (:func:`fnflight.metrics.color_artifacts.
chroma_off`: rg-chromaticity of 5 x 5 box means, more than 0.4 from BOTH the brightened no-flash image and
the flash image), compared in the written sRGB images:

- ``lights_kodak24``, ``lights_bsds500val``: deterministic synthetic pairs with light sources and clipped
  highlights (:func:`fnflight.data.light_sources.make_light_source_pairs`, seed ``seed``) from the photos of
  ``kodak=DIR`` and ``bsds=DIR`` (BSDS500 ``val``), at paper 000's test dims;
- ``faid_real``: the REAL pairs of ``faid=DIR`` (``NAME_ambient`` / ``NAME_flash``) at full size, degraded
  by the test protocol (dims, noise, shake; :class:`fnflight.data.fnf.FlashNoFlashDataModule`).

Each line: ``model``, ``set``, ``pairs``, ``chroma_off`` (the share over all pixels of the set, in percent),
``pairs_with_off`` (pairs holding any off pixel), ``worst_pair_off`` (percent), ``max_distance`` (the largest
distance of an output pixel's colour to the nearer input colour), ``psnr`` (mean, dB, against the target).
Options: ``models=[deepfnf,nfonly]`` (shipped names or checkpoint paths), ``kodak=null``, ``bsds=null``,
``faid=null`` (a set whose folder is not given is skipped), ``limit=null`` (photos per set), ``crop=448``,
``seed=0``, ``device=cpu``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = ["DEFAULTS", "measure", "run"]

DEFAULTS: dict[str, Any] = {
    "models": ["deepfnf", "nfonly"],
    "kodak": None,
    "bsds": None,
    "faid": None,
    "limit": None,
    "crop": 448,
    "seed": 0,
    "device": "cpu",
}
_PHOTOS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def _photos(folder: str | Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in _PHOTOS)
    if not files:
        raise FileNotFoundError(f"{folder}: no photos ({', '.join(_PHOTOS)})")
    return files[:limit] if limit else files


def _light_batches(folder: str, opts: dict[str, Any]) -> Iterator[dict[str, Tensor]]:
    from fnflight.data.light_sources import make_light_source_pairs

    paths = _photos(folder, opts["limit"])
    for pair in make_light_source_pairs(paths, seed=int(opts["seed"]), crop=int(opts["crop"])):
        yield {k: v for k, v in pair.items() if isinstance(v, Tensor)}


def _faid_batches(folder: str, opts: dict[str, Any]) -> Iterator[dict[str, Tensor]]:
    """The real pairs at full size, degraded by paper 000's test protocol at its dims (deterministic per
    pair: :meth:`~fnflight.data.fnf.FlashNoFlashDataModule.degrade_seeded`)."""
    import warnings

    from fnflight.data import batch as K
    from fnflight.data.fnf import TEST_DIMS, FlashNoFlashDataModule
    from fnflight.data.sources import FAIDPairs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 8-bit note of faid-samples: expected here
        source = FAIDPairs(folder)
    dm = FlashNoFlashDataModule(source=source, val_source=source, num_workers=0, seed=int(opts["seed"]))
    for index in range(len(source)):
        arrays = source.read(index)
        clean = {
            key: torch.from_numpy(arr.transpose(2, 0, 1).copy())[None].float() for key, arr in arrays.items()
        }
        clean[K.COLOR_MATRIX] = torch.from_numpy(source.color_matrix(index))[None].float()
        clean[K.INDEX] = torch.tensor([index])
        for dim in TEST_DIMS:
            yield dm.degrade_seeded({**clean, K.DIM: torch.tensor([dim])}, dm.seed, "test")


@torch.no_grad()
def measure(task, batches: Iterator[dict[str, Tensor]], device: torch.device) -> dict[str, Any]:
    """The line's figures (module docstring) of one model over one set's batches (B = 1 each)."""
    from fnflight.data import batch as K
    from fnflight.imaging.color import render_srgb
    from fnflight.metrics.color_artifacts import CHROMA_THRESHOLD, nearest_chroma_distance
    from fnflight.metrics.image_quality import psnr_per_image

    off_pixels = total = pairs = with_off = 0
    worst = max_dist = 0.0
    psnrs = []
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        out = task.predict(batch)["output"]
        cm = batch[K.COLOR_MATRIX]
        written = task.to_srgb(batch, out)
        noflash = task.to_srgb(batch, batch[K.NOFLASH])
        flash = render_srgb(batch[K.FLASH].float(), 1.0, cm, clip=True)
        nearer = nearest_chroma_distance(written, [noflash, flash])
        off = nearer > CHROMA_THRESHOLD
        n_off, n = int(off.sum()), off.numel()
        off_pixels, total, pairs = off_pixels + n_off, total + n, pairs + 1
        with_off += int(n_off > 0)
        worst = max(worst, 100.0 * n_off / n)
        max_dist = max(max_dist, float(nearer.max()))
        psnrs.append(float(psnr_per_image(written, task.to_srgb(batch, batch[K.TARGET])).mean()))
    return {
        "pairs": pairs,
        "chroma_off": 100.0 * off_pixels / max(total, 1),
        "pairs_with_off": with_off,
        "worst_pair_off": worst,
        "max_distance": max_dist,
        "psnr": sum(psnrs) / max(len(psnrs), 1),
    }


def _load(model: str):
    from fnflight.model_io.checkpoint import load_task
    from fnflight.models import checkpoint_path

    path = model if Path(model).suffix in (".pt", ".ckpt") else checkpoint_path(None, model)
    return load_task(path).eval()


def run(overrides: list[str], json_out: bool = True) -> int:
    from fnflight.cli.arguments import parse_overrides

    opts = parse_overrides(DEFAULTS, overrides)  # the one argument layer's rules
    sets = {
        "lights_kodak24": (opts["kodak"], _light_batches),
        "lights_bsds500val": (opts["bsds"], _light_batches),
        "faid_real": (opts["faid"], _faid_batches),
    }
    sets = {name: spec for name, spec in sets.items() if spec[0]}
    if not sets:
        print(
            "fnflight bench color-artifacts: give at least one of kodak=DIR bsds=DIR faid=DIR",
            file=sys.stderr,
        )
        return 2
    device = torch.device(str(opts["device"]))
    models = opts["models"] if isinstance(opts["models"], list) else [opts["models"]]
    for model in models:
        task = _load(str(model)).to(device)
        for name, (folder, batches) in sets.items():
            line = {"model": str(model), "set": name, **measure(task, batches(str(folder), opts), device)}
            if json_out:
                print(json.dumps(line), flush=True)
            else:
                print(
                    " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in line.items())
                )
    return 0
