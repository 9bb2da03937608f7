"""Side-by-side pictures for ``fnflight eval``: what each method makes of the same test images.

For each of the first ``figures`` test images one PNG, ``comparison_<image>.png``: a row per stored sample of
that image (for the flash/no-flash protocol, one per dimming level, darkest first; for raw, one per
amplification ratio), a column per panel: the
inputs (noisy no-flash brightened by the gain, flash), the floor references, every checkpoint's output and the
target, all as the metrics see them (rendered sRGB clipped to [0, 1]), centre-cropped to ``crop`` pixels so
that noise and detail stay visible. Each column is labelled on top, each row with its dimming and the PSNR of
every method panel against the target.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from fnflight.data.image_writer import write_image
from fnflight.evaluation.pictures import grid, to_uint8

__all__ = ["ComparisonFigure"]

_LABEL_H = 14  # pixels of the label band (PIL's built-in bitmap font is 11 px high)


def _centre_crop(x: Tensor, size: int) -> Tensor:
    h, w = x.shape[-2:]
    if size <= 0 or (size >= h and size >= w):
        return x
    sh, sw = min(size, h), min(size, w)
    top, left = (h - sh) // 2, (w - sw) // 2
    return x[..., top : top + sh, left : left + sw]


def _psnr(pred: Tensor, target: Tensor) -> float:
    mse = torch.mean((pred.double() - target.double()) ** 2).clamp_min(1e-12)
    return float(-10.0 * torch.log10(mse))


def _text_band(texts: list[str], widths: list[int], pad: int) -> Tensor:
    """A white ``(3, _LABEL_H, W)`` band with ``texts[i]`` written at the left of column ``i``."""
    import numpy as np
    from PIL import Image, ImageDraw

    total = sum(widths) + pad * (len(widths) - 1)
    band = Image.new("RGB", (total, _LABEL_H), "white")
    draw = ImageDraw.Draw(band)
    x = 0
    for text, w in zip(texts, widths):
        draw.text((x + 2, 1), text, fill="black")
        x += w + pad
    return torch.from_numpy(np.asarray(band).copy()).permute(2, 0, 1).float() / 255.0


class ComparisonFigure:
    """Collects panels while ``fnflight eval`` runs, then writes one labelled PNG per chosen image.

    Args:
        names: test-set image name per image index (from the manifest), used for file names and titles.
        figures: how many images (the first ``figures`` image indices); 0 turns the figures off.
        crop: centre crop of every panel in pixels (0 = whole image).
        level_key: the batch key of a row's level (``"dim"``; ``"ratio"`` for raw test sets).

    Example:
        >>> fig = ComparisonFigure({0: "a.png"}, figures=1, crop=4)
        >>> batch = {"index": torch.tensor([0]), "dim": torch.tensor([50.0])}
        >>> fig.add("target", batch, torch.ones(1, 3, 8, 8))
        >>> fig.add("model", batch, torch.full((1, 3, 8, 8), 0.9), target=torch.ones(1, 3, 8, 8))
        >>> [p.name for p in fig.save(__import__("tempfile").mkdtemp())]
        ['comparison_a.png']
    """

    # inputs and floor references on the left, the target on the right, the methods in between
    FIRST = (
        "noisy input",
        "flash",
        "gaussian_denoise",
        "traditional",
        "traditional_denoise",
        "short (display)",
        "long",
        "noisy_short",
        "blurry_long",
        "short_denoise",
        "reference frame",
        "average",
        "reference_denoise",
    )
    LAST = ("target",)

    def __init__(
        self, names: dict[int, str], figures: int = 2, crop: int = 192, level_key: str = "dim"
    ) -> None:
        self.names = names
        self.level_key = level_key
        self.chosen = set(sorted(names)[: max(int(figures), 0)])
        self.crop = int(crop)
        # image index -> row key (dim) -> column -> (panel, psnr or None)
        self.panels: dict[int, dict[float, dict[str, tuple[Tensor, float | None]]]] = {}
        self.columns: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.chosen)

    def add(
        self, column: str, batch: dict[str, Tensor], images: Tensor, target: Tensor | None = None
    ) -> None:
        """Keep the panels ``images`` ``(B, 3, H, W)`` (sRGB in [0, 1]) of the chosen samples of ``batch``
        under ``column``; with ``target``, each panel's PSNR is shown in its label."""
        if not self.chosen:
            return
        index = batch["index"].reshape(-1).tolist()
        key = self.level_key
        dims = batch[key].reshape(-1).tolist() if key in batch else [1.0] * len(index)
        for i, (img, dim) in enumerate(zip(index, dims)):
            if int(img) not in self.chosen:
                continue
            panel = _centre_crop(images[i].detach().float().cpu().clamp(0, 1), self.crop)
            psnr = None
            if target is not None:
                ref = _centre_crop(target[i].detach().float().cpu().clamp(0, 1), self.crop)
                psnr = _psnr(panel, ref)
            self.panels.setdefault(int(img), {}).setdefault(float(dim), {})[column] = (panel, psnr)
        if column not in self.columns:
            self.columns.append(column)

    def save(self, out: str | Path, pad: int = 2) -> list[Path]:
        """Write the PNGs into ``out``; returns their paths."""
        paths = []
        order = [c for c in self.FIRST if c in self.columns]
        order += [c for c in self.columns if c not in self.FIRST + self.LAST]
        order += [c for c in self.LAST if c in self.columns]
        for img, rows in sorted(self.panels.items()):
            dims = sorted(rows, reverse=True)
            columns = [c for c in order if any(c in rows[d] for d in dims)]
            first = next(iter(rows[dims[0]].values()))[0]
            blank = torch.ones_like(first)
            bands = [_text_band(columns, [first.shape[-1]] * len(columns), pad)]
            for d in dims:
                cells = [rows[d].get(c, (blank, None)) for c in columns]
                texts = ["" if p is None else f"{p:.2f} dB" for _, p in cells]
                if self.level_key != "_one":  # "_one": a table without levels (short/long)
                    level = f"gain {d:g}" if self.level_key == "level" else f"{d:g}x"
                    texts[0] = f"{level}  {texts[0]}".strip()
                bands.append(_text_band(texts, [first.shape[-1]] * len(columns), pad))
                bands.append(grid([c[0][None] for c in cells], max_rows=1, pad=pad))
            image = torch.cat(bands, dim=1)
            stem = Path(self.names.get(img) or f"image{img}").stem
            # atomically (a temporary renamed into place): an interrupt leaves no half picture
            paths.append(write_image(Path(out) / f"comparison_{stem}.png", to_uint8(image)))
        return paths
