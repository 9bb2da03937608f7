"""``fnflight enhance ckpt=PATH|model=NAME in=DIR out=DIR [options]``: every image (pair, burst, raw file)
of a folder through one model, with a progress bar over the images.

What is one input, by the model's task (file names pair by their stem before the last ``_``):

- flash/no-flash: ``NAME_ambient.*`` or ``NAME_noflash.*`` with ``NAME_flash.*`` (FAID's naming, or ours);
- short/long: ``NAME_short.*`` with ``NAME_long.*``;
- burst: every sub-folder ``NAME/`` (its frames in name order, the first the reference);
- raw: every raw file ``NAME.dng|.arw|.raf|...`` (``ratio=`` applies to all).

Each writes ``OUT/NAME.<ext>`` (``ext=png`` by default; ``jpg``, ``tif``) through the single-image mode with
the same options, atomically. An input that fails (unreadable, mismatched sizes, ...) is reported and the
others go on; the exit code is 1 if any failed, 2 if nothing could start.
"""

from __future__ import annotations

import sys
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
RAW_SUFFIXES = (".dng", ".arw", ".raf", ".nef", ".cr2", ".cr3", ".orf", ".rw2")
# the files that pair into one input, by task: {role: accepted name endings}
PAIRS = {
    "fnf": {"noflash": ("_ambient", "_noflash"), "flash": ("_flash",)},
    "shortlong": {"short": ("_short",), "long": ("_long",)},
}


class FolderError(ValueError):
    """A folder that cannot be enhanced (missing, empty, nothing pairs up)."""


def folder_jobs(kind: str, folder: Path) -> list[tuple[str, dict[str, str]]]:
    """``[(name, {enhance key: path}), ...]`` of the inputs in ``folder`` for a model of task ``kind``
    (``fnf``, ``shortlong``, ``burst``, ``raw``), sorted by name; unpaired files are listed in the error when
    nothing pairs."""
    if not folder.is_dir():
        raise FolderError(f"in={folder}: not a folder")
    if kind == "burst":
        jobs = [(d.name, {"burst": str(d)}) for d in sorted(folder.iterdir()) if d.is_dir()]
        what = "sub-folders of burst frames"
    elif kind == "raw":
        jobs = [
            (p.stem, {"raw": str(p)}) for p in sorted(folder.iterdir()) if p.suffix.lower() in RAW_SUFFIXES
        ]
        what = f"raw files ({', '.join(RAW_SUFFIXES)})"
    else:
        roles = PAIRS[kind]
        found: dict[str, dict[str, str]] = {}
        for p in sorted(folder.iterdir()):
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            for role, endings in roles.items():
                for end in endings:
                    if p.stem.endswith(end):
                        found.setdefault(p.stem[: -len(end)], {})[role] = str(p)
        jobs = [(name, files) for name, files in sorted(found.items()) if set(files) == set(roles)]
        what = " + ".join("NAME" + "|".join(e) + ".*" for e in roles.values()) + " pairs"
    if not jobs:
        raise FolderError(f"in={folder}: no {what} for a {kind!r} model")
    return jobs


def run(opts: dict[str, str], enhance_one) -> int:
    """Enhance every input of ``opts["in"]`` into ``opts["out"]`` with ``enhance_one(argv) -> exit code`` (the
    single-image ``fnflight enhance``), passing the other options through."""
    from tqdm import tqdm

    from fnflight.tasks.checkpoint import CheckpointError, load_task

    ext = opts.pop("ext", "png").lstrip(".").lower()
    if ext not in ("png", "jpg", "jpeg", "tif", "tiff"):
        print(f"fnflight enhance: bad ext={ext!r}; valid: png, jpg, tif", file=sys.stderr)
        return 2
    folder, out = Path(opts.pop("in")).expanduser(), Path(opts.pop("out")).expanduser()
    try:
        kind = getattr(load_task(opts["ckpt"]), "testset_task", "fnf")
        jobs = folder_jobs(kind, folder)
        out.mkdir(parents=True, exist_ok=True)
    except (CheckpointError, FolderError) as err:
        print(f"fnflight enhance: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"fnflight enhance: cannot create the output folder {out}: {err}", file=sys.stderr)
        return 2
    rest = [f"{k}={v}" for k, v in opts.items()]
    failed = []
    for name, files in tqdm(jobs, desc="enhance", unit="image", file=sys.stderr):
        argv = [*rest, *(f"{k}={v}" for k, v in files.items()), f"out={out / f'{name}.{ext}'}"]
        if enhance_one(argv) != 0:
            failed.append(name)
    done = len(jobs) - len(failed)
    print(
        f"fnflight enhance: {done} of {len(jobs)} written to {out}"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0
