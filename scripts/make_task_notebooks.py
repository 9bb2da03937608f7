# ruff: noqa: E501  (the notebooks' prose is written as long strings)
"""Write the per-task notebooks (notebooks/flash_noflash.ipynb, raw_lowlight.ipynb, short_long.ipynb,
burst.ipynb) from one template, so they stay alike. usage: .venv/bin/python scripts/make_task_notebooks.py"""

from pathlib import Path

import nbformat as nbf

COMMON_SETUP = """import os
import tempfile
from pathlib import Path

import torch
from IPython.display import Image, Markdown, display

from fnflight import models
from fnflight.evaluation.engine import as_batch
from fnflight.data.base import collate
from fnflight.data.testset import TestSet, write_testset
from fnflight.model_io.checkpoint import load_task
from fnflight.evaluation.pictures import grid, save_png
from fnflight.metrics.image_quality import psnr_per_image

# FNFLIGHT_NOTEBOOK_TINY=1 (set by the test suite) shrinks the pictures to seconds.
TINY = os.environ.get("FNFLIGHT_NOTEBOOK_TINY") == "1"
work = Path(tempfile.mkdtemp(prefix="fnflight-notebook-"))"""

SHOW = """samples = TestSet(testset)
rows, scores = [], []
for i in range(len(samples)):
    batch = as_batch(collate([samples[i]]))
    with torch.no_grad():
        outputs = task.predict(batch)
    panels = task.sample_panels(batch, outputs)  # the degraded input as a person sees it | output | target
    rows.append(panels)
    before, after = psnr_per_image(panels[0], panels[-1]), psnr_per_image(panels[-2], panels[-1])
    scores.append((float(before), float(after)))
picture = save_png(work / "pictures.png", grid([torch.cat(c) for c in zip(*rows)], max_rows=len(rows)))
display(Image(filename=str(picture)))
table = [f"| {i} | {a:.2f} dB | {b:.2f} dB |" for i, (a, b) in enumerate(scores)]
display(Markdown("\\n".join(["| sample | input PSNR | output PSNR |", "|---|---:|---:|", *table])))"""

NOTEBOOKS = {
    "flash_noflash.ipynb": dict(
        title="# Flash / no-flash pairs with the shipped DeepFnF model",
        intro=(
            "Deep denoising of flash and no-flash pairs (paper 000): a U-Net predicts a kernel basis and "
            "per-pixel coefficients from the noisy no-flash image and the flash, and filters the no-flash "
            "image with them, times a scale map. This notebook loads the model shipped in the package "
            "(`fnflight models`), makes dim no-flash captures and hand-shaken flashes from the photos bundled "
            "with scikit-image with the paper's protocol (synthetic flash, dimming, noise, homography) and "
            "shows noisy no-flash (brightened) | flash | DeepFnF | reference.\n\nOn your own pair, from a "
            "shell: `fnflight enhance model=deepfnf noflash=AMBIENT.png flash=FLASH.png noise=estimate "
            "out=OUT.png` (any size: exact tiles)."
        ),
        model="deepfnf",
        task="fnf",
        crop_full=256,
        crop_tiny=32,
        note="One pair per dimming level of the protocol, 100x / 50x / 25x / 12.5x (one row each):",
    ),
    "raw_lowlight.ipynb": dict(
        title="# Raw low-light captures with the shipped SID model",
        intro=(
            "Learning to See in the Dark (paper 004): a U-Net maps a dark, amplified Bayer raw straight to an "
            "sRGB image. This notebook loads the model shipped in the package (`fnflight models`), makes "
            "dark raw captures from the photos bundled with scikit-image with the same synthetic sensor as "
            "training, and shows classical ISP | SID | reference.\n\nOn your own raw file, from a shell: "
            "`fnflight enhance model=sid raw=CAPTURE.ARW ratio=100 out=OUT.png`."
        ),
        model="sid",
        task="raw",
        crop_full=256,
        crop_tiny=32,
        note="Synthetic dark captures at the SID ratios x300 / x250 / x100 (one row each), 16-bit quantised as SID scores them:",
    ),
    "short_long.ipynb": dict(
        title="# Short / long exposure pairs with the shipped LSD2 model",
        intro=(
            "LSD2 (paper 003): a U-Net fuses a short, noisy exposure with a long, blurry one. This notebook "
            "loads the model shipped in the package (`fnflight models`), makes short/long pairs from the "
            "photos bundled with scikit-image with the paper's synthesis (gyro-driven blur, noise, colour "
            "distortion) and shows noisy short | LSD2 | sharp reference.\n\nOn your own pair, from a shell: "
            "`fnflight enhance model=lsd2 short=SHORT.png long=LONG.png out=OUT.png`."
        ),
        model="lsd2",
        task="shortlong",
        crop_full=256,
        crop_tiny=32,
        note="One synthetic pair per photo:",
    ),
    "burst.ipynb": dict(
        title="# Burst denoising with the shipped KPN model",
        intro=(
            "Kernel prediction networks (paper 002): a U-Net predicts a 5 x 5 kernel per pixel for each of 8 "
            "hand-held frames, and their filtered sum is the denoised reference frame. This notebook loads "
            "the model shipped in the package (`fnflight models`), makes bursts from the photos bundled with "
            "scikit-image with the paper's jitter and noise, and shows noisy reference frame | KPN | clean "
            "reference.\n\nOn your own burst, from a shell: "
            "`fnflight enhance model=kpn_burst burst='FRAMES/*.png' out=OUT.png`."
        ),
        model="kpn_burst",
        task="burst",
        crop_full=256,
        crop_tiny=32,
        note="Synthetic bursts at the test noise gains 1, 2, 4 and 8 (one row each; gain 8 lies beyond the training range):",
    ),
}

for name, d in NOTEBOOKS.items():
    nb = nbf.v4.new_notebook()
    nb.cells = [
        nbf.v4.new_markdown_cell(d["title"] + "\n\n" + d["intro"]),
        nbf.v4.new_code_cell(COMMON_SETUP),
        nbf.v4.new_markdown_cell("## 1. The shipped model and its card"),
        nbf.v4.new_code_cell(
            f'task = load_task(models.resolve("{d["model"]}"))  # weights only: nothing is unpickled\n'
            f'display(Markdown(models.card("{d["model"]}")))'
        ),
        nbf.v4.new_markdown_cell(
            "## 2. Degraded images from the bundled photos\n\nA test set is written once from a seed and read back bit-exactly (`fnflight testset`)."
        ),
        nbf.v4.new_code_cell(
            'source = {"class_path": "fnflight.data.sources.EmbeddedPhotos", "init_args": {"split": "val"}}\n'
            'testset = work / "testset"\n'
            f"crop, limit = ({d['crop_tiny']}, 1) if TINY else ({d['crop_full']}, 1)\n"
            f'write_testset("{d["task"]}", source, testset, seed=0, crop=crop, limit=limit, progress=False)\n'
            "len(TestSet(testset))"
        ),
        nbf.v4.new_markdown_cell("## 3. Enhance and look\n\n" + d["note"]),
        nbf.v4.new_code_cell(SHOW),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbf.write(nb, Path(__file__).resolve().parents[1] / "notebooks" / name)
    print("wrote", name)
