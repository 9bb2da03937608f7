"""Write an RGB image as 8- or 16-bit PNG, JPEG or TIFF, atomically (``fnflight enhance`` outputs).

The format comes from the file extension: ``.png`` (8-bit, or 16-bit), ``.jpg`` / ``.jpeg`` (8-bit only),
``.tif`` / ``.tiff`` (16-bit by default, or 8-bit; tifffile). Float images are clipped to ``[0, 1]`` and
rounded to ``2**bits - 1`` levels; ``uint8`` / ``uint16`` arrays are written as they are.

The image is written to a hidden temporary file in the output folder, then renamed into place
(``os.replace``, atomic on one file system): a failure (full disk, a crash, an interrupt) leaves no partial
output file, and an existing file is either kept or replaced whole. Interrupts included: the temporary is
removed on any exception, ``KeyboardInterrupt`` too, and ``fnflight``'s commands turn SIGTERM into one
(:func:`fnflight.cli.arguments.guarded`). Every problem is an
:class:`ImageWriteError` naming the file: unknown extension, 16-bit JPEG, missing or unwritable folder.

Example:
    >>> import tempfile
    >>> import tifffile
    >>> folder = tempfile.mkdtemp()
    >>> ramp = np.linspace(0, 1, 2 * 3 * 3).reshape(2, 3, 3)  # (H, W, 3) float in [0, 1]
    >>> path = write_image(f"{folder}/ramp.tif", ramp)  # TIFF: 16-bit by default
    >>> tifffile.imread(path).dtype, tifffile.imread(path).shape, int(tifffile.imread(path).max())
    (dtype('uint16'), (2, 3, 3), 65535)
    >>> output_format(f"{folder}/ramp.png", 16), output_format(f"{folder}/ramp.JPG")
    (('png', 16), ('jpeg', 8))
    >>> write_image(f"{folder}/ramp.jpg", ramp, bits=16)
    Traceback (most recent call last):
    ...
    fnflight.data.image_writer.ImageWriteError: .../ramp.jpg: JPEG is 8-bit only (bits=16 asked); ...
    >>> sorted(p.name for p in Path(folder).iterdir())  # no temporary files left
    ['ramp.tif']
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "DEFAULT_BITS",
    "FORMATS",
    "ImageWriteError",
    "check_writable",
    "output_format",
    "quantize",
    "write_image",
]

# file extension -> format; format -> default bit depth
FORMATS: dict[str, str] = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff"}
DEFAULT_BITS: dict[str, int] = {"png": 8, "jpeg": 8, "tiff": 16}


class ImageWriteError(ValueError):
    """An image that cannot be written: bad extension or bit depth, missing or unwritable folder, I/O."""


def output_format(path: str | Path, bits: int | None = None) -> tuple[str, int]:
    """``(format, bits)`` for an output path: the format from its extension, ``bits`` checked or defaulted.

    Args:
        path: the output file; its extension picks the format (:data:`FORMATS`, case-insensitive).
        bits: 8 or 16; ``None`` is the format's default (:data:`DEFAULT_BITS`: 16 for TIFF, else 8).

    Returns:
        ``("png" | "jpeg" | "tiff", 8 | 16)``.

    Raises:
        ImageWriteError: an extension not png / jpg / jpeg / tif / tiff, bits not 8 or 16, 16-bit JPEG.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        shown = f"extension {path.suffix!r}" if path.suffix else "no extension"
        raise ImageWriteError(
            f"{path}: unsupported output format ({shown}); use one of {', '.join(FORMATS)} "
            "(.png 8/16-bit, .jpg 8-bit, .tif 16/8-bit)"
        )
    if bits is None:
        return fmt, DEFAULT_BITS[fmt]
    if bits not in (8, 16):
        raise ImageWriteError(f"{path}: bits must be 8 or 16, got {bits!r}")
    if fmt == "jpeg" and bits == 16:
        raise ImageWriteError(f"{path}: JPEG is 8-bit only (bits=16 asked); write .png or .tif for 16 bits")
    return fmt, int(bits)


