"""Image sources: torch ``Dataset`` s of clean *linear* images plus their metadata.

A source knows how to find, decode and linearise images; it knows nothing about crops, noise or tasks (that
is :mod:`fnflight.data.base` and the task DataModules). Every source yields, for index ``i``, a dict

    ``ambient``       float32 ``(3, H, W)`` linear camera RGB in ``[0, 1]``
    ``flash_only``    same, flash-only illumination (:class:`FAIDPairs` only)
    ``color_matrix``  float32 ``(3, 3)`` camera RGB -> linear sRGB (identity for internet photos, whose
                      linearised values already have sRGB primaries)
    ``index``         ``i`` (int)
    ``name``          the file (or scene) name, a ``str``

Decoding rules (:func:`read_linear`):

- 8-bit PNG / JPEG / TIFF are sRGB-encoded: linearised with the inverse sRGB curve
  (:func:`fnflight.imaging.linear_from_srgb`), as the papers do with internet photos.
- 16-bit PNG / TIFF are taken as linear (divided by 65535), as FAID stores them. Float TIFF is linear.
- Grey images are repeated to 3 channels, alpha is dropped, JPEG EXIF orientation is applied.

The data loaders crop before converting to float: sources expose :meth:`ImageSource.size` (header only) and
:meth:`ImageSource.read` with a crop box, and keep the *decoded integer* arrays in an in-memory cache (up to
``cache_mb`` per process) so that a small source is decoded once per worker.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = [
    "EMBEDDED_PHOTOS",
    "EMBEDDED_VAL",
    "SUPPORTED_EXTENSIONS",
    "EmbeddedPhotos",
    "FAIDPairs",
    "ImageFolder",
    "ImageSource",
    "SourceError",
    "probe_image",
    "read_linear",
    "write_png",
]

SUPPORTED_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

# scikit-image's bundled colour photographs of natural scenes (no network needed: they ship in the wheel).
# Left out on purpose: hubble_deep_field (mostly black sky), retina (fundus), ihc (microscopy), color (chart),
# and the grey textures: they are not photographs of ordinary scenes lit by ambient light.
EMBEDDED_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "motorcycle_right")
# Deterministic held-out validation images (the motorcycle stereo pair stays together in train).
EMBEDDED_VAL = ("chelsea", "rocket")


class SourceError(ValueError):
    """A source cannot be built or read: missing folder, unreadable or too small image, bad metadata."""


# ----------------------------------------------------------------------------------------------------------
# decoding
def _srgb_lut(levels: int) -> np.ndarray:
    from fnflight.imaging import linear_from_srgb

    codes = torch.arange(levels, dtype=torch.float64) / (levels - 1)
    return linear_from_srgb(codes).clamp(0, 1).to(torch.float32).numpy()


_LUT8: np.ndarray | None = None


def _lut8() -> np.ndarray:
    global _LUT8
    if _LUT8 is None:
        _LUT8 = _srgb_lut(256)
    return _LUT8


def _png_ihdr(path: Path) -> tuple[int, int, int] | None:
    """(height, width, bit depth) from a PNG header, or None if the file is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(29)
    if len(head) < 29 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    width, height, depth = struct.unpack(">IIB", head[16:25])
    return height, width, depth


def probe_image(path: str | Path) -> tuple[int, int, int]:
    """``(height, width, bits)`` of an image file, reading only its header.

    Raises :class:`SourceError` naming the file if it cannot be opened as an image.
    """
    path = Path(path)
    ext = path.suffix.lower()
    try:
        if ext == ".png":
            ihdr = _png_ihdr(path)
            if ihdr is None:
                raise SourceError(f"{path}: not a PNG file (bad signature or missing IHDR header)")
            return ihdr
        if ext in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                shape = page.shape
                return int(shape[0]), int(shape[1]), int(page.dtype.itemsize * 8)
        from PIL import Image

        with Image.open(path) as im:
            return im.size[1], im.size[0], 8
    except SourceError:
        raise
    except Exception as err:  # PIL / tifffile raise many types; name the file and the problem
        raise SourceError(f"{path}: cannot read image header ({type(err).__name__}: {err})") from None


def _to_rgb(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] in (1, 2):  # grey (+ alpha)
        arr = np.repeat(arr[:, :, :1], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] >= 3:
        arr = arr[:, :, :3]
    else:
        raise SourceError(f"{path}: unsupported image layout with shape {arr.shape}")
    return np.ascontiguousarray(arr)


