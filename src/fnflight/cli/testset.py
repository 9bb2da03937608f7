"""``fnflight testset``: write a deterministic test set (see :mod:`fnflight.data.testset`).

Usage::

    fnflight testset task=fnf source.path=DIR out=OUT [seed=0] [crop=448] [limit=N] [overwrite=true]
                     [source.kind=folder|faid] [source.recursive=false] [dm.<argument>=VALUE ...]
    fnflight testset task=raw source.path=PHOTOS out=OUT [crop=256]            # synthetic raw, x100/250/300
    fnflight testset task=raw source.kind=sid source.path=SID_ROOT source.list_file=Sony_test_list.txt out=OUT

``task`` is a task name (:func:`fnflight.tasks.spec.specs`: fnf, burst, shortlong, raw); ``dm.*`` are further
arguments of that task's DataModule (e.g. ``dm.extra_noflash=1`` or ``dm.reference=flash``; raw:
``dm.cfa=xtrans``, ``dm.test_ratios=[100,300]``); unknown keys list the valid ones. ``source.kind=sid`` reads
real captures from SID's list files (:class:`fnflight.data.raw_sources.SIDRawPairs`; crops in packed pixels,
``crop=0`` whole frames), each pair at its own ratio.
"""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import Any

from omegaconf import OmegaConf

from fnflight.cli.arguments import Key, Schema, check_output_dir, guarded, show_progress

USAGE = __doc__.split("Usage::", 1)[1].split("``task``", 1)[0].strip("\n")
# the writer's own keys, checked by the one argument layer; dm.* go to the task's DataModule (OmegaConf,
# typed by its constructor's defaults)
SCHEMA = Schema(
    "testset",
    [
        Key("task", str, None, "the test-set task (required)"),
        Key("out", str, None, "the output folder (required)"),
        Key("seed", int, 0, "the seed of every random draw"),
        Key("crop", int, None, "centre-crop size, px (raw: packed px; 0 = whole frames, raw only)", low=1),
        Key("limit", int, None, "only the first N images of the source", low=1),
        Key("overwrite", bool, False, "replace a test set already in out="),
        Key("progress", bool, None, "progress bar (default: when stderr is a terminal)"),
        Key("source.path", str, None, "the images: a folder, FAID pairs or SID's root (required)"),
        Key("source.kind", str, "folder", "what source.path holds", choices=("folder", "faid", "sid")),
        Key("source.recursive", bool, False, "folder: also the images of sub-folders"),
        Key("source.list_file", str, None, "sid: SID's list file, e.g. Sony_test_list.txt"),
    ],
    usage=USAGE.strip().splitlines()[0].strip(),
    examples=[line.strip() for line in USAGE.strip().splitlines()[2:]],
)
# raw test sets: crop in packed pixels, 0 = whole frames
RAW_SCHEMA = Schema(
    "testset",
    [replace(k, low=0) if k.name == "crop" else k for k in SCHEMA.keys],
    SCHEMA.usage,
    SCHEMA.examples,
)

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
    base: dict[str, Any] = {"task": task, "dm": {}}
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


def _run(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        from fnflight.tasks.spec import specs

        print(SCHEMA.help(__doc__.split("Usage::", 1)[0] + "``task``" + __doc__.split("``task``", 1)[1]))
        names = ", ".join(s.name for s in specs())
        print(f"  dm.<argument>  further arguments of the task's DataModule\n\ntasks: {names}")
        return 0
    from fnflight.config import merge_overrides
    from fnflight.data.raw_sources import SIDRawPairs
    from fnflight.data.sources import FAIDPairs, ImageFolder
    from fnflight.data.testset import TestSetError, task_class, write_testset
    from fnflight.tasks.spec import specs

    own = [a for a in argv if not a.startswith("dm.")]
    task = SCHEMA.parse([a for a in own if a.startswith("task=")])["task"]
    if task is None:
        raise TestSetError(
            f"no task given: pass task=NAME (valid tasks: {', '.join(s.name for s in specs())})"
        )
    task_class(task)  # an unknown task lists the valid ones
    opts = (RAW_SCHEMA if task == "raw" else SCHEMA).parse(own)
    if not opts["out"]:
        raise TestSetError("no output folder given: pass out=DIR")
    if not opts["source.path"]:
        raise TestSetError(
            "no images given: pass source.path=DIR (a folder of images, or FAID pairs with source.kind=faid)"
        )
    out = check_output_dir(opts["out"], "out")
    if (out / "manifest.json").exists() and not opts["overwrite"]:  # the overwrite rule, before any work
        raise TestSetError(
            f"{out} already holds a test set (manifest.json); pass overwrite=true to replace it"
        )
    dm_cfg = merge_overrides(
        OmegaConf.create({"dm": _defaults(task)["dm"]}), [a for a in argv if a.startswith("dm.")]
    )
    kind = opts["source.kind"]
    if kind == "folder":
        source = ImageFolder(opts["source.path"], recursive=opts["source.recursive"])
    elif kind == "faid":
        source = FAIDPairs(opts["source.path"])
    else:
        if not opts["source.list_file"]:
            raise TestSetError("source.kind=sid needs source.list_file=... (e.g. Sony_test_list.txt)")
        source = SIDRawPairs(opts["source.path"], opts["source.list_file"])
    dm_args = OmegaConf.to_container(dm_cfg.dm, resolve=True)
    defaults = _defaults(task)["dm"]
    changed = {k: v for k, v in dm_args.items() if defaults.get(k) != v}  # type: ignore[union-attr]
    manifest = write_testset(
        task,
        source,
        opts["out"],
        seed=opts["seed"],
        crop=opts["crop"],
        limit=opts["limit"],
        datamodule_args=changed,
        overwrite=opts["overwrite"],
        progress=show_progress() if opts["progress"] is None else opts["progress"],
    )
    print(f"wrote {manifest}")
    return 0


def run(argv: list[str]) -> int:
    """``fnflight testset``: one line and exit 2 for a bad request, 130 / 143 when interrupted (the
    half-written test set is removed: :func:`fnflight.data.testset.write_testset`)."""
    return guarded("testset", _run, list(argv))
