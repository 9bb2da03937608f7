"""``fnflight enhance``: run a trained checkpoint on your own flash / no-flash pair, or on a test-set sample.

    fnflight enhance ckpt=PATH noflash=IMG flash=IMG out=OUT.png [dim=auto|FACTOR] [std_read=S] [std_shot=S]
    fnflight enhance ckpt=PATH testset=DIR index=N out=OUT.png

Own images: 8-bit files are sRGB and are linearised with the inverse sRGB curve, 16-bit files are taken as
linear (:func:`fnflight.data.sources.read_linear`); both must have the same size and be aligned roughly (the
nets tolerate the small hand-shake of paper 000). The noise std maps the nets need are computed from the
noisy images as in training, ``sqrt(std_read^2 + std_shot^2 max(x, 0))``, with ``std_read``/``std_shot`` given
or, with ``noise=estimate``, ``std_read`` estimated from the no-flash image (median absolute deviation of its
finest diagonal detail, Donoho's estimator) and ``std_shot`` 0; the default is paper 000's test level
(``std_read = 10**-2.6``, ``std_shot = 10**-1.8``). The output is linear at the no-flash exposure; it is
brightened by ``dim`` (the gain; ``auto`` maps the mean no-flash intensity to 0.18) and written as 8-bit sRGB.
Nets pad any size to a multiple of 32 internally. ``compare=true`` writes ``noisy (x gain) | output`` side by
side instead.

Test-set sample: writes ``noisy input | output | target`` (sRGB) for sample ``index``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

VALID = (
    "ckpt",
    "noflash",
    "flash",
    "out",
    "dim",
    "std_read",
    "std_shot",
    "noise",
    "testset",
    "index",
    "device",
    "compare",
)
TEST_STD_READ, TEST_STD_SHOT = 10**-2.6, 10**-1.8


class EnhanceError(ValueError):
    """A bad ``fnflight enhance`` request."""


def parse(argv: list[str]) -> dict[str, Any]:
    opts: dict[str, Any] = {"dim": "auto", "noise": "paper", "device": "auto", "index": 0, "compare": False}
    for item in argv:
        if "=" not in item:
            raise EnhanceError(
                f"argument {item!r} is not of the form key=value; valid keys: {', '.join(VALID)}"
            )
        key, value = item.split("=", 1)
        if key not in VALID:
            raise EnhanceError(f"unknown key {key!r}; valid keys: {', '.join(VALID)}")
        opts[key] = value
    for key in ("ckpt", "out"):
        if not opts.get(key):
            raise EnhanceError(
                f"missing {key}=...; usage: fnflight enhance ckpt=PATH noflash=IMG flash=IMG out=IMG"
            )
    own = bool(opts.get("noflash") or opts.get("flash"))
    if own == bool(opts.get("testset")):
        raise EnhanceError("pass either noflash=IMG flash=IMG, or testset=DIR index=N")
    if own and not (opts.get("noflash") and opts.get("flash")):
        raise EnhanceError("own images need both noflash=IMG and flash=IMG")
    if opts["noise"] not in ("paper", "estimate"):
        raise EnhanceError(
            f"bad noise={opts['noise']!r}; valid: paper, estimate (or give std_read / std_shot)"
        )
    try:
        opts["index"] = int(opts["index"])
        for key in ("std_read", "std_shot"):
            if opts.get(key) is not None:
                opts[key] = float(opts[key])
        if opts["dim"] != "auto":
            opts["dim"] = float(opts["dim"])
        opts["compare"] = str(opts["compare"]).lower() in ("true", "1", "yes")
    except ValueError as err:
        raise EnhanceError(f"bad number: {err}") from None
    return opts


def estimate_read_noise(image: torch.Tensor) -> float:
    """Donoho's MAD estimate of white-noise std from the finest diagonal Haar detail of ``(3, H, W)``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> round(estimate_read_noise(0.5 + 0.01 * torch.randn(3, 64, 64, generator=g)), 3)
        0.01
    """
    h, w = image.shape[-2] // 2 * 2, image.shape[-1] // 2 * 2
    x = image[..., :h, :w]
    d = (x[..., 0::2, 0::2] - x[..., 0::2, 1::2] - x[..., 1::2, 0::2] + x[..., 1::2, 1::2]) / 2
    return float(d.abs().median() / 0.6745)


def _read(path: str) -> torch.Tensor:
    from fnflight.data.sources import read_linear

    if not Path(path).is_file():
        raise EnhanceError(f"image {path!r} does not exist")
    try:
        arr = read_linear(path)
    except Exception as err:
        raise EnhanceError(f"cannot read {path!r}: {err}") from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float()


def own_batch(opts: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The batch dict (B = 1) for the user's no-flash / flash files."""
    from fnflight.data import batch as K
    from fnflight.imaging import noise_std_map

    noflash, flash = _read(opts["noflash"]), _read(opts["flash"])
    if noflash.shape != flash.shape:
        raise EnhanceError(
            f"noflash {tuple(noflash.shape[1:])} and flash {tuple(flash.shape[1:])} differ in size"
        )
    if opts["noise"] == "estimate":
        std_read, std_shot = estimate_read_noise(noflash), 0.0
    else:
        std_read, std_shot = TEST_STD_READ, TEST_STD_SHOT
    std_read = opts.get("std_read", std_read) if opts.get("std_read") is not None else std_read
    std_shot = opts.get("std_shot", std_shot) if opts.get("std_shot") is not None else std_shot
    sr, ss = torch.tensor([std_read]), torch.tensor([std_shot])
    nf, f = noflash[None], flash[None]
    gain = 0.18 / max(float(noflash.mean()), 1e-4) if opts["dim"] == "auto" else float(opts["dim"])
    return {
        K.NOFLASH: nf,
        K.FLASH: f,
        K.NOFLASH_STD: noise_std_map(nf, sr, ss),
        K.FLASH_STD: noise_std_map(f, sr, ss),
        K.GAIN: torch.tensor([gain]),
        K.DIM: torch.tensor([gain]),
        K.COLOR_MATRIX: torch.eye(3)[None],
        K.STD_READ: sr,
        K.STD_SHOT: ss,
    }


