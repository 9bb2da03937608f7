"""Checks of a composed ``fnflight train`` config before the run starts, each failing in one line.

Why: a training run that dies at step N on a bad image, a negative crop or an unreadable resume checkpoint
has cost N steps and prints a Lightning traceback. Everything that can be known before the first step is
checked here, once:

- the values of the run keys (:data:`VALUES`, by the argument layer's :class:`~fnflight.cli.arguments.Key`
  rules; crops through :func:`fnflight.data.base.crop_size`, an int or ``[height, width]``);
- the output folder ``out_dir`` can be created and written (:func:`~fnflight.cli.arguments.check_output_dir`);
- ``ckpt_path`` (a path, or ``last``) reads weights-only
  (:func:`fnflight.model_io.checkpoint.check_checkpoint`);
- every image of a folder source decodes and is at least the training crop (a progress bar on a terminal),
  the bad files listed together rather than found one per run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from fnflight.cli.arguments import ArgumentError, Key, check_output_dir, show_progress

# run keys with a range: config key -> rule (checked where the composed config has the key)
VALUES = {
    "seed": Key("seed", int),
    "data.init_args.batch_size": Key("data.init_args.batch_size", int, low=1),
    "data.init_args.val_batch_size": Key("data.init_args.val_batch_size", int, low=1),
    "data.init_args.num_workers": Key("data.init_args.num_workers", int, low=0),
    "data.init_args.limit_val": Key("data.init_args.limit_val", int, low=1),
    "trainer.max_steps": Key("trainer.max_steps", int, low=-1),
    "optim.lr": Key("optim.lr", float, low=0, low_open=True),
    "optim.min_lr": Key("optim.min_lr", float, low=0),
    "checkpoint.every_n_train_steps": Key("checkpoint.every_n_train_steps", int, low=1),
}
# crops: an int or [height, width], >= 1 (eval_crop may be 0: whole images)
CROPS = {"data.init_args.crop": 1, "data.init_args.eval_crop": 0}
SOURCES = ("source", "val_source", "test_source")
FOLDER_SOURCES = ("fnflight.data.sources.ImageFolder",)


def _select(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=None, throw_on_missing=False)


def check_values(cfg: DictConfig) -> None:
    """The run keys of :data:`VALUES` and the crops, where set; :class:`ArgumentError` names the first bad
    one with its value and range."""
    from fnflight.data.base import crop_size

    for key, rule in VALUES.items():
        value = _select(cfg, key)
        if value is not None:
            rule.convert(value)
    for key, low in CROPS.items():
        value = _select(cfg, key)
        if value is None:
            continue
        if low == 0 and value == 0:
            continue
        try:
            crop_size(OmegaConf.to_object(value) if OmegaConf.is_config(value) else value, key)
        except (TypeError, ValueError):
            what = "an int >= 1 or [height, width]" + (" (or 0: whole images)" if low == 0 else "")
            raise ArgumentError(f"bad {key}={value}: must be {what}") from None


def _training_crop(cfg: DictConfig) -> tuple[int, int] | None:
    from fnflight.data.base import crop_size

    value = _select(cfg, "data.init_args.crop")
    if value is None:
        return None
    return crop_size(OmegaConf.to_object(value) if OmegaConf.is_config(value) else value)


def check_images(cfg: DictConfig) -> int:
    """Every image of the folder sources of ``data`` decodes and is at least the training crop (an image
    smaller than the crop cannot give a training patch); returns the number checked. The bad files are
    listed together in one :class:`ArgumentError`."""
    from tqdm import tqdm

    from fnflight.config import instantiate
    from fnflight.data.sources import SourceError, decode_image

    crop = _training_crop(cfg)
    files: dict[Path, None] = {}
    for name in SOURCES:
        node = _select(cfg, f"data.init_args.{name}")
        if not isinstance(node, DictConfig) or str(node.get("class_path")) not in FOLDER_SOURCES:
            continue
        spec = OmegaConf.to_container(node, resolve=True)
        spec.setdefault("init_args", {})["split"] = "all"  # every file, training and validation alike
        source = instantiate(spec)
        for i in range(len(source)):
            files.update(dict.fromkeys(Path(p) for p in source.files(i).values()))
    bad: list[str] = []
    for path in tqdm(
        files, desc="checking images", unit="image", file=sys.stderr, disable=not show_progress()
    ):
        try:
            h, w = decode_image(path).shape[:2]
        except SourceError as err:
            bad.append(f"{path.name} (unreadable: {str(err).split(': ', 1)[-1]})")
            continue
        if crop is not None and (h < crop[0] or w < crop[1]):
            bad.append(f"{path.name} ({w}x{h}, smaller than the {crop[1]}x{crop[0]} crop)")
    if bad:
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ArgumentError(
            f"{len(bad)} of {len(files)} training images cannot be used: {'; '.join(bad[:5])}{more} "
            "(remove them, or lower data.init_args.crop)"
        )
    return len(files)


def check_resume(cfg: DictConfig) -> None:
    """``ckpt_path``: a file (or ``last``, resolved in the run folder) that loads weights-only."""
    from fnflight.model_io.checkpoint import check_checkpoint
    from fnflight.training.run import resolve_ckpt_path, run_dir

    value = cfg.get("ckpt_path")
    if value is None:
        return
    path = resolve_ckpt_path(cfg, run_dir(cfg))
    if path:
        check_checkpoint(path)


def check_run(cfg: DictConfig) -> None:
    """All of the above, cheapest first."""
    check_values(cfg)
    check_output_dir(str(cfg.out_dir), "out_dir")
    check_resume(cfg)
    check_images(cfg)
