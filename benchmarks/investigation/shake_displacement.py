"""Session 3: mean flash displacement of the camera-shake homographies (512 draws, seed 0) for a crop with its
own frame (homography_size=None), as a window of the 448 frame (the default), and at 448 px. The figures in
FlashNoFlashDataModule's docstring; output in shake_displacement.txt.

usage: .venv/bin/python benchmarks/investigation/shake_displacement.py
"""

import torch

from fnflight.data import FlashNoFlashDataModule
from fnflight.imaging import mean_displacement

for crop, size in [(128, None), (128, 448), (448, 448)]:
    dm = FlashNoFlashDataModule(crop=crop, num_workers=0, homography_size=size)
    homs = dm._camera_shake(1, 512, crop, crop, torch.Generator().manual_seed(0))[0]
    print(f"crop {crop}, homography_size {size}: {float(mean_displacement(homs, crop, crop).mean()):.2f} px")