@torch.no_grad()
def run(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        print(__doc__)
        return 0
    from fnflight.cli.evaluate import as_batch
    from fnflight.data import batch as K
    from fnflight.data.base import collate
    from fnflight.data.testset import TestSet, TestSetError
    from fnflight.imaging.color import render_srgb
    from fnflight.tasks.checkpoint import CheckpointError, load_task
    from fnflight.tasks.image_logging import grid, save_png

    try:
        opts = parse(list(argv))
        device = torch.device(
            ("cuda" if torch.cuda.is_available() else "cpu") if opts["device"] == "auto" else opts["device"]
        )
        task = load_task(opts["ckpt"]).to(device)
        if opts.get("testset"):
            testset = TestSet(opts["testset"])
            if not 0 <= opts["index"] < len(testset):
                raise EnhanceError(
                    f"index={opts['index']} out of range: the test set has {len(testset)} samples"
                )
            batch = as_batch(collate([testset[opts["index"]]]), device)
        else:
            batch = {k: v.to(device) for k, v in own_batch(opts).items()}
        outputs = task.predict(batch)
    except (EnhanceError, CheckpointError, TestSetError) as err:
        print(f"fnflight enhance: {err}", file=sys.stderr)
        return 2
    gain, cm = batch[K.GAIN], batch[K.COLOR_MATRIX]
    noisy = batch[K.NOFLASH] if K.NOFLASH in batch else batch[K.BURST][:, 0]
    shown = [
        render_srgb(noisy, gain, cm, clip=True),
        render_srgb(outputs["output"].float(), gain, cm, clip=True),
    ]
    if opts.get("testset"):
        shown.append(render_srgb(batch[K.TARGET], gain, cm, clip=True))
        image = grid(shown, max_rows=1)
    elif opts["compare"]:
        image = grid(shown, max_rows=1)
    else:
        image = shown[1][0]
    path = save_png(opts["out"], image)
    print(f"fnflight enhance: wrote {path} (gain {float(gain[0]):.3g})")
    return 0