def decode_image(path: str | Path) -> np.ndarray:
    """Decode an image file to an ``(H, W, 3)`` RGB array, keeping its storage type.

    Returns ``uint8`` (sRGB-encoded), ``uint16`` (linear) or ``float32`` (linear, float TIFF). Every failure
    is a :class:`SourceError` naming the file and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such image file")
    ext = path.suffix.lower()
    try:
        if ext in (".tif", ".tiff"):
            import tifffile

            arr = tifffile.imread(path)
            if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[2] not in (3, 4):  # planar CHW
                arr = np.moveaxis(arr, 0, -1)
            if arr.dtype.kind == "f":
                arr = np.clip(arr.astype(np.float32), 0, 1)
            elif arr.dtype not in (np.uint8, np.uint16):
                raise SourceError(
                    f"{path}: unsupported TIFF sample type {arr.dtype} (use uint8, uint16 or float)"
                )
            return _to_rgb(arr, path)
        if ext == ".png":
            ihdr = _png_ihdr(path)
            if ihdr is None:
                raise SourceError(f"{path}: not a PNG file (bad signature or missing IHDR header)")
            if ihdr[2] == 16:
                import cv2

                arr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
                if arr is None:
                    raise SourceError(f"{path}: cannot decode 16-bit PNG (truncated or corrupt file)")
                if arr.ndim == 3:
                    arr = arr[:, :, 2::-1] if arr.shape[2] >= 3 else arr  # BGR(A) -> RGB
                return _to_rgb(arr, path)
        from PIL import Image, ImageOps

        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            im.load()
            if im.mode not in ("RGB", "L"):
                im = im.convert("RGB")
            arr = np.asarray(im)
        if arr.dtype != np.uint8:
            raise SourceError(f"{path}: unsupported pixel type {arr.dtype} (mode {im.mode})")
        return _to_rgb(arr, path)
    except SourceError:
        raise
    except Exception as err:
        raise SourceError(f"{path}: cannot decode image ({type(err).__name__}: {err})") from None


def to_linear(arr: np.ndarray) -> np.ndarray:
    """Decoded ``(H, W, 3)`` array -> float32 linear in ``[0, 1]`` (8-bit: inverse sRGB; 16-bit: / 65535)."""
    if arr.dtype == np.uint8:
        return _lut8()[arr]
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) * np.float32(1.0 / 65535.0)
    return arr.astype(np.float32, copy=False)


def read_linear(path: str | Path) -> np.ndarray:
    """Read an image file as float32 linear ``(H, W, 3)`` in ``[0, 1]`` (see the module docstring)."""
    return to_linear(decode_image(path))


def write_png(path: str | Path, image: np.ndarray, text: dict[str, str] | None = None) -> None:
    """Write an ``(H, W, 3)`` ``uint8`` or ``uint16`` array as PNG with optional ``tEXt`` chunks.

    A small pure-Python writer (Pillow cannot write 16-bit RGB PNG): output bytes depend only on the inputs
    (no timestamps), so files are reproducible. Used to write FAID-layout fixtures.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"image must be (H, W, 3) uint8 or uint16, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    depth = 16 if image.dtype == np.uint16 else 8
    rows = image.astype(">u2" if depth == 16 else np.uint8).reshape(height, -1).view(np.uint8)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, 2, 0, 0, 0))
    for key, value in (text or {}).items():
        out += chunk(b"tEXt", key.encode("latin-1") + b"\0" + str(value).encode("latin-1"))
    out += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    Path(path).write_bytes(out)


# ----------------------------------------------------------------------------------------------------------
class ItemList(Dataset):
    """A source's list of items, each ``{"name": str, "files": {key: Path}, ...}`` in ``self.items``: its
    length, names and files (shared by the image sources and
    :class:`~fnflight.data.raw_sources.SIDRawPairs`)."""

    items: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.items)

    def name(self, index: int) -> str:
        return str(self.items[index]["name"])

    def files(self, index: int) -> dict[str, Path]:
        return dict(self.items[index]["files"])


