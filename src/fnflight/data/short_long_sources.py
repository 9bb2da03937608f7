"""Real short / long exposure captures (paper 003 sec. 3.2.1 fine-tuning, sec. 4 real pairs).

:class:`ShortLongPairs` reads a folder of pairs, one pair per name::

    scene1_short.png   the short exposure as captured (dark, noisy, colour-shifted)
    scene1_long.png    the long exposure captured right after it (blurry; on a tripod: sharp)
    scene1_sharp.png   optional: the sharp ground truth at the long exposure's brightness

Files may be 8-bit PNG / JPEG / TIFF (sRGB-encoded display images, what a phone writes) or 16-bit PNG / TIFF
(linear, the convention of :mod:`fnflight.data.sources`; ``sixteen_bit="gamma"`` takes them as display
images too). The files of a pair must have the same size and bit depth. Values are returned AS STORED,
scaled to ``[0, 1]``, with the pair's :meth:`ShortLongPairs.encoding_gamma`: 2.2 for display images (the
paper linearises its photos with gamma 2.2, sec. 3.1), 1.0 for linear files; the DataModule converts them
to its own encoding (:class:`~fnflight.data.short_long.ShortLongDataModule`, ``mode="real"``).

Inference needs only the two inputs: :meth:`ShortLongPairs.pair` returns ``(short, long)`` of any pair,
with or without a sharp file; :meth:`ShortLongPairs.has_sharp` says which pairs can train / be scored.

Errors are :class:`~fnflight.data.sources.SourceError` naming the file: missing or non-folder path, a folder
without pairs, a ``_short`` without its ``_long`` (or the reverse, or a ``_sharp`` without both), two files
for one role (``a_short.png`` and ``a_short.jpg``), files of a pair with different sizes or bit depths, and
unreadable images (the header is read when the source is built, the pixels when a pair is first read).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import batch as K
from .sources import (
    SUPPORTED_EXTENSIONS,
    ImageSource,
    SourceError,
    _read_split_list,
    _select,
    decode_image,
    probe_image,
)

__all__ = ["DISPLAY_GAMMA", "ROLES", "ShortLongPairs"]

DISPLAY_GAMMA = 2.2  # the gamma of display images (paper 003 sec. 3.1: "assuming gamma = 2.2")
# file role -> batch key: the sharp file is the target
ROLES = {"short": K.SHORT, "long": K.LONG, "sharp": K.TARGET}
_NAME = re.compile(r"^(?P<name>.+)_(?P<role>short|long|sharp)$", re.IGNORECASE)


class ShortLongPairs(ImageSource):
    """A folder of ``NAME_short.*`` / ``NAME_long.*`` (/ ``NAME_sharp.*``) pairs (module docstring).

    Items have the keys ``short``, ``long`` and, where a sharp file exists, ``target`` (batch key names,
    :mod:`fnflight.data.batch`). :meth:`read` returns float32 ``(h, w, 3)`` arrays as stored in ``[0, 1]``.

    Args:
        path: the folder.
        split_list: optional text file (or list) of pair names (``NAME``), one per line.
        val_count: hold out the last ``val_count`` pairs (sorted by name) as the ``"val"`` split.
        split: ``"all"``, ``"train"`` (all but the held-out pairs) or ``"val"``.
        sixteen_bit: ``"linear"`` (16-bit / float files are linear) or ``"gamma"`` (display images).
        cache_mb: decoded-image cache budget per process.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> folder = Path(tempfile.mkdtemp())
        >>> for role in ("short", "long"):
        ...     Image.new("RGB", (8, 6), (40, 90, 200)).save(folder / f"a_{role}.png")
        >>> pairs = ShortLongPairs(folder)
        >>> short, long = pairs.pair(0)
        >>> len(pairs), short.shape, pairs.has_sharp(0), pairs.encoding_gamma(0)
        (1, (6, 8, 3), False, 2.2)
    """

    keys = (K.SHORT, K.LONG, K.TARGET)

    def __init__(
        self,
        path: str | Path,
        split_list: str | Path | Sequence[str] | None = None,
        val_count: int = 0,
        split: str = "all",
        sixteen_bit: str = "linear",
        cache_mb: float = 512.0,
    ) -> None:
        super().__init__(cache_mb)
        self.path = Path(path).expanduser()
        self.val_count, self.split, self.sixteen_bit = int(val_count), split, sixteen_bit
        self._split_list = split_list
        if split not in ("all", "train", "val"):
            raise SourceError(f"split must be 'all', 'train' or 'val', got {split!r}")
        if sixteen_bit not in ("linear", "gamma"):
            raise SourceError(f"sixteen_bit must be 'linear' or 'gamma', got {sixteen_bit!r}")
        if not self.path.exists():
            raise SourceError(f"short/long pair folder {self.path} does not exist")
        if not self.path.is_dir():
            raise SourceError(f"short/long pair folder {self.path} is not a directory")
        groups: dict[str, dict[str, Path]] = {}
        skipped = []
        for file in sorted(p for p in self.path.iterdir() if p.is_file() and not p.name.startswith(".")):
            match = _NAME.match(file.stem)
            if file.suffix.lower() not in SUPPORTED_EXTENSIONS or match is None:
                skipped.append(file.name)
                continue
            role = match.group("role").lower()
            roles = groups.setdefault(match.group("name"), {})
            if role in roles:
                raise SourceError(
                    f"pair {match.group('name')!r} in {self.path} has two {role} files: {roles[role].name} "
                    f"and {file.name} (keep one)"
                )
            roles[role] = file
        if skipped:
            more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
            warnings.warn(
                f"short/long pair folder {self.path}: skipped {len(skipped)} file(s) not named "
                f"NAME_short / NAME_long / NAME_sharp with {', '.join(SUPPORTED_EXTENSIONS)} "
                f"({', '.join(skipped[:5])}{more})",
                stacklevel=2,
            )
        if not groups:
            raise SourceError(
                f"short/long pair folder {self.path} has no pairs: expected NAME_short.* and NAME_long.* "
                f"files (optionally NAME_sharp.*), extensions {', '.join(SUPPORTED_EXTENSIONS)}"
            )
        for name, roles in groups.items():
            for need, partner in (("short", "long"), ("long", "short")):
                if need in roles and partner not in roles:
                    raise SourceError(
                        f"{roles[need]}: missing its partner {name}_{partner}.* in {self.path} "
                        "(every NAME_short needs a NAME_long and the reverse)"
                    )
            if "short" not in roles:
                raise SourceError(f"{roles['sharp']}: a sharp file without {name}_short.* and {name}_long.*")
        names = _select(sorted(groups), _read_split_list(split_list), f"short/long pair folder {self.path}")
        if split != "all" and not 0 < self.val_count < len(names):
            raise SourceError(
                f"split={split!r} needs 0 < val_count < {len(names)} (the number of pairs), "
                f"got {self.val_count}"
            )
        if split == "train":
            names = names[: len(names) - self.val_count]
        elif split == "val":
            names = names[len(names) - self.val_count :]
        self.items = [
            {
                "name": n,
                "files": {ROLES[r]: groups[n][r] for r in ("short", "long", "sharp") if r in groups[n]},
            }
            for n in names
        ]
        self._bits: dict[int, int] = {}
        for i in range(len(self.items)):
            self.size(i)  # header reads: unreadable files, sizes and bit depths are checked now

    def with_split(self, split: str) -> ShortLongPairs:
        """The same folder with another ``split``."""
        return ShortLongPairs(
            self.path, self._split_list, self.val_count, split, self.sixteen_bit, self.cache_mb
        )

    def size(self, index: int) -> tuple[int, int]:
        """``(height, width)`` of pair ``index`` (header only); its files must agree in size and bit depth."""
        if index not in self._sizes:
            files = self.items[index]["files"]
            probes = {key: _probe(path) for key, path in files.items()}
            if len({p[:2] for p in probes.values()}) > 1:
                detail = ", ".join(f"{files[k]} is {p[0]}x{p[1]}" for k, p in probes.items())
                raise SourceError(f"pair {self.name(index)!r}: its images differ in size (HxW): {detail}")
            if len({p[2] for p in probes.values()}) > 1:
                detail = ", ".join(f"{files[k]} is {p[2]}-bit" for k, p in probes.items())
                raise SourceError(f"pair {self.name(index)!r}: its images differ in bit depth: {detail}")
            first = next(iter(probes.values()))
            self._sizes[index], self._bits[index] = first[:2], first[2]
        return self._sizes[index]

    def has_sharp(self, index: int) -> bool:
        """Whether pair ``index`` has a ``NAME_sharp`` ground truth."""
        return K.TARGET in self.items[index]["files"]

    def without_sharp(self) -> list[str]:
        """Names of the pairs without a sharp file."""
        return [self.name(i) for i in range(len(self)) if not self.has_sharp(i)]

    def encoding_gamma(self, index: int) -> float:
        """2.2 if the files of pair ``index`` are display images (8-bit, or 16-bit with
        ``sixteen_bit="gamma"``), 1.0 if linear."""
        self.size(index)
        display = self._bits[index] == 8 or self.sixteen_bit == "gamma"
        return DISPLAY_GAMMA if display else 1.0

    def read(
        self,
        index: int,
        box: tuple[int, int, int, int] | None = None,
        keys: Sequence[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """The pair's images as stored, float32 ``(h, w, 3)`` in ``[0, 1]``, cropped to ``box``.

        Args:
            index: the pair.
            box: ``(top, left, height, width)`` or None (whole images).
            keys: a subset of ``short``, ``long``, ``target`` (default: all the pair has).
        """
        files = self.items[index]["files"]
        keys = [k for k in self.keys if k in files] if keys is None else list(keys)
        out: dict[str, Any] = {}
        for key in keys:
            if key not in files:
                raise SourceError(
                    f"pair {self.name(index)!r} in {self.path} has no {key!r} image "
                    f"({'no NAME_sharp file' if key == K.TARGET else 'unknown key'})"
                )
            arr = self.decoded(index, key)
            if box is not None:
                top, left, h, w = box
                if top < 0 or left < 0 or top + h > arr.shape[0] or left + w > arr.shape[1]:
                    raise SourceError(
                        f"{files[key]}: crop box {box} outside the image ({arr.shape[0]}x{arr.shape[1]})"
                    )
                arr = arr[top : top + h, left : left + w]
            out[key] = _as_float(arr)
        return out

    def pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(short, long)``: the two input images of pair ``index``, whole, float32 ``(H, W, 3)`` as stored
        in ``[0, 1]`` (encoding: :meth:`encoding_gamma`). Works for pairs without a sharp file (inference)."""
        arrays = self.read(index, None, (K.SHORT, K.LONG))
        return arrays[K.SHORT], arrays[K.LONG]

    def _decode(self, index: int, key: str) -> np.ndarray:
        arr = decode_image(self.items[index]["files"][key])
        expected = self.size(index)
        if arr.shape[:2] != expected:  # e.g. a JPEG whose EXIF orientation turns it
            raise SourceError(
                f"{self.items[index]['files'][key]}: decoded size {arr.shape[0]}x{arr.shape[1]} differs from "
                f"its header {expected[0]}x{expected[1]} (EXIF orientation?): store the pair upright"
            )
        return arr


def _probe(path: Path) -> tuple[int, int, int]:
    """:func:`probe_image`, with a JPEG's EXIF orientation applied as :func:`decode_image` does."""
    h, w, bits = probe_image(path)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        from PIL import Image

        try:
            with Image.open(path) as im:
                if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # rotated by 90 degrees
                    h, w = w, h
        except Exception as err:  # PIL raises many types; name the file
            raise SourceError(f"{path}: cannot read image header ({type(err).__name__}: {err})") from None
    return h, w, bits


def _as_float(arr: np.ndarray) -> np.ndarray:
    """Stored values in ``[0, 1]`` (no curve applied): 8-bit / 255, 16-bit / 65535, float as is."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) * np.float32(1.0 / 255.0)
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) * np.float32(1.0 / 65535.0)
    return arr.astype(np.float32, copy=False)