def _can_write(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def check_writable(path: str | Path) -> Path:
    """Check, before any work, that ``path`` can be written: its folder exists, is a folder and is writable,
    and ``path`` is not a folder. Does not create anything.

    Args:
        path: the output file.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ImageWriteError: naming the path and the problem.
    """
    path = Path(path).expanduser()
    folder = path.parent
    if path.is_dir():
        raise ImageWriteError(f"{path}: is a folder; give an output file name, e.g. {path / 'output.png'}")
    if not folder.exists():
        raise ImageWriteError(f"{path}: the output folder {folder} does not exist (create it first)")
    if not folder.is_dir():
        raise ImageWriteError(f"{path}: the output folder {folder} is not a folder")
    if not _can_write(folder):
        raise ImageWriteError(f"{path}: cannot write to the output folder {folder} (permission denied)")
    try:  # the real test (a read-only file system, /proc, root ignoring permissions): create and remove
        os.unlink(_temporary(path))
    except OSError as err:
        raise ImageWriteError(
            f"{path}: cannot write to the output folder {folder} ({err.strerror or err})"
        ) from None
    return path


def quantize(image: Any, bits: int) -> np.ndarray:
    """An RGB image as ``(H, W, 3)`` ``uint8`` (``bits=8``) or ``uint16`` (``bits=16``).

    Args:
        image: float ``(H, W, 3)`` array or ``(3, H, W)`` / ``(1, 3, H, W)`` tensor in ``[0, 1]`` (clipped;
            NaN -> 0), or an ``(H, W, 3)`` ``uint8`` / ``uint16`` array of that bit depth (kept as is).
        bits: 8 or 16.

    Returns:
        ``(H, W, 3)`` ``uint8`` or ``uint16``, rounded to the nearest level.

    Example:
        >>> quantize(np.array([[[0.0, 0.5, 1.5]]]), 8).tolist(), quantize(torch.ones(3, 1, 1), 16).tolist()
        ([[[0, 128, 255]]], [[[65535, 65535, 65535]]])
    """
    if isinstance(image, torch.Tensor):
        image = image.detach().float().cpu()
        if image.dim() == 4 and image.shape[0] == 1:
            image = image[0]
        if image.dim() != 3 or image.shape[0] != 3:
            raise ImageWriteError(f"image tensor must be (3, H, W) or (1, 3, H, W), got {tuple(image.shape)}")
        image = image.permute(1, 2, 0).numpy()
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageWriteError(f"image must be (H, W, 3) RGB, got shape {arr.shape}")
    dtype = np.uint8 if bits == 8 else np.uint16
    if arr.dtype.kind in "ui":
        if arr.dtype != dtype:
            raise ImageWriteError(
                f"a {arr.dtype} image cannot be written with bits={bits}; pass floats in [0, 1]"
            )
        return np.ascontiguousarray(arr)
    top = float(2**bits - 1)
    scaled = np.clip(np.nan_to_num(arr.astype(np.float32), nan=0.0), 0.0, 1.0) * np.float32(top)
    return np.ascontiguousarray(np.floor(scaled + 0.5).astype(dtype))


def _encode(tmp: Path, pixels: np.ndarray, fmt: str, quality: int) -> None:
    if fmt == "tiff":
        import tifffile

        tifffile.imwrite(tmp, pixels, photometric="rgb")
    elif fmt == "png" and pixels.dtype == np.uint16:
        from .sources import write_png  # Pillow cannot write 16-bit RGB PNG

        write_png(tmp, pixels)
    else:
        from PIL import Image

        kwargs = {"quality": int(quality)} if fmt == "jpeg" else {}
        Image.fromarray(pixels).save(tmp, format="JPEG" if fmt == "jpeg" else "PNG", **kwargs)


def _temporary(path: Path) -> Path:
    """Create an empty hidden file next to ``path`` (mode 0o666 minus the umask, like a plain ``open``)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise ImageWriteError(f"{path}: cannot create a temporary file next to it")  # pragma: no cover


def write_image(path: str | Path, image: Any, bits: int | None = None, quality: int = 95) -> Path:
    """Write an RGB image atomically as PNG, JPEG or TIFF (format from the extension; module docstring).

    Args:
        path: output file (``.png``, ``.jpg``, ``.jpeg``, ``.tif``, ``.tiff``); its folder must exist.
        image: float ``(H, W, 3)`` array or ``(3, H, W)`` tensor in ``[0, 1]``, or integer pixels
            (:func:`quantize`).
        bits: 8 or 16; ``None``: 16 for TIFF, 8 for PNG and JPEG (integer pixels: their own depth).
        quality: JPEG quality (1-95).

    Returns:
        The written path.

    Raises:
        ImageWriteError: bad format or bit depth, missing or unwritable folder, or an I/O error while
            writing (the output path is then left as it was).
    """
    path = Path(path).expanduser()
    if bits is None and isinstance(image, np.ndarray) and image.dtype in (np.uint8, np.uint16):
        bits = 8 * image.dtype.itemsize  # integer pixels keep their depth
    fmt, bits = output_format(path, bits)
    pixels = quantize(image, bits)
    check_writable(path)
    try:
        tmp = _temporary(path)
    except OSError as err:
        raise ImageWriteError(
            f"{path}: cannot write to the output folder {path.parent} ({err.strerror or err})"
        ) from None
    try:
        _encode(tmp, pixels, fmt, quality)
        os.replace(tmp, path)
    except BaseException as err:  # an I/O error, or an interrupt (SIGINT; SIGTERM under fnflight.cli)
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # pragma: no cover - the folder went away
            pass
        if isinstance(err, OSError):
            raise ImageWriteError(f"{path}: cannot write the image ({err.strerror or err})") from None
        raise
    return path
