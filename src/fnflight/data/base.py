"""Shared DataModule glue: crop dataset, paired augmentation, collate, seeding, the on-device degrade hook.

CPU side (per sample, in DataLoader workers): read a source item, crop (random for training, centre for
validation/test) with numpy slicing *before* the float conversion, and for training apply the same random
flip / 90-degree rotation to every image of the sample (albumentations ``Compose`` with ``additional_targets``
so flash, ambient, ... stay aligned). Collate stacks the tensors into a batch dict (keys in
:mod:`fnflight.data.batch`).

Device side (``on_after_batch_transfer``): the random degradation, batched, through the pure method
``degrade(batch, generator, stage) -> batch`` each task DataModule implements.

- ``stage == "train"``: one ``torch.Generator`` on the batch's device, re-seeded for every batch from
  ``(seed, global rank, global step, micro-batch count)``, so DDP ranks draw different degradations and a
  run is reproducible.
- ``"val"`` / ``"test"``: deterministic and independent of batching: each sample is degraded with its own
  generator seeded by :func:`sample_seed` ``(seed, index)`` (``index`` = the sample's source index), see
  :meth:`LowLightDataModule.degrade_seeded`. The test-set writer calls the same method.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, default_collate

from . import batch as K
from .sources import EmbeddedPhotos, ImageSource, SourceError

__all__ = [
    "DEFAULT_NUM_WORKERS",
    "CropDataset",
    "LowLightDataModule",
    "SeededDataset",
    "build_source",
    "collate",
    "crop_size",
    "sample_seed",
]

# Default DataLoader workers: 2 (this project's reference machine has 2 cores; the CPU side is cheap -- cached
# decode, numpy crop, flips -- and the heavy degradation runs batched on the device). Workers are persistent.
DEFAULT_NUM_WORKERS = 2


def sample_seed(*parts: int | str) -> int:
    """A stable 63-bit seed from ``parts`` (e.g. ``(seed, index)``), independent of Python's hash salt.

    >>> sample_seed(0, 5) == sample_seed(0, 5), sample_seed(0, 5) == sample_seed(0, 6)
    (True, False)
    """
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def build_source(spec: Any) -> ImageSource:
    """A source from an instance, or a ``{class_path, init_args}`` dict / DictConfig (``fnflight.config``)."""
    if spec is None:
        return EmbeddedPhotos()
    if isinstance(spec, Dataset):
        return spec  # type: ignore[return-value]
    from omegaconf import DictConfig

    if isinstance(spec, (dict, DictConfig)):
        from fnflight.config import instantiate

        return instantiate(spec)
    raise TypeError(
        f"source must be a Dataset or a {{class_path, init_args}} dict, got {type(spec).__name__}"
    )


def collate(samples: list[dict[str, Any]]) -> dict[str, Tensor]:
    """Stack samples into a batch dict; non-tensor values (file names) are dropped."""
    keep = [{k: v for k, v in s.items() if isinstance(v, (Tensor, int, float))} for s in samples]
    return default_collate(keep)


class SeededDataset(Dataset):
    """A dataset whose CPU-side random choices (crops, augmentation) come from :meth:`_generator`: one numpy
    generator per DataLoader worker (or the main process) seeded by ``sample_seed(seed, worker seed)``.
    Subclasses set ``seed``; a new generator also drops the cached augmenter ``_aug``."""

    seed: int
    _rng: np.random.Generator | None = None
    _rng_key: int | None = None
    _aug: Any = None

    def _generator(self) -> np.random.Generator:
        info = torch.utils.data.get_worker_info()
        key = sample_seed(self.seed, info.seed if info is not None else "main")
        if self._rng is None or self._rng_key != key:
            self._rng, self._rng_key, self._aug = np.random.default_rng(key), key, None
        return self._rng


def crop_size(crop: Any, name: str = "crop") -> tuple[int, int]:
    """``(height, width)`` of a crop given as an int (square) or a ``[height, width]`` pair (e.g. LSD2's
    270 x 480 frames, paper 003 sec. 3.2).

    >>> crop_size(256), crop_size([270, 480])
    ((256, 256), (270, 480))
    """
    if isinstance(crop, Tensor):
        crop = crop.tolist()
    if isinstance(crop, float) and crop.is_integer():
        crop = int(crop)
    if isinstance(crop, (int, np.integer)) and not isinstance(crop, bool):
        h = w = int(crop)
    elif isinstance(crop, (list, tuple)) or hasattr(crop, "__len__"):  # also an OmegaConf ListConfig
        values = list(crop)
        if len(values) != 2 or not all(isinstance(v, (int, np.integer)) for v in values):
            raise ValueError(f"{name} must be an int or [height, width] ints, got {crop!r}")
        h, w = int(values[0]), int(values[1])
    else:
        raise TypeError(f"{name} must be an int or [height, width], got {type(crop).__name__} {crop!r}")
    if h < 1 or w < 1:
        raise ValueError(f"{name} must be >= 1, got {crop!r}")
    return h, w


class CropDataset(SeededDataset):
    """Crops (and for training augments) the items of a source.

    Args:
        source: an :class:`~fnflight.data.sources.ImageSource`.
        crop: crop size (pixels): an int (square) or ``(height, width)``; :attr:`crop` keeps an int for a
            square crop, :attr:`crop_hw` is always the pair. Non-square training crops are rotated by 90
            degrees only in pairs (180 degrees), so every sample keeps the ``height x width`` shape.
        train: random crop + paired flips / 90-degree rotations; otherwise the fixed centre crop.
        margin: extra pixels read on every side (``crop + 2 margin``), for degradations that shift content.
        augment: paired flips/rotations when ``train``.
        variants: ``{key: values}``: every source item appears ``len(values)`` times, sample ``i`` carrying
            ``key = values[i % len(values)]`` (e.g. the four test dims of paper 000 sec. 4.2).
        limit: use only the first ``limit`` items of the source.
        seed: base of the CPU-side random crop/augmentation seed (per worker: ``seed`` + worker seed).
    """

    def __init__(
        self,
        source: ImageSource,
        crop: int,
        train: bool,
        margin: int = 0,
        augment: bool = True,
        variants: dict[str, Sequence[float]] | None = None,
        limit: int | None = None,
        seed: int = 0,
    ) -> None:
        self.crop_hw = crop_size(crop)
        self.crop: int | tuple[int, int] = (
            self.crop_hw[0] if self.crop_hw[0] == self.crop_hw[1] else self.crop_hw
        )
        self.source, self.train = source, bool(train)
        self.margin, self.augment, self.seed = int(margin), bool(augment), int(seed)
        self.variants = {k: [float(v) for v in vals] for k, vals in (variants or {}).items()}
        lengths = {len(v) for v in self.variants.values()}
        if len(lengths) > 1 or 0 in lengths:
            raise ValueError(f"variants must all have the same non-zero length, got {self.variants}")
        self.repeats = lengths.pop() if lengths else 1
        self.count = len(source) if limit is None else min(int(limit), len(source))
        self.check_sizes()

    def check_sizes(self) -> None:
        """Raise :class:`SourceError` naming the first image smaller than the crop (header reads only)."""
        need_h, need_w = (c + 2 * self.margin for c in self.crop_hw)
        for i in range(self.count):
            h, w = self.source.size(i)
            if h < need_h or w < need_w:
                files = ", ".join(str(p) for p in self.source.files(i).values())
                crop = f"{self.crop_hw[0]}x{self.crop_hw[1]}"
                extra = f" (crop {crop} + 2 x margin {self.margin})" if self.margin else ""
                raise SourceError(
                    f"{files}: image is {h}x{w} (HxW), smaller than the crop {need_h}x{need_w}{extra}"
                )

    def __len__(self) -> int:
        return self.count * self.repeats

    def _augmenter(self, keys: Sequence[str]) -> Any:
        if self._aug is None:
            import albumentations as A

            rng = self._generator()
            # a square crop: any multiple of 90 degrees; a non-square one keeps its shape: the flips alone
            # give the 180-degree rotation (H + V flip), so the set of orientations is the shape-keeping half
            turns = [A.RandomRotate90(p=1.0)] if self.crop_hw[0] == self.crop_hw[1] else []
            self._aug = A.Compose(
                [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5), *turns],
                additional_targets={k: "image" for k in keys[1:]},
                seed=int(rng.integers(2**31)),
            )
        return self._aug

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range ({len(self)} samples)")
        index, variant = divmod(i, self.repeats)
        arrays = self._read(index, self.box(index))
        keys = list(arrays)
        if self.train and self.augment:
            aug = self._augmenter(keys)
            out = aug(image=arrays[keys[0]], **{k: arrays[k] for k in keys[1:]})
            arrays = {keys[0]: out["image"], **{k: out[k] for k in keys[1:]}}
        sample: dict[str, Any] = {
            k: torch.from_numpy(np.ascontiguousarray(v.transpose(2, 0, 1))) for k, v in arrays.items()
        }
        sample[K.COLOR_MATRIX] = torch.from_numpy(self.source.color_matrix(index))
        sample[K.INDEX] = torch.tensor(index, dtype=torch.int64)
        for key, values in self.variants.items():
            sample[key] = torch.tensor(values[variant], dtype=torch.float32)
        return sample

    def box(self, index: int) -> tuple[int, int, int, int] | None:
        """The read box ``(top, left, height, width)`` of item ``index``: ``crop + 2 margin`` pixels, random
        when training (one draw of the worker's generator), centred otherwise."""
        h, w = self.source.size(index)
        size_h, size_w = (c + 2 * self.margin for c in self.crop_hw)
        if self.train:
            rng = self._generator()
            top, left = int(rng.integers(0, h - size_h + 1)), int(rng.integers(0, w - size_w + 1))
        else:
            top, left = (h - size_h) // 2, (w - size_w) // 2
        return top, left, size_h, size_w

    def _read(self, index: int, box: tuple[int, int, int, int] | None) -> dict[str, np.ndarray]:
        """The ``(h, w, 3)`` arrays of item ``index`` in ``box`` (subclasses may choose the keys)."""
        return self.source.read(index, box)


class LowLightDataModule(pl.LightningDataModule):
    """Base of the task DataModules: sources, crop datasets, loaders, and the seeded on-device ``degrade``.

    Subclasses implement :meth:`degrade` and may override :meth:`eval_variants` (extra per-sample keys that
    multiply the validation/test set, e.g. the four dims), :attr:`margin` and ``eval_crop`` (the
    validation/test crop, default ``crop``). They take these loader arguments as ``**loader`` and pass
    them on (stating only those whose default differs, e.g. a burst's ``crop=128``): the configs name them
    ``data.init_args.crop`` etc. as before, and the config layer checks them against this constructor too
    (:func:`fnflight.config.instantiate` walks the constructors that pass ``**kwargs`` on).

    Args:
        source: training source: an instance or ``{class_path, init_args}``; default :class:`EmbeddedPhotos`.
        val_source: validation source; default: ``source.with_split("val")`` when the training source is a
            ``"train"`` split, otherwise the training source itself (with a warning).
        test_source: test source; default: the validation source.
        crop: square crop size.
        batch_size: training batch size; ``val_batch_size`` for validation/test (default: ``batch_size``).
        num_workers: DataLoader workers (default :data:`DEFAULT_NUM_WORKERS` = 2, persistent).
        seed: seed of all random choices (CPU crops, train degradations, deterministic val/test).
        augment: paired flips / rotations on training crops.
        limit_val: use only the first images of the validation/test source.
    """

    margin: int = 0

    def __init__(
        self,
        source: Any = None,
        val_source: Any = None,
        test_source: Any = None,
        crop: int = 448,
        batch_size: int = 1,
        val_batch_size: int | None = None,
        num_workers: int = DEFAULT_NUM_WORKERS,
        seed: int = 0,
        augment: bool = True,
        limit_val: int | None = None,
    ) -> None:
        super().__init__()
        self.source = build_source(source)
        if val_source is not None:
            self.val_source = build_source(val_source)
        elif getattr(self.source, "split", None) == "train" and hasattr(self.source, "with_split"):
            self.val_source = self.source.with_split("val")
        else:
            warnings.warn(
                "no val_source given and the training source has no held-out split: validating on the "
                "training images (centre crops)",
                stacklevel=2,
            )
            self.val_source = self.source
        self.test_source = build_source(test_source) if test_source is not None else self.val_source
        self.crop, self.batch_size = int(crop), int(batch_size)
        self.eval_crop = self.crop  # validation / test crop; subclasses with an ``eval_crop`` argument set it
        self.val_batch_size = int(val_batch_size or batch_size)
        self.num_workers, self.seed, self.augment = int(num_workers), int(seed), bool(augment)
        self.limit_val = limit_val
        self._step_key: tuple[int, int] | None = None
        self._micro = 0

    # ------------------------------------------------------------------ datasets
    def eval_variants(self) -> dict[str, Sequence[float]] | None:
        """Extra per-sample keys of validation/test samples (each source item repeated once per value)."""
        return None

    def make_dataset(self, stage: str) -> CropDataset:
        if stage == "train":
            return CropDataset(self.source, self.crop, True, self.margin, self.augment, seed=self.seed)
        source = self.val_source if stage == "val" else self.test_source
        return CropDataset(
            source, self.eval_crop, False, self.margin, variants=self.eval_variants(), limit=self.limit_val
        )

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit"):
            self.train_set = self.make_dataset("train")
        if stage in (None, "fit", "validate"):
            self.val_set = self.make_dataset("val")
        if stage in (None, "test", "predict"):
            self.test_set = self.make_dataset("test")

    def _loader(self, dataset: Dataset, train: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size if train else self.val_batch_size,
            shuffle=train,
            drop_last=train,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            collate_fn=collate,
            generator=torch.Generator().manual_seed(self.seed) if train else None,
        )

    def train_dataloader(self) -> DataLoader:
        if not hasattr(self, "train_set"):
            self.setup("fit")
        return self._loader(self.train_set, True)

    def val_dataloader(self) -> DataLoader:
        if not hasattr(self, "val_set"):
            self.setup("validate")
        return self._loader(self.val_set, False)

    def test_dataloader(self) -> DataLoader:
        if not hasattr(self, "test_set"):
            self.setup("test")
        return self._loader(self.test_set, False)

    # ------------------------------------------------------------------ degradation
    def degrade(self, batch: dict[str, Tensor], generator: torch.Generator, stage: str) -> dict[str, Tensor]:
        """Add the degraded keys to a clean batch (pure: same generator state -> same output)."""
        raise NotImplementedError

    def degrade_seeded(self, batch: dict[str, Tensor], seed: int, stage: str) -> dict[str, Tensor]:
        """Deterministic degradation, one generator per sample seeded by ``sample_seed(seed, index)``.

        The result does not depend on batch composition or order; samples sharing an index (the dims of one
        image) share their random draws (same homography, same normal draws).
        """
        indices = batch[K.INDEX].reshape(-1).tolist()
        outs = []
        for i, index in enumerate(indices):
            one = {k: v[i : i + 1] for k, v in batch.items()}
            gen = torch.Generator(device=batch[K.INDEX].device).manual_seed(sample_seed(seed, int(index)))
            outs.append(self.degrade(one, gen, stage))
        return {k: torch.cat([o[k] for o in outs]) for k in outs[0]}

    def _stage(self) -> str:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return "val"
        if trainer.training:
            return "train"
        if trainer.testing or trainer.predicting:
            return "test"
        return "val"

    def train_generator(self, device: torch.device) -> torch.Generator:
        """The per-batch training generator: seeded from (seed, rank, global step, micro-batch)."""
        trainer = getattr(self, "trainer", None)
        rank = int(trainer.global_rank) if trainer is not None else 0
        step = int(trainer.global_step) if trainer is not None else 0
        key = (rank, step)
        self._micro = self._micro + 1 if key == self._step_key else 0
        self._step_key = key
        return torch.Generator(device=device).manual_seed(
            sample_seed(self.seed, "train", rank, step, self._micro)
        )

    def on_after_batch_transfer(self, batch: dict[str, Tensor], dataloader_idx: int) -> dict[str, Tensor]:
        stage = self._stage()
        if stage == "train":
            return self.degrade(batch, self.train_generator(batch[K.INDEX].device), "train")
        return self.degrade_seeded(batch, self.seed, stage)
