"""Deterministic test sets: written once from a seed, read back bit-exactly (``fnflight testset`` / ``eval``).

The writer builds the task's DataModule, takes its *test* dataset (fixed centre crops; for ``fnf`` every image
at the dims 100, 50, 25, 12.5) and degrades every sample with the DataModule's own ``degrade`` through
:meth:`~fnflight.data.base.LowLightDataModule.degrade_seeded`: one ``torch.Generator`` per image seeded from
``(seed, image index)``, so the result depends neither on order nor on batching, and the dims of one image
share their homography and noise draws (paper 000 sec. 4.2: "a random homography for each pair").
Computation runs on the CPU in float32 with one intra-op thread (reduction order fixed), under
``torch.no_grad``.

Layout of ``OUT/``::

    manifest.json        every parameter: task, DataModule class and protocol, seed, crop, source files,
                         per-sample parameters (dim, noise stds, homography, ...), file names, SHA-256s
    samples/00000.npz    one sample: the degraded batch keys (float32 / int64, batch dimension removed)

Files are byte-identical across runs: arrays are written with a fixed-date zip writer (no timestamps), keys
and JSON are sorted, floats are written by ``repr``.

A task's test sets: its :class:`~fnflight.tasks.spec.TaskSpec` names the DataModule (``datamodule``) and
the test protocol's default arguments (``testset_defaults``). The DataModule must subclass
:class:`~fnflight.data.base.LowLightDataModule` (its ``make_dataset("test")`` gives the clean samples, its
``degrade(batch, generator, "test")`` the degradation), and may define ``protocol() -> dict`` for the
manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from . import batch as K
from .base import LowLightDataModule, collate

__all__ = ["FORMAT", "TestSet", "TestSetError", "task_class", "write_npz", "write_testset"]

FORMAT = "fnflight-testset"
VERSION = 1

# clean inputs are not stored (the degraded inputs and the target are what evaluation needs)
_NOT_STORED = (K.AMBIENT, K.FLASH_ONLY)


class TestSetError(ValueError):
    """A bad test-set request or a damaged test set."""

    __test__ = False  # not a pytest class


def _spec(task: str):
    """The task's spec. Imported when asked: the task specs sit next to the LightningModules, above this
    floor; a test set only needs the DataModule they name."""
    from fnflight.tasks.spec import UnknownTaskError, spec_for

    try:
        return spec_for(task)
    except UnknownTaskError as err:
        raise TestSetError(str(err)) from None


def task_class(task: str) -> type:
    """The DataModule class of ``task``; an unknown or not yet available task lists the valid ones."""
    from fnflight.config import ConfigError, import_class

    try:
        return import_class(_spec(task).datamodule)
    except ConfigError as err:
        raise TestSetError(f"task {task!r} is not available in this install ({err})") from None


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as a ``.npz`` (readable by ``np.load``) whose bytes depend only on the arrays."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            arr = np.asarray(arrays[key])  # (np.ascontiguousarray would turn 0-d into 1-d)
            np.lib.format.write_array(
                buf, arr if arr.flags.c_contiguous else arr.copy(order="C"), allow_pickle=False
            )
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, buf.getvalue(), compresslevel=6)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _crop_record(crop: Any) -> int | list[int]:
    """A crop for the manifest: an int (square) or ``[height, width]``."""
    if isinstance(crop, (list, tuple)):
        return [int(c) for c in crop] if len({int(c) for c in crop}) > 1 else int(crop[0])
    return int(crop)


def _params(sample: dict[str, Tensor]) -> dict[str, Any]:
    """Small per-sample values (scalars, 3x3 matrices, offsets) for the manifest."""
    out: dict[str, Any] = {}
    for key in sorted(sample):
        value = sample[key]
        if value.numel() <= 64:
            out[key] = value.tolist()
    return out


def write_testset(
    task: str,
    source: Any,
    out: str | Path,
    seed: int = 0,
    crop: int | None = None,
    limit: int | None = None,
    datamodule_args: dict[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write a deterministic test set (see the module docstring); returns the manifest path.

    Args:
        task: a task name (``fnf``, ``burst``, ...; :func:`fnflight.tasks.spec.specs`).
        source: the images: an ImageSource instance or ``{class_path, init_args}``.
        out: output folder (created; must not hold a test set unless ``overwrite``).
        seed: the seed of every random draw.
        crop: centre-crop size (default: the DataModule's test crop; raw: packed pixels, 0 = whole frames).
        limit: use only the first ``limit`` images of the source (sorted order).
        datamodule_args: further DataModule arguments (e.g. ``{"extra_noflash": 1}``).
        overwrite: replace an existing test set in ``out``.
        progress: show a tqdm progress bar.
    """
    cls = task_class(task)
    if out is None or str(out) == "":
        raise TestSetError("no output folder given: pass out=DIR")
    out = Path(out)
    if (out / "manifest.json").exists() and not overwrite:
        raise TestSetError(
            f"{out} already holds a test set (manifest.json); pass overwrite=true to replace it"
        )
    kwargs: dict[str, Any] = {**_spec(task).testset_defaults, **(datamodule_args or {})}
    kwargs.update(source=source, val_source=source, test_source=source, num_workers=0, seed=int(seed))
    kwargs["limit_val"] = None if limit is None else int(limit)
    if crop is not None:
        import inspect

        if "eval_crop" in inspect.signature(cls).parameters:  # raw: the test crop (0 = whole frames)
            kwargs["eval_crop"] = int(crop)
            if int(crop) > 0:
                kwargs["crop"] = int(crop)
        else:
            kwargs["crop"] = int(crop)
    dm = cls(**kwargs)
    if not isinstance(dm, LowLightDataModule):
        raise TestSetError(f"{_spec(task).datamodule} is not a LowLightDataModule")
    dataset = dm.make_dataset("test")
    # written into a hidden folder beside ``out`` and moved into place at the end: a failure (a bad image,
    # an interrupt) leaves no half-written test set, and an old one in ``out`` stays until the new is whole
    final, out = out, out.parent / f".{out.name}.partial"
    shutil.rmtree(out, ignore_errors=True)
    (out / "samples").mkdir(parents=True)
    try:
        return _write_samples(dm, dataset, task, seed, limit, datamodule_args, progress, out, final)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _write_samples(dm, dataset, task, seed, limit, datamodule_args, progress, out: Path, final: Path) -> Path:
    """The body of :func:`write_testset`: every sample and the manifest into ``out``, then moved to
    ``final``."""
    src = dm.test_source

    from tqdm import tqdm

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    samples: list[dict[str, Any]] = []
    keys: dict[str, Any] = {}
    try:
        with torch.no_grad():
            for i in tqdm(range(len(dataset)), desc=f"testset {task}", disable=not progress, unit="sample"):
                clean = collate([dataset[i]])
                degraded = dm.degrade_seeded(clean, int(seed), "test")
                one = {
                    k: v[0].detach().cpu().contiguous() for k, v in degraded.items() if k not in _NOT_STORED
                }
                name = f"{i:05d}.npz"
                write_npz(out / "samples" / name, {k: v.numpy() for k, v in one.items()})
                keys = {
                    k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")}
                    for k, v in one.items()
                }
                index = int(one[K.INDEX])
                samples.append(
                    {
                        "file": f"samples/{name}",
                        "sha256": _sha256(out / "samples" / name),
                        "index": index,
                        "name": src.name(index) if hasattr(src, "name") else str(index),
                        "params": _params(one),
                    }
                )
    finally:
        torch.set_num_threads(threads)
    source_info: dict[str, Any] = {"class": f"{type(src).__module__}.{type(src).__qualname__}"}
    for attr in ("path", "split", "recursive"):
        if hasattr(src, attr):
            source_info[attr] = str(getattr(src, attr))
    count = dataset.count if hasattr(dataset, "count") else len(dataset)
    if hasattr(src, "files"):
        source_info["files"] = [
            {k: Path(p).name for k, p in sorted(src.files(i).items())} for i in range(count)
        ]
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "task": task,
        "datamodule": _spec(task).datamodule,
        "datamodule_args": {k: v for k, v in sorted((datamodule_args or {}).items())},
        "seed": int(seed),
        "crop": _crop_record(dm.eval_crop if getattr(dm, "eval_crop", None) is not None else dm.crop),
        "limit": limit,
        "protocol": dm.protocol() if hasattr(dm, "protocol") else {},
        "seeding": "torch.Generator per image seeded with fnflight.data.base.sample_seed(seed, index)",
        "source": source_info,
        "keys": keys,
        "samples": samples,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    final.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(final / "samples", ignore_errors=True)
    (final / "manifest.json").unlink(missing_ok=True)
    (out / "samples").rename(final / "samples")
    (out / "manifest.json").rename(final / "manifest.json")
    return final / "manifest.json"


