"""Run every `fnflight enhance` form of the README on small deterministic inputs and print the SHA-256 of
each output: the check that a refactor leaves enhance byte-identical (issue 24). Run it with two installs
(e.g. a worktree of the commit before, and the tree after) on the same inputs and compare the lines.

usage: PYTHON benchmarks/enhance_examples.py FNFLIGHT_BIN WORK_DIR DATA_DIR
  FNFLIGHT_BIN: the `fnflight` executable of the install under test; WORK_DIR: inputs and outputs (the inputs
  are written once and reused); DATA_DIR: ../shared/data (faid-samples).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def _raw_helpers():
    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "test_raw_sources.py"
    spec = importlib.util.spec_from_file_location("_examples_dng_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_inputs(work: Path, data: Path) -> None:
    """Crops of a real FAID pair, short/long and burst frames from them, and pidng DNGs (written once)."""
    if (work / "inputs.done").exists():
        return
    work.mkdir(parents=True, exist_ok=True)
    ambient = np.asarray(Image.open(data / "faid-samples" / "People_014_ambient.png").convert("RGB"))
    flash = np.asarray(Image.open(data / "faid-samples" / "People_014_flash.png").convert("RGB"))
    crop = (slice(100, 292), slice(120, 344))
    Image.fromarray(ambient[crop]).save(work / "AMBIENT.png")
    Image.fromarray(flash[crop]).save(work / "FLASH.png")
    dark = (ambient[crop].astype(np.float32) * 0.3).astype(np.uint8)
    Image.fromarray(dark).save(work / "SHORT.png")
    Image.fromarray(ambient[crop]).save(work / "LONG.png")
    (work / "PAIRS").mkdir(exist_ok=True)
    Image.fromarray(dark).save(work / "PAIRS" / "a_short.png")
    Image.fromarray(ambient[crop]).save(work / "PAIRS" / "a_long.png")
    (work / "FRAMES").mkdir(exist_ok=True)
    for i in range(8):
        shifted = np.roll(ambient[crop], (i % 3, i // 3), axis=(0, 1))
        Image.fromarray(shifted).save(work / "FRAMES" / f"f{i}.png")
    h = _raw_helpers()
    h.write_dng(work / "AMBIENT.dng", h.scene_mosaic(96, 96, 0.02, 1))
    h.write_dng(work / "FLASH.dng", h.scene_mosaic(96, 96, 0.3, 2))
    h.write_dng(work / "CAPTURE.dng", h.scene_mosaic(96, 128, 0.01, 3))
    for i in range(8):
        h.write_dng(work / "RAWFRAMES" / f"f{i}.dng", h.scene_mosaic(96, 96, 0.05, 10 + i))
    (work / "inputs.done").write_text("ok\n")


EXAMPLES = {  # the README's forms (its first lines), on the inputs above
    "fnf_png": ["model=deepfnf", "noflash=AMBIENT.png", "flash=FLASH.png", "noise=estimate", "out=out/fnf_png.png"],
    "fnf_dng": ["model=deepfnf", "noflash=AMBIENT.dng", "flash=FLASH.dng", "noise=estimate", "out=out/fnf_dng.png"],
    "sid_raw": ["model=sid", "raw=CAPTURE.dng", "ratio=100", "out=out/sid_raw.png"],
    "lsd2_pair": ["model=lsd2", "short=SHORT.png", "long=LONG.png", "out=out/lsd2_pair.png"],
    "kpn_burst_png": ["model=kpn_burst", "burst=FRAMES/*.png", "out=out/kpn_burst_png.png"],
    "kpn_burst_dng": ["model=kpn_burst", "burst=RAWFRAMES/*.dng", "out=out/kpn_burst_dng.png"],
    "lsd2_folder": ["model=lsd2", "in=PAIRS/", "out=out/folder/"],
    "nfonly_compare": ["model=nfonly", "noflash=AMBIENT.png", "flash=FLASH.png", "compare=true", "out=out/nf.png"],
}


def main(argv: list[str]) -> int:
    fnflight, work, data = argv[0], Path(argv[1]), Path(argv[2])
    write_inputs(work, data)
    (work / "out").mkdir(exist_ok=True)
    for name, args in EXAMPLES.items():
        proc = subprocess.run(
            [fnflight, "enhance", *args, "overwrite=true"], cwd=work, capture_output=True, text=True, check=False
        )
        out = work / args[-1].split("=", 1)[1]
        files = sorted(out.iterdir()) if out.is_dir() else [out]
        digests = {f.name: hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in files if f.exists()}
        print(json.dumps({"example": name, "rc": proc.returncode, "sha256": digests}), flush=True)
        if proc.returncode != 0:
            print(proc.stderr[-500:], file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
