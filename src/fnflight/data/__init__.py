"""fnflight.data: image sources, synthetic degradations and the task DataModules.

Batch keys are documented in :mod:`fnflight.data.batch`. Task DataModules: :class:`FlashNoFlashDataModule`
(``fnf.py``), :class:`BurstDataModule` (``burst.py``), :class:`ShortLongDataModule` (``short_long.py``; real
short/long captures from :class:`ShortLongPairs`), :class:`RawLowLightDataModule` (``raw_lowlight.py``; real
SID pairs from :class:`SIDRawPairs`), all on :class:`~fnflight.data.base.LowLightDataModule`.
"""

from . import batch
from .base import DEFAULT_NUM_WORKERS, CropDataset, LowLightDataModule, build_source, collate, sample_seed
from .burst import BurstDataModule
from .flash_synthesis import FlashSynthesis, blackbody_rgb, synthesize_flash_pair
from .fnf import TEST_DIMS, TEST_STD_READ, TEST_STD_SHOT, FlashNoFlashDataModule
from .raw_lowlight import RawLowLightDataModule
from .raw_sources import SIDRawPairs
from .short_long import ShortLongDataModule
from .short_long_sources import ShortLongPairs
from .sources import (
    EMBEDDED_PHOTOS,
    EMBEDDED_VAL,
    EmbeddedPhotos,
    FAIDPairs,
    ImageFolder,
    ImageSource,
    SourceError,
    probe_image,
    read_linear,
    write_png,
)
from .testset import TestSet, write_testset

__all__ = [
    "DEFAULT_NUM_WORKERS",
    "EMBEDDED_PHOTOS",
    "EMBEDDED_VAL",
    "TEST_DIMS",
    "TEST_STD_READ",
    "TEST_STD_SHOT",
    "BurstDataModule",
    "CropDataset",
    "EmbeddedPhotos",
    "FAIDPairs",
    "FlashNoFlashDataModule",
    "FlashSynthesis",
    "ImageFolder",
    "ImageSource",
    "LowLightDataModule",
    "RawLowLightDataModule",
    "SIDRawPairs",
    "ShortLongDataModule",
    "ShortLongPairs",
    "SourceError",
    "TestSet",
    "batch",
    "blackbody_rgb",
    "build_source",
    "collate",
    "probe_image",
    "read_linear",
    "sample_seed",
    "synthesize_flash_pair",
    "write_png",
    "write_testset",
]
