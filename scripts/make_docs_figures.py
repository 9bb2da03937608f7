"""Write one picture per task to docs/<task>.png: clean image(s), degraded inputs and target, side by side.

Every panel is rendered to sRGB with ``fnflight.imaging.render_srgb`` (gain brightens dark inputs to the
target's exposure). Deterministic: a fixed set of embedded photos, fixed centre crops, seeded degradations
(the same ``degrade_seeded`` the test-set writer uses).

Usage: ``python scripts/make_docs_figures.py [tasks=fnf,burst] [out=docs] [crop=256] [seed=0]``

To add a task: write a ``figure_<task>(crop, seed) -> (rows, labels)`` function that returns rows of
``(3, H, W)`` sRGB tensors in [0, 1] and add it to ``FIGURES``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from fnflight.data import (
    BurstDataModule,
    EmbeddedPhotos,
    FlashNoFlashDataModule,
    RawLowLightDataModule,
    ShortLongDataModule,
    collate,
)
from fnflight.data import batch as K
from fnflight.data.short_long import encode
from fnflight.imaging import render_srgb, srgb_from_linear

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ("astronaut", "chelsea", "coffee")  # a small fixed set of the embedded photos


def _source() -> EmbeddedPhotos:
    src = EmbeddedPhotos(split="all")
    src.items = [it for it in src.items if it["name"] in PHOTOS]
    return src


def _render(x: torch.Tensor, gain: float | torch.Tensor, cm: torch.Tensor) -> torch.Tensor:
    return render_srgb(x[None], torch.as_tensor(gain, dtype=torch.float32).reshape(1), cm[None], clip=True)[0]


def _test_batches(dm, seed: int):
    """The test samples of ``dm`` one at a time, degraded as the test-set writer does."""
    ds = dm.make_dataset("test")
    for i in range(len(ds)):
        yield dm.degrade_seeded(collate([ds[i]]), seed, "test")


def figure_fnf(crop: int, seed: int) -> tuple[list[list[torch.Tensor]], list[str]]:
    dm = FlashNoFlashDataModule(
        source=_source(), val_source=_source(), crop=crop, num_workers=0, seed=seed, test_dims=[50.0]
    )
    rows = []
    for b in _test_batches(dm, seed):
        cm, g = b[K.COLOR_MATRIX][0], b[K.GAIN][0]
        rows.append(
            [
                _render(b[K.AMBIENT][0], 1.0, cm),
                _render(b[K.FLASH_ONLY][0], 1.0, cm),
                _render(b[K.NOFLASH][0], g, cm),
                _render(b[K.FLASH][0], 1.0, cm),
                _render(b[K.TARGET][0], g, cm),
            ]
        )
    labels = [
        "ambient (synthetic)",
        "flash only (synthetic)",
        "no-flash input, 50x dim (x50)",
        "flash input (warped)",
        "target",
    ]
    return rows, labels


def figure_burst(crop: int, seed: int) -> tuple[list[list[torch.Tensor]], list[str]]:
    dm = BurstDataModule(source=_source(), val_source=_source(), crop=crop, num_workers=0, seed=seed)
    rows = []
    for b in _test_batches(dm, seed):
        cm, g = b[K.COLOR_MATRIX][0], b[K.GAIN][0]
        burst = b[K.BURST][0]
        std = b[K.NOISE_STD][0].expand(3, -1, -1)
        rows.append(
            [
                _render(burst[0], g, cm),
                _render(burst[1], g, cm),
                _render(burst[-1], g, cm),
                (std / std.max()).clamp(0, 1),
                _render(b[K.TARGET][0], g, cm),
            ]
        )
    labels = ["frame 0 (reference)", "frame 1", f"frame {dm.frames - 1}", "noise estimate", "target"]
    return rows, labels


def figure_short_long(crop: int, seed: int) -> tuple[list[list[torch.Tensor]], list[str]]:
    dm = ShortLongDataModule(
        source=_source(),
        val_source=_source(),
        crop=crop,
        num_workers=0,
        seed=seed,
        test_long_exposures=[0.21],
    )
    rows = []
    for b in _test_batches(dm, seed):
        cm, gamma = b[K.COLOR_MATRIX][0], float(b[K.ENCODING_GAMMA][0])
        panels = [
            (encode(b[K.AMBIENT][0], gamma), 1.0),
            (b[K.SHORT][0], 1.0),
            (b[K.SHORT][0], b[K.SHORT_GAIN][0]),
            (b[K.LONG][0], 1.0),
            (b[K.TARGET][0], 1.0),
        ]
        # gamma-2.2 batches are display images (the paper's encoding); linear ones get the sRGB rendering
        rows.append([(x * g).clamp(0, 1) if gamma != 1.0 else _render(x, g, cm) for x, g in panels])
    labels = [
        "clean",
        "short input (7 ms, as captured)",
        "short, brightness matched",
        "long input (210 ms, blurred)",
        "target (saturated)",
    ]
    return rows, labels


def _packed_preview(packed: torch.Tensor, size: int) -> torch.Tensor:
    """A packed RGGB raw ``(4, h, w)`` as a (camera-RGB, sRGB-encoded) ``(3, size, size)`` preview."""
    rgb = torch.stack([packed[0], (packed[1] + packed[2]) / 2, packed[3]])
    rgb = torch.nn.functional.interpolate(rgb[None], size=(size, size), mode="nearest")[0]
    return srgb_from_linear(rgb.clamp(0, 1))


def figure_raw(crop: int, seed: int) -> tuple[list[list[torch.Tensor]], list[str]]:
    dm = RawLowLightDataModule(
        source=_source(), val_source=_source(), crop=crop // 2, num_workers=0, seed=seed, test_ratios=[100.0]
    )
    rows = []
    for b in _test_batches(dm, seed):
        rows.append(
            [
                srgb_from_linear(b[K.AMBIENT][0].clamp(0, 1)),
                _packed_preview(b[K.RAW][0], crop),
                b[K.TARGET][0].clamp(0, 1),
            ]
        )
    labels = ["clean", "raw input, ratio 100 (x100, camera RGB)", "target (sRGB)"]
    return rows, labels


FIGURES: dict[str, Callable[[int, int], tuple[list[list[torch.Tensor]], list[str]]]] = {
    "fnf": figure_fnf,
    "burst": figure_burst,
    "short_long": figure_short_long,
    "raw": figure_raw,
}


def compose(
    rows: list[list[torch.Tensor]], labels: list[str], pad: int = 4, label_h: int = 14
) -> Image.Image:
    h, w = rows[0][0].shape[-2:]
    cols = len(rows[0])
    canvas = Image.new("RGB", (cols * (w + pad) + pad, label_h + len(rows) * (h + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for c, text in enumerate(labels):
        draw.text((pad + c * (w + pad), 2), text, fill="black")
    for r, row in enumerate(rows):
        for c, panel in enumerate(row):
            arr = (panel.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
            canvas.paste(Image.fromarray(arr), (pad + c * (w + pad), label_h + pad + r * (h + pad)))
    return canvas


def main(argv: list[str]) -> int:
    opts = {"tasks": ",".join(FIGURES), "out": str(ROOT / "docs"), "crop": "256", "seed": "0"}
    for arg in argv:
        key, _, value = arg.partition("=")
        if key not in opts or not value:
            print(f"usage: make_docs_figures.py [{' '.join(k + '=...' for k in opts)}]", file=sys.stderr)
            return 2
        opts[key] = value
    torch.set_num_threads(1)
    for task in opts["tasks"].split(","):
        if task not in FIGURES:
            print(f"unknown task {task!r}; valid: {', '.join(FIGURES)}", file=sys.stderr)
            return 2
        with torch.no_grad():
            rows, labels = FIGURES[task](int(opts["crop"]), int(opts["seed"]))
        path = Path(opts["out"]) / f"{task}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        compose(rows, labels).save(path)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