class TestSet(Dataset):
    """Reader of a test set written by :func:`write_testset`: yields the stored samples as tensor dicts.

    Samples have no batch dimension; batch them with :meth:`loader` (or any DataLoader with
    :func:`~fnflight.data.base.collate`). ``verify=True`` checks every file's SHA-256 against the manifest.

    Args:
        path: the test-set folder (or its ``manifest.json``).
        verify: check hashes when loading.
    """

    __test__ = False  # not a pytest class

    def __init__(self, path: str | Path, verify: bool = False) -> None:
        path = Path(path)
        self.root = path.parent if path.name == "manifest.json" else path
        manifest_path = self.root / "manifest.json"
        if not manifest_path.is_file():
            raise TestSetError(
                f"{self.root} is not a test set: no manifest.json (write one with `fnflight testset`)"
            )
        try:
            self.manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as err:
            raise TestSetError(f"{manifest_path}: not valid JSON ({err})") from None
        if self.manifest.get("format") != FORMAT:
            raise TestSetError(
                f"{manifest_path}: not an fnflight test set (format {self.manifest.get('format')!r})"
            )
        self.task: str = self.manifest["task"]
        self.samples: list[dict[str, Any]] = self.manifest["samples"]
        self.verify = verify

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        entry = self.samples[i]
        file = self.root / entry["file"]
        if not file.is_file():
            raise TestSetError(f"{file}: missing sample file of the test set")
        if self.verify and _sha256(file) != entry["sha256"]:
            raise TestSetError(f"{file}: SHA-256 differs from the manifest (file changed or damaged)")
        try:
            with np.load(file, allow_pickle=False) as data:
                return {k: torch.from_numpy(data[k].copy()) for k in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:  # damaged: name the file
            raise TestSetError(
                f"{file}: damaged sample file of the test set ({type(err).__name__}); write the test set "
                "again"
            ) from None

    def name(self, i: int) -> str:
        return str(self.samples[i]["name"])

    def loader(self, batch_size: int = 1, num_workers: int = 0) -> DataLoader:
        """A DataLoader in file order yielding batch dicts (keys of :mod:`fnflight.data.batch`)."""
        return DataLoader(
            self, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=collate
        )

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        for i in range(len(self)):
            yield self[i]