class ImageSource(ItemList):
    """Base class: a list of items, each one or more image files, with an in-memory decode cache.

    Subclasses fill ``self.items`` (a list of dicts ``{"name": str, "files": {key: Path}}``) and may override
    :meth:`color_matrix`. ``read(i, box)`` returns numpy ``(h, w, 3)`` float32 arrays per key, cropped to
    ``box = (top, left, height, width)`` *before* the float conversion (cheap for large images).
    """

    keys: tuple[str, ...] = ("ambient",)

    def __init__(self, cache_mb: float = 512.0) -> None:
        self.items: list[dict[str, Any]] = []
        self.cache_mb = float(cache_mb)
        self._cache: dict[tuple[int, str], np.ndarray] = {}
        self._cached_bytes = 0
        self._sizes: dict[int, tuple[int, int]] = {}

    def _decode(self, index: int, key: str) -> np.ndarray:
        return decode_image(self.items[index]["files"][key])

    def decoded(self, index: int, key: str) -> np.ndarray:
        """The decoded (integer) array of one file, from the cache when it fits in ``cache_mb``."""
        hit = self._cache.get((index, key))
        if hit is not None:
            return hit
        arr = self._decode(index, key)
        if self._cached_bytes + arr.nbytes <= self.cache_mb * 2**20:
            self._cache[(index, key)] = arr
            self._cached_bytes += arr.nbytes
        return arr

    def size(self, index: int) -> tuple[int, int]:
        """``(height, width)`` of item ``index`` (header only; all files of an item must agree)."""
        if index not in self._sizes:
            sizes = {key: probe_image(path)[:2] for key, path in self.items[index]["files"].items()}
            if len(set(sizes.values())) > 1:
                detail = ", ".join(
                    f"{self.items[index]['files'][k].name} {h}x{w}" for k, (h, w) in sizes.items()
                )
                raise SourceError(f"images of {self.name(index)!r} differ in size: {detail}")
            self._sizes[index] = next(iter(sizes.values()))
        return self._sizes[index]

    def color_matrix(self, index: int) -> np.ndarray:
        return np.eye(3, dtype=np.float32)

    def read(self, index: int, box: tuple[int, int, int, int] | None = None) -> dict[str, np.ndarray]:
        """Linear float32 ``(h, w, 3)`` arrays of item ``index``, cropped to ``box`` = (top, left, h, w)."""
        out: dict[str, np.ndarray] = {}
        for key in self.keys:
            arr = self.decoded(index, key)
            if box is not None:
                top, left, h, w = box
                if top < 0 or left < 0 or top + h > arr.shape[0] or left + w > arr.shape[1]:
                    raise SourceError(
                        f"{self.items[index]['files'][key]}: crop box {box} outside the image "
                        f"({arr.shape[0]}x{arr.shape[1]})"
                    )
                arr = arr[top : top + h, left : left + w]
            out[key] = to_linear(arr)
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a source of {len(self)} items")
        sample: dict[str, Any] = {
            k: torch.from_numpy(np.ascontiguousarray(v.transpose(2, 0, 1)))
            for k, v in self.read(index).items()
        }
        sample["color_matrix"] = torch.from_numpy(self.color_matrix(index))
        sample["index"] = index
        sample["name"] = self.name(index)
        return sample

    def __getstate__(self) -> dict[str, Any]:  # do not ship a full cache to worker processes
        state = dict(self.__dict__)
        state["_cache"], state["_cached_bytes"] = {}, 0
        return state


def _read_split_list(split_list: str | Path | Sequence[str] | None) -> list[str] | None:
    if split_list is None:
        return None
    if isinstance(split_list, (str, Path)):
        path = Path(split_list)
        if not path.is_file():
            raise SourceError(f"split list {path} does not exist")
        names = [line.strip() for line in path.read_text().splitlines()]
        return [n for n in names if n and not n.startswith("#")]
    return [str(n) for n in split_list]


def _select(names: list[str], wanted: list[str] | None, where: str) -> list[str]:
    if wanted is None:
        return names
    have = set(names)
    missing = [n for n in wanted if n not in have]
    if missing:
        raise SourceError(
            f"split list names {len(missing)} item(s) not in {where}: {', '.join(missing[:10])}"
        )
    return list(wanted)


