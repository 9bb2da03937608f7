"""``fnflight enhance ckpt=PATH|model=NAME in=DIR out=DIR [options]``: every image (pair, burst or raw file)
of a folder through one model, with a progress bar over the images (on a terminal).

What is one input, by the model's task (file names pair by their stem before the last ``_``):

- flash/no-flash: ``NAME_ambient.*`` or ``NAME_noflash.*`` with ``NAME_flash.*`` (FAID's naming, or ours;
  images or raw files such as ``NAME_ambient.dng``, decoded as ``noflash=A.dng``);
- short/long: ``NAME_short.*`` with ``NAME_long.*``;
- burst: every sub-folder ``NAME/`` (its frames in name order, the first the reference);
- raw: every raw file ``NAME.dng|.arw|.raf|...`` (``ratio=`` applies to all).

Each writes ``OUT/NAME.<ext>`` (``ext=png`` by default; ``jpg``, ``tif``) through the single-image mode with
the same options, atomically. Everything that can be checked once is checked before the first image: the
options (by the one argument layer, for the model's mode), the model, the folder, and the output folder
(writable; no earlier output replaced unless ``overwrite=true``); a refused request creates no output folder.
Input files (``noflash=`` ...) are not options here: they come from the folder. An input that fails
(unreadable, mismatched sizes, ...) is reported and the others go on; files that pair with nothing are
listed in the summary. Exit code: 0 all written, 1 some failed, 2 nothing could start.
"""

from __future__ import annotations

import sys
from pathlib import Path


class FolderError(ValueError):
    """A folder that cannot be enhanced (missing, empty, nothing pairs up)."""


def _paired(spec, folder: Path) -> dict[str, dict[str, str]]:
    """A pair task's files of ``folder`` by scene: ``{name: {role: path}}`` (complete pairs or not)."""
    found: dict[str, dict[str, str]] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in spec.folder_suffixes:
            continue
        for role, endings in spec.folder_roles.items():
            for end in endings:
                if p.stem.endswith(end):
                    found.setdefault(p.stem[: -len(end)], {})[role] = str(p)
    return found


def folder_jobs(kind: str, folder: Path) -> list[tuple[str, dict[str, str]]]:
    """``[(name, {enhance key: path}), ...]`` of the inputs in ``folder`` for a model of task ``kind``
    (``fnf``, ``shortlong``, ``burst``, ``raw``: its spec's ``folder_layout``), sorted by name;
    :class:`FolderError` when there are none."""
    from fnflight.tasks.spec import spec_for

    spec = spec_for(kind)
    if not folder.is_dir():
        raise FolderError(f"in={folder}: not a folder")
    key = (spec.enhance_files or spec.enhance_keys)[0]
    if spec.folder_layout == "subfolders":
        jobs = [(d.name, {key: str(d)}) for d in sorted(folder.iterdir()) if d.is_dir()]
        what = f"sub-folders of {key} frames"
    elif spec.folder_layout == "files":
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() in spec.folder_suffixes)
        jobs = [(p.stem, {key: str(p)}) for p in found]
        what = f"{key} files ({', '.join(spec.folder_suffixes)})"
    else:
        roles = spec.folder_roles
        jobs = [
            (name, files) for name, files in sorted(_paired(spec, folder).items()) if set(files) == set(roles)
        ]
        what = " + ".join("NAME" + "|".join(e) + ".*" for e in roles.values()) + " pairs"
    if not jobs:
        raise FolderError(f"in={folder}: no {what} for a {kind!r} model")
    return jobs


def unpaired(kind: str, folder: Path) -> list[str]:
    """The image files of ``folder`` that are no part of an input of a ``kind`` model (a pair's missing half,
    a file named neither way), by name: reported in the summary, not skipped silently."""
    from fnflight.tasks.spec import spec_for

    spec = spec_for(kind)
    if spec.folder_layout != "pairs" or not folder.is_dir():
        return []
    roles = set(spec.folder_roles)
    used = {
        Path(p).name
        for files in _paired(spec, folder).values()
        if set(files) == roles
        for p in files.values()
    }
    return [
        p.name
        for p in sorted(folder.iterdir())
        if p.suffix.lower() in spec.folder_suffixes and p.name not in used
    ]


def run(argv: list[str]) -> int:
    """Enhance every input of ``in=`` into ``out=`` (module docstring); the options are checked once, up
    front, by :data:`fnflight.cli.enhance.SCHEMA` for the model's mode."""
    from tqdm import tqdm

    from fnflight.cli import enhance
    from fnflight.cli.arguments import check_output_dir, show_progress
    from fnflight.models import checkpoint_path

    opts = enhance.SCHEMA.parse(argv)
    given = set(opts.given)
    inputs = sorted(given & {"noflash", "flash", "raw", "short", "long", "burst", "testset", "index"})
    if inputs:
        raise enhance.EnhanceError(
            f"{inputs[0]}= cannot be combined with in=DIR: the inputs come from the folder "
            f"(drop {inputs[0]}= or in=)"
        )
    if not opts.get("out"):
        raise enhance.EnhanceError("in=DIR needs out=DIR, the output folder")
    try:
        opts["ckpt"] = checkpoint_path(opts.get("ckpt"), opts.get("model"))
    except ValueError as err:  # ModelNotFoundError included
        raise enhance.EnhanceError(str(err)) from None
    folder, out = Path(opts["in"]).expanduser(), Path(opts["out"]).expanduser()
    ext = "jpg" if opts["ext"] == "jpeg" else "tif" if opts["ext"] == "tiff" else opts["ext"]
    if out.exists() and not out.is_dir():
        raise enhance.EnhanceError(f"out={out}: exists and is not a folder (with in=DIR, out= is a folder)")
    if not folder.is_dir():
        raise FolderError(f"in={folder}: not a folder")
    enhance.device_of(opts["device"])
    enhance._TASK_CACHE = {}
    try:
        spec = enhance._load_task(opts["ckpt"]).spec
        kind, mode = spec.name, spec.enhance_mode
        jobs = folder_jobs(kind, folder)
        # the options of the model's mode, checked once with the first input standing in for each
        first = {**opts, **jobs[0][1], "out": str(out / f"{jobs[0][0]}.{ext}"), "mode": mode}
        enhance.check_options(first, given - {"in", "ext"} | set(jobs[0][1]), mode)
        targets = [f"{name}.{ext}" for name, _ in jobs]
        check_output_dir(out, "out", overwrite=opts["overwrite"], holds=targets)
        out.mkdir(parents=True, exist_ok=True)
        failed: list[tuple[str, str]] = []
        progress = tqdm(jobs, desc="enhance", unit="image", file=sys.stderr, disable=not show_progress())
        for name, files in progress:
            job = {**first, **files, "out": str(out / f"{name}.{ext}")}
            try:
                enhance.enhance_one(job)
            except ValueError as err:  # the package's errors, one line each; the others go on
                if not type(err).__module__.startswith("fnflight."):
                    raise
                failed.append((name, str(err)))
                print(f"fnflight enhance: {name}: {err}", file=sys.stderr)
    finally:
        enhance._TASK_CACHE = None
    done = len(jobs) - len(failed)
    lonely = unpaired(kind, folder)
    print(
        f"fnflight enhance: {done} of {len(jobs)} written to {out}"
        + (f"; {len(failed)} failed: {', '.join(n for n, _ in failed)}" if failed else "")
        + (f"; unpaired (not enhanced): {', '.join(lonely)}" if lonely else "")
    )
    return 1 if failed else 0
