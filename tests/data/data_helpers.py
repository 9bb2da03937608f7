"""Helpers shared by the data tests."""

from __future__ import annotations

import numpy as np

# a plausible XYZ->camera matrix (row-major), as FAID stores it in the ambient PNG's Comment field
XYZ_TO_CAM = [0.6, 0.3, -0.1, -0.4, 1.3, 0.1, -0.05, 0.2, 0.6]


def smooth_image(h: int, w: int, seed: int, dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([0.5 + 0.4 * np.sin(6 * xx + c + seed) * np.cos(4 * yy) for c in range(3)], -1)
    base = np.clip(base + 0.05 * rng.standard_normal(base.shape), 0, 1)
    top = 255 if dtype == np.uint8 else 65535
    return (base * top + 0.5).astype(dtype)