class ImageFolder(ImageSource):
    """All images of a folder (``.png``, ``.jpg``, ``.jpeg``, ``.tif``, ``.tiff``), sorted by relative path.

    Args:
        path: the folder (from configuration; nothing is hard-coded).
        recursive: also take images from sub-folders.
        split_list: optional text file (or list) of relative file names, one per line, to use instead of all.
        val_count: hold out the last ``val_count`` files (sorted order) as the ``"val"`` split.
        split: ``"all"``, ``"train"`` (all but the held-out files) or ``"val"``.
        cache_mb: decoded-image cache budget per process.

    Files with other extensions are skipped with a warning. An empty or missing folder raises
    :class:`SourceError` naming the folder.
    """

    def __init__(
        self,
        path: str | Path,
        recursive: bool = False,
        split_list: str | Path | Sequence[str] | None = None,
        val_count: int = 0,
        split: str = "all",
        cache_mb: float = 512.0,
    ) -> None:
        super().__init__(cache_mb)
        self.path = Path(path).expanduser()
        self.recursive, self.val_count, self.split = recursive, int(val_count), split
        self._split_list = split_list
        if split not in ("all", "train", "val"):
            raise SourceError(f"split must be 'all', 'train' or 'val', got {split!r}")
        if not self.path.exists():
            raise SourceError(f"image folder {self.path} does not exist")
        if not self.path.is_dir():
            raise SourceError(f"image folder {self.path} is not a directory")
        found = sorted(p for p in (self.path.rglob("*") if recursive else self.path.iterdir()) if p.is_file())
        images = [p for p in found if p.suffix.lower() in SUPPORTED_EXTENSIONS]
        skipped = [
            p for p in found if p.suffix.lower() not in SUPPORTED_EXTENSIONS and not p.name.startswith(".")
        ]
        if skipped:
            names = ", ".join(str(p.relative_to(self.path)) for p in skipped[:5])
            more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
            warnings.warn(
                f"image folder {self.path}: skipped {len(skipped)} file(s) with unsupported extensions "
                f"({names}{more}); supported: {', '.join(SUPPORTED_EXTENSIONS)}",
                stacklevel=2,
            )
        if not images:
            raise SourceError(
                f"image folder {self.path} has no images ({', '.join(SUPPORTED_EXTENSIONS)})"
                + (" (set recursive=True to search sub-folders)" if not recursive else "")
            )
        by_name = {str(p.relative_to(self.path)): p for p in images}
        names = _select(sorted(by_name), _read_split_list(split_list), f"image folder {self.path}")
        if split != "all" and not 0 < self.val_count < len(names):
            raise SourceError(
                f"split={split!r} needs 0 < val_count < {len(names)} (the number of images), "
                f"got {self.val_count}"
            )
        if split == "train":
            names = names[: len(names) - self.val_count]
        elif split == "val":
            names = names[len(names) - self.val_count :]
        self.items = [{"name": n, "files": {"ambient": by_name[n]}} for n in names]

    def with_split(self, split: str) -> ImageFolder:
        """The same folder with another ``split`` (used by DataModules to find a validation set)."""
        return ImageFolder(self.path, self.recursive, self._split_list, self.val_count, split, self.cache_mb)


class EmbeddedPhotos(ImageSource):
    """The default data: scikit-image's bundled colour photographs (:data:`EMBEDDED_PHOTOS`), no network.

    Args:
        split: ``"train"`` (4 photos), ``"val"`` (:data:`EMBEDDED_VAL`: chelsea, rocket) or ``"all"``.
        min_side: photos whose short side is smaller are upscaled (Lanczos on the 8-bit file, once) so that
            the papers' 448 crops fit (chelsea is 451x300). ``0`` keeps the original sizes.
        cache_mb: decoded-image cache budget per process.
    """

    def __init__(self, split: str = "train", min_side: int = 512, cache_mb: float = 512.0) -> None:
        super().__init__(cache_mb)
        import skimage

        if split not in ("all", "train", "val"):
            raise SourceError(f"split must be 'all', 'train' or 'val', got {split!r}")
        self.split, self.min_side = split, int(min_side)
        folder = Path(skimage.__file__).parent / "data"
        names = [n for n in EMBEDDED_PHOTOS if split == "all" or (n in EMBEDDED_VAL) == (split == "val")]
        items = []
        for name in names:
            hits = sorted(folder.glob(f"{name}.*"))
            if not hits:
                raise SourceError(
                    f"scikit-image photo {name!r} not found in {folder} (is scikit-image installed?)"
                )
            items.append({"name": name, "files": {"ambient": hits[0]}})
        self.items = items

    def with_split(self, split: str) -> EmbeddedPhotos:
        return EmbeddedPhotos(split, self.min_side, self.cache_mb)

    def _scale(self, h: int, w: int) -> tuple[int, int]:
        short = min(h, w)
        if self.min_side <= 0 or short >= self.min_side:
            return h, w
        s = self.min_side / short
        return max(self.min_side, round(h * s)), max(self.min_side, round(w * s))

    def size(self, index: int) -> tuple[int, int]:
        return self._scale(*super().size(index))

    def _decode(self, index: int, key: str) -> np.ndarray:
        arr = super()._decode(index, key)
        h, w = self._scale(*arr.shape[:2])
        if (h, w) != arr.shape[:2]:
            from PIL import Image

            arr = np.asarray(Image.fromarray(arr).resize((w, h), Image.Resampling.LANCZOS))
        return arr


