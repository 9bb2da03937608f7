"""Tiny on-disk fixtures for the data tests (tens of pixels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_helpers import XYZ_TO_CAM, smooth_image
from PIL import Image

from fnflight.data.sources import write_png


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(smooth_image(40, 48, i)).save(folder / f"img{i}.png")
    return folder


@pytest.fixture
def faid_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "faid"
    folder.mkdir()
    text = {"Comment": " ".join(str(v) for v in XYZ_TO_CAM), "Description": "17"}
    for i, name in enumerate(["Objects_001", "People_002"]):
        write_png(folder / f"{name}_ambient.png", smooth_image(36, 40, i, np.uint16), text)
        write_png(folder / f"{name}_flash.png", smooth_image(36, 40, 10 + i, np.uint16))
    return folder
