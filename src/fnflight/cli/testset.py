"""``fnflight testset``: write a deterministic test set (see :mod:`fnflight.data.testset`).

Usage::

    fnflight testset task=fnf source.path=DIR out=OUT [seed=0] [crop=448] [limit=N] [overwrite=true]
                     [source.kind=folder|faid] [source.recursive=false] [dm.<argument>=VALUE ...]
    fnflight testset task=raw source.path=PHOTOS out=OUT [crop=256]            # synthetic raw, x100/250/300
    fnflight testset task=raw source.kind=sid source.path=SID_ROOT source.list_file=Sony_test_list.txt out=OUT

``task`` is one of :data:`fnflight.data.testset.TASKS`; ``dm.*`` are further arguments of that task's
DataModule (e.g. ``dm.extra_noflash=1`` or ``dm.reference=flash``; raw: ``dm.cfa=xtrans``,
``dm.test_ratios=[100,300]``); unknown keys list the valid ones. ``source.kind=sid`` reads real captures
from SID's list files (:class:`fnflight.data.raw_sources.SIDRawPairs`; crops in packed pixels, ``crop=0``
whole frames), each pair at its own ratio.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

from omegaconf import OmegaConf

USAGE = __doc__.split("Usage::", 1)[1].split("``task``", 1)[0].strip("\n")

# DataModule arguments the writer sets itself (not user-settable through dm.*)
_FIXED = (
    "source",
    "val_source",
    "test_source",
    "num_workers",
    "seed",
    "limit_val",
    "crop",
    "batch_size",
    "val_batch_size",
    "augment",
)


def _defaults(task: str | None) -> dict[str, Any]:
    base: dict[str, Any] = {
        "task": task,
        "out": None,
        "seed": 0,
        "crop": None,
        "limit": None,
        "overwrite": False,
        "progress": True,
        "source": {"path": None, "kind": "folder", "recursive": False, "list_file": None},
        "dm": {},
    }
    if task is not None:
        from fnflight.data.testset import task_class

        params = inspect.signature(task_class(task)).parameters
        dm: dict[str, Any] = {}
        for name, p in params.items():
            if name in _FIXED or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            default = p.default
            if isinstance(default, tuple):
                default = list(default)
            if default is None or isinstance(default, (bool, int, float, str, list)):
                dm[name] = default
        base["dm"] = dm
    return base


def run(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        print("usage: " + USAGE.strip())
        from fnflight.data.testset import TASKS

        print(f"\ntasks: {', '.join(TASKS)}")
        return 0
    from fnflight.config import ConfigError, merge_overrides
    from fnflight.data.raw_sources import SIDRawPairs
    from fnflight.data.sources import FAIDPairs, ImageFolder, SourceError
    from fnflight.data.testset import TASKS, TestSetError, write_testset

    try:
        task = None
        for item in argv:
            if item.startswith("task="):
                task = item.split("=", 1)[1]
        if task is None:
            raise TestSetError(f"no task given: pass task=NAME (valid tasks: {', '.join(TASKS)})")
        cfg = merge_overrides(OmegaConf.create(_defaults(task)), list(argv))
        if not cfg.out:
            raise TestSetError("no output folder given: pass out=DIR")
        if not cfg.source.path:
            raise TestSetError(
                "no images given: pass source.path=DIR (a folder of images, or FAID pairs with "
                "source.kind=faid)"
            )
        kind = str(cfg.source.kind)
        if kind == "folder":
            source = ImageFolder(cfg.source.path, recursive=bool(cfg.source.recursive))
        elif kind == "faid":
            source = FAIDPairs(cfg.source.path)
        elif kind == "sid":
            if not cfg.source.list_file:
                raise TestSetError("source.kind=sid needs source.list_file=... (e.g. Sony_test_list.txt)")
            source = SIDRawPairs(cfg.source.path, cfg.source.list_file)
        else:
            raise TestSetError(f"unknown source.kind {kind!r}; valid: folder, faid, sid")
        dm_args = OmegaConf.to_container(cfg.dm, resolve=True)
        defaults = _defaults(task)["dm"]
        changed = {k: v for k, v in dm_args.items() if defaults.get(k) != v}  # type: ignore[union-attr]
        manifest = write_testset(
            task,
            source,
            cfg.out,
            seed=int(cfg.seed),
            crop=None if cfg.crop is None else int(cfg.crop),
            limit=None if cfg.limit is None else int(cfg.limit),
            datamodule_args=changed,
            overwrite=bool(cfg.overwrite),
            progress=bool(cfg.progress),
        )
    except (ConfigError, SourceError, TestSetError) as err:
        print(f"fnflight testset: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {manifest}")
    return 0