# EXIF LightSource codes understood by fnflight.imaging.camera_to_srgb_matrix (NOTES "DeepFnF" data).
class FAIDPairs(ImageSource):
    """Flash and Ambient Illuminations Dataset layout: ``<name>_ambient.png`` + ``<name>_flash.png``.

    16-bit files are linear camera RGB (divided by 65535); the colour matrix comes from the ambient PNG's
    ``Comment`` text chunk (9 floats, row-major XYZ -> camera) and its ``Description`` chunk (EXIF illuminant
    code), through :func:`fnflight.imaging.camera_to_srgb_matrix` (NOTES "DeepFnF").

    8-bit files (e.g. the downsized samples in ``faid-samples``) are sRGB: they are linearised with the
    inverse sRGB curve, a warning says so, and -- since their primaries are already sRGB -- a missing colour
    matrix becomes the identity. A 16-bit pair without colour metadata is an error (its camera RGB cannot be
    rendered).

    Args:
        path: the folder holding the pairs.
        split_list: optional text file (or list) of scene names (``<name>`` without suffix), one per line.
        cache_mb: decoded-image cache budget per process.
    """

    keys = ("ambient", "flash_only")

    def __init__(
        self, path: str | Path, split_list: str | Path | Sequence[str] | None = None, cache_mb: float = 512.0
    ) -> None:
        super().__init__(cache_mb)
        self.path = Path(path).expanduser()
        if not self.path.is_dir():
            raise SourceError(f"FAID folder {self.path} does not exist or is not a directory")
        files = sorted(p.name for p in self.path.iterdir() if p.is_file())
        scenes = sorted(
            {n[: -len(suf)] for n in files for suf in ("_ambient.png", "_flash.png") if n.endswith(suf)}
        )
        wanted = _read_split_list(split_list)
        if wanted is None and not scenes:
            raise SourceError(f"FAID folder {self.path} has no <name>_ambient.png / <name>_flash.png pairs")
        items = []
        for name in scenes if wanted is None else wanted:
            pair = {
                "ambient": self.path / f"{name}_ambient.png",
                "flash_only": self.path / f"{name}_flash.png",
            }
            for path_ in pair.values():
                if not path_.is_file():
                    raise SourceError(f"FAID scene {name!r}: missing file {path_}")
            items.append({"name": name, "files": pair})
        self.items = items
        self._matrices: dict[int, np.ndarray] = {}
        bits = {probe_image(p)[2] for item in items[:1] for p in item["files"].values()}
        self.eight_bit = bits == {8}
        if self.eight_bit:
            warnings.warn(
                f"FAID folder {self.path}: 8-bit PNGs are taken as sRGB and linearised (real FAID files are "
                "16-bit linear); missing colour metadata means an identity colour matrix",
                stacklevel=2,
            )

    def color_matrix(self, index: int) -> np.ndarray:
        if index not in self._matrices:
            self._matrices[index] = self._read_matrix(index)
        return self._matrices[index]

    def _read_matrix(self, index: int) -> np.ndarray:
        from PIL import Image

        path = self.items[index]["files"]["ambient"]
        try:
            with Image.open(path) as im:
                text = dict(getattr(im, "text", {}) or {})
        except Exception as err:
            raise SourceError(f"{path}: cannot read PNG text chunks ({type(err).__name__}: {err})") from None
        comment, description = text.get("Comment"), text.get("Description")
        if comment is None:
            if probe_image(path)[2] == 8:
                return np.eye(3, dtype=np.float32)
            raise SourceError(
                f"{path}: no colour metadata: the 'Comment' PNG text field must hold 9 floats (row-major "
                "XYZ->camera matrix) for a 16-bit FAID image"
            )
        try:
            values = [float(v) for v in comment.replace(",", " ").split()]
        except ValueError:
            values = []
        if len(values) != 9:
            raise SourceError(
                f"{path}: 'Comment' PNG text field must hold 9 floats (XYZ->camera matrix), got {comment!r}"
            )
        try:
            code = int(float(description)) if description is not None else 21
        except ValueError:
            raise SourceError(
                f"{path}: 'Description' PNG text field must be an EXIF illuminant code, got {description!r}"
            ) from None
        from fnflight.imaging import camera_to_srgb_matrix

        xyz_to_cam = torch.tensor(values, dtype=torch.float64).reshape(3, 3)
        matrix = camera_to_srgb_matrix(xyz_to_cam, code)
        return torch.as_tensor(matrix).to(torch.float32).reshape(3, 3).numpy()
