"""SID raw captures (paper 004 sec. 3.2-4; NOTES "SID"): short-exposure raw inputs, long-exposure references.

:class:`SIDRawPairs` reads the dataset's list files (``Sony_train_list.txt``, ``Fuji_test_list.txt``, ...),
one pair per line::

    ./Sony/short/00001_00_0.04s.ARW ./Sony/long/00001_00_10s.ARW ISO200 F8

(input file, reference file, then optional ISO and f-number; paths relative to ``root``). Per pair:

- exposure times come from the file names (``..._0.04s.ARW`` -> 0.04 s); the amplification ratio is
  ``min(t_reference / t_input, 300)`` (:func:`fnflight.imaging.amplification_ratio`, NOTES "SID");
- the input raw is read with rawpy, its black and white levels taken from the file
  (``raw.black_level_per_channel`` per CFA colour, ``raw.white_level``; SID's code hard-codes Sony
  512 / 16383 and Fuji 1024 / 16383, which is what those files report; ``black_level`` / ``white_level``
  override), normalised ``max(raw - black, 0) / (white - black)`` and packed: Bayer -> 4 channels at half
  resolution (:func:`fnflight.imaging.pack_bayer`, raster order R, G, G, B by default), X-Trans (6x6 CFA)
  -> 9 channels at a third (:func:`fnflight.imaging.pack_xtrans`). Before packing the mosaic is shifted (its
  first rows / columns dropped) so it starts at the canonical phase (RGGB, or
  :data:`fnflight.imaging.XTRANS_CFA`): packed channels then always mean the same colours, whatever the
  camera's CFA phase;
- the ground truth is the reference raw rendered by LibRaw as SID does (``use_camera_wb=True``,
  ``no_auto_bright=True``, ``output_bps=16``; plus ``user_flip=0`` so it stays pixel-aligned with the raw
  mosaic even for portrait shots) -> sRGB float32 ``/ 65535``, cropped by the same phase shift.

Decoded arrays (the integer mosaic of every input, the 16-bit rendering of every reference, which several
inputs share) are kept in an in-memory cache of up to ``cache_mb`` per process. Errors are
:class:`SourceError` naming the file and the problem: missing list file, malformed line, missing listed
file, exposure time not in the name, file rawpy cannot read (not a raw file: a PNG, a text file, ...;
truncated or damaged), no colour filter array (a linear or monochrome DNG), unsupported colour filter array.

One raw file of your own (``fnflight enhance raw=FILE``): :func:`read_raw_capture` decodes it with the same
code as the dataset's inputs (:func:`decode_raw`: mosaic, levels, CFA phase; :func:`pack_decoded`:
normalisation and packing), without amplification.

Raw flash / no-flash pairs and bursts (``fnflight enhance noflash=A.dng flash=B.dng``, ``burst='F/*.dng'``):
:func:`read_linear_camera_rgb` turns one raw file into the linear camera RGB the FnF and burst nets work in,
through the SAME decoding (:func:`decode_raw`, :func:`normalised_mosaic`) and the package's bilinear
demosaic, with the file's white balance and colour matrix as ONE camera -> sRGB matrix for the rendering
(the batch's ``color_matrix``, as FAID's 16-bit pairs carry theirs), and the camera's name
(:func:`camera_name`) so that inputs from two cameras are refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .sources import ItemList, SourceError

__all__ = [
    "RAW_SUFFIXES",
    "SIDRawPairs",
    "camera_name",
    "decode_raw",
    "exposure_from_name",
    "is_raw_name",
    "normalised_mosaic",
    "pack_decoded",
    "read_linear_camera_rgb",
    "read_raw_capture",
    "read_sid_list",
]

# file name endings read as camera raw files (by rawpy) wherever a command takes images or raw files
RAW_SUFFIXES = (
    ".dng", ".arw", ".srf", ".sr2", ".raf", ".nef", ".nrw", ".cr2", ".cr3", ".crw", ".orf", ".rw2", ".rwl",
    ".pef", ".srw", ".raw", ".3fr", ".fff", ".iiq", ".erf", ".kdc", ".dcr", ".mef", ".mos", ".mrw", ".x3f",
    ".gpr",
)  # fmt: skip
_EXPOSURE = re.compile(r"_(\d+(?:\.\d*)?|\.\d+)s\.[A-Za-z0-9]+$")
_SPLIT = re.compile(r"_(train|val|test)_list")


def exposure_from_name(path: str | Path) -> float:
    """Exposure time in seconds from a SID file name ``<scene>_<shot>_<time>s.<ext>``.

    >>> exposure_from_name("./Sony/short/00001_00_0.04s.ARW"), exposure_from_name("10003_00_10s.RAF")
    (0.04, 10.0)
    """
    match = _EXPOSURE.search(Path(path).name)
    if match is None:
        raise SourceError(f"{path}: no exposure time in the file name (expected '..._<seconds>s.<ext>')")
    value = float(match.group(1))
    if value <= 0:
        raise SourceError(f"{path}: exposure time in the file name must be > 0, got {value}")
    return value


def read_sid_list(list_file: str | Path) -> list[dict[str, Any]]:
    """Parse a SID list file into ``[{"input", "reference", "iso", "fnumber", "line"}]`` (paths as written).

    Blank lines and lines starting with ``#`` are skipped. ``ISO200`` / ``F8`` fields are optional.
    """
    path = Path(list_file)
    if not path.is_file():
        raise SourceError(f"SID list file {path} does not exist")
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) < 2:
            raise SourceError(
                f"{path}, line {number}: expected '<input raw> <reference raw> [ISO<n>] [F<n>]', got {line!r}"
            )
        iso = fnumber = float("nan")
        for extra in fields[2:]:
            try:
                if extra.upper().startswith("ISO"):
                    iso = float(extra[3:])
                elif extra.upper().startswith("F"):
                    fnumber = float(extra[1:])
            except ValueError:
                raise SourceError(
                    f"{path}, line {number}: cannot parse {extra!r} (expected ISO<n> or F<n>)"
                ) from None
        entries.append(
            {"input": fields[0], "reference": fields[1], "iso": iso, "fnumber": fnumber, "line": number}
        )
    if not entries:
        raise SourceError(f"SID list file {path} lists no pairs")
    return entries


def _rawpy_errors() -> tuple[type[BaseException], ...]:
    import rawpy

    return (rawpy.LibRawError, OSError, ValueError, RuntimeError)


# ----------------------------------------------------------------------------------------------------------
# one raw file: the decoding shared by SIDRawPairs and ``fnflight enhance raw=FILE``
RAW_HINT = "a camera raw file rawpy reads (DNG, Sony ARW, Fuji RAF, ...)"
_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image without camera raw data"),
    (b"MM\x00*", "a TIFF image without camera raw data"),
)


def _what_is(path: Path) -> str | None:
    """What a file rawpy rejects looks like (``"a PNG image"``, ``"a text file"``, ...), or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    if not head:
        return "an empty file"
    for magic, kind in _IMAGE_MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 3:  # not a multi-byte character cut at 512 bytes: binary
            return None
        text = head[: err.start].decode("utf-8")
    if all(c.isprintable() or c in "\t\n\r\f\v" for c in text):
        return "a text file"
    return None


def _read_failure(path: Path, err: BaseException, what: str) -> SourceError:
    """A :class:`SourceError` for a rawpy failure, naming the file, LibRaw's error and the likely cause."""
    import rawpy

    detail = f"{type(err).__name__}: {_msg(err)}"
    unsupported = isinstance(err, rawpy.LibRawFileUnsupportedError)
    kind = _what_is(path) if unsupported or path.stat().st_size == 0 else None
    if kind is not None:
        hint = f"it is {kind}, not {RAW_HINT}"
    elif unsupported:
        hint = f"not {RAW_HINT}, or a damaged one"
    else:
        hint = "the file is truncated or damaged"
    return SourceError(f"{path}: rawpy cannot {what} ({detail}): {hint}")


def _open_raw(path: Path) -> Any:
    import rawpy

    if not path.is_file():
        raise SourceError(f"{path}: no such raw file")
    try:
        return rawpy.imread(str(path))
    except _rawpy_errors() as err:
        raise _read_failure(path, err, "read this file") from None


def decode_raw(
    path: str | Path, black_level: float | None = None, white_level: float | None = None
) -> dict[str, Any]:
    """Decode one raw file (rawpy) into its integer mosaic at the canonical CFA phase, levels and ISP data.

    The one decoding path of :class:`SIDRawPairs` and :func:`read_raw_capture` (module docstring): the
    visible mosaic, shifted (first rows / columns dropped) to start at RGGB or :data:`XTRANS_CFA
    <fnflight.imaging.XTRANS_CFA>` and trimmed to whole CFA periods; the black level per CFA site (from the
    file, or ``black_level``) and the white level (file, or ``white_level``).

    Args:
        path: the raw file.
        black_level, white_level: override the levels the file reports.

    Returns:
        ``{"path", "mosaic"}`` (``uint16`` ``(H, W)``, ``H, W`` multiples of the CFA period), ``"black"``
        (float32 black level of each site of one CFA period, at the canonical phase), ``"white"`` (float),
        ``"cfa"`` (``"bayer"`` or ``"xtrans"``), ``"offset"`` (``(dy, dx)``, the phase shift), ``"flip"``
        (LibRaw's orientation code; ``fnflight enhance`` turns its output by it), ``"xyz_to_camera"``
        (3, 3) (the file's, zeros when it has none), ``"wb_gains"`` (3,) and ``"color_matrix"`` (3, 3)
        (:func:`_isp_params`).

    Raises:
        SourceError: naming the file and the problem (missing, not raw, truncated, no or unsupported colour
            filter array, bad levels, too small).
    """
    import rawpy

    path = Path(path)
    with _open_raw(path) as raw:
        try:
            mosaic = np.array(raw.raw_image_visible, dtype=np.uint16, copy=True)
            pattern = raw.raw_pattern
            raw_type, num_colors = raw.raw_type, int(raw.num_colors)
            desc = raw.color_desc.decode("ascii", "replace")
            black = np.asarray(raw.black_level_per_channel, dtype=np.float32)
            white = float(raw.white_level)
            camera_wb = np.asarray(raw.camera_whitebalance, dtype=np.float64)
            xyz_to_camera = np.asarray(raw.rgb_xyz_matrix, dtype=np.float64)[:3]
            flip = int(raw.sizes.flip)
        except _rawpy_errors() as err:
            raise _read_failure(path, err, "decode the raw data") from None
    if pattern is None or raw_type != rawpy.RawType.Flat or np.asarray(pattern).size <= 1 or num_colors < 3:
        kind = (
            f"a linear (already demosaicked) raw, {num_colors} colours per pixel"
            if raw_type != rawpy.RawType.Flat
            else "a monochrome raw"
        )
        raise SourceError(f"{path}: no colour filter array: {kind}; need a Bayer or X-Trans mosaic")
    pattern = np.asarray(pattern)
    colors = _cfa_colors(pattern, desc, path)
    cfa, (dy, dx) = _canonical_phase(colors, path)
    tile = black[pattern] if black_level is None else np.full(pattern.shape, black_level, np.float32)
    tile = np.roll(tile.astype(np.float32), (-dy, -dx), (0, 1))
    white = white if white_level is None else float(white_level)
    if white <= float(tile.max()):
        raise SourceError(f"{path}: white level {white} is not above the black level {float(tile.max())}")
    period = 2 if cfa == "bayer" else 6
    h = (mosaic.shape[0] - dy) // period * period
    w = (mosaic.shape[1] - dx) // period * period
    if h < period or w < period:
        raise SourceError(f"{path}: raw image {mosaic.shape} is too small for its {cfa} pattern")
    return {
        "path": str(path),
        "mosaic": np.ascontiguousarray(mosaic[dy : dy + h, dx : dx + w]),
        "black": tile,
        "white": white,
        "cfa": cfa,
        "offset": (dy, dx),
        "flip": flip,
        "xyz_to_camera": xyz_to_camera.astype(np.float32),
        **_isp_params(camera_wb, xyz_to_camera),
    }


def pack_decoded(
    decoded: dict[str, Any], box: tuple[int, int, int, int] | None = None, bayer_order: str = "raster"
) -> torch.Tensor:
    """Normalise and pack (a crop of) a :func:`decode_raw` result: float32 ``(1, C, h, w)``, not amplified.

    ``max(raw - black, 0) / (white - black)`` per CFA site, then :func:`fnflight.imaging.pack_bayer`
    (``bayer_order``) or :func:`fnflight.imaging.pack_xtrans`.

    Args:
        decoded: the dict of :func:`decode_raw`.
        box: ``(top, left, height, width)`` in PACKED pixels (X-Trans: all even, to keep the 6x6 phase);
            ``None`` is the whole image.
        bayer_order: ``"raster"`` (R, G, G, B) or ``"sid"`` (R, G, B, G).

    Returns:
        ``(1, 4, h, w)`` (Bayer) or ``(1, 9, h, w)`` (X-Trans) in ``[0, 1]``.
    """
    from fnflight import imaging

    f = 2 if decoded["cfa"] == "bayer" else 3
    ph, pw = decoded["mosaic"].shape[0] // f, decoded["mosaic"].shape[1] // f
    top, left, h, w = box if box is not None else (0, 0, ph, pw)
    path = decoded.get("path", "raw")
    if top < 0 or left < 0 or h < 1 or w < 1 or top + h > ph or left + w > pw:
        raise SourceError(f"{path}: crop box {(top, left, h, w)} outside the packed image ({ph}x{pw})")
    if f == 3 and (top % 2 or left % 2 or h % 2 or w % 2):
        raise SourceError(
            f"{path}: X-Trans crop boxes must be even in packed pixels, got {(top, left, h, w)}"
        )
    norm = normalised_mosaic(decoded, (top * f, left * f, h * f, w * f))
    tensor = torch.from_numpy(norm)[None, None]
    return imaging.pack_bayer(tensor, bayer_order) if f == 2 else imaging.pack_xtrans(tensor)


def normalised_mosaic(decoded: dict[str, Any], box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """``max(raw - black, 0) / (white - black)`` per CFA site of (a crop of) a :func:`decode_raw` mosaic.

    The one normalisation of :func:`pack_decoded` (SID's inputs, ``raw=``) and
    :func:`read_linear_camera_rgb` (pairs and bursts). ``box = (top, left, height, width)`` in mosaic pixels,
    all multiples of the CFA period (unchecked: the callers' boxes are); ``None`` is the whole mosaic.
    Returns float32 ``(height, width)``, not clipped above (a site over the white level stays over 1).
    """
    full = decoded["mosaic"].shape
    top, left, h, w = box if box is not None else (0, 0, *full)
    mosaic = decoded["mosaic"][top : top + h, left : left + w].astype(np.float32)
    period = decoded["black"].shape
    black = np.tile(decoded["black"], (h // period[0], w // period[1]))
    norm = np.maximum(mosaic - black, 0.0) / (decoded["white"] - black)
    return np.ascontiguousarray(norm, dtype=np.float32)


def read_raw_capture(
    path: str | Path,
    bayer_order: str = "raster",
    black_level: float | None = None,
    white_level: float | None = None,
) -> dict[str, Any]:
    """One user raw file as a SID net's input, before amplification (``fnflight enhance raw=FILE``).

    The same decoding as :class:`SIDRawPairs` (:func:`decode_raw`, :func:`pack_decoded`); amplify with
    :func:`fnflight.imaging.amplify` before the net.

    Args:
        path: a DNG, Sony ARW, Fuji RAF or other raw file rawpy reads.
        bayer_order: packed channel order (the net's training data's: ``"raster"`` or ``"sid"``).
        black_level, white_level: override the levels the file reports.

    Returns:
        ``{"raw"}``: float32 ``(1, C, h, w)``, packed, black-level subtracted, normalised to ``[0, 1]``
        (C = 4 Bayer, 9 X-Trans); ``"cfa"`` (``"bayer"`` / ``"xtrans"``); ``"factor"`` (full-resolution
        pixels per packed pixel: 2 / 3, so the net's output is ``(factor h, factor w)``); ``"wb_gains"``
        float32 tensor (3,) and ``"color_matrix"`` (3, 3) (the classical ISP's); ``"offset"`` (the CFA phase
        shift ``(dy, dx)``: the output starts at that visible pixel); ``"flip"`` (LibRaw's orientation
        code, not applied); ``"path"``.

    Raises:
        SourceError: naming the file and the problem.
    """
    if bayer_order not in ("raster", "sid"):
        raise SourceError(f"bayer_order must be 'raster' or 'sid', got {bayer_order!r}")
    decoded = decode_raw(path, black_level, white_level)
    return {
        "raw": pack_decoded(decoded, None, bayer_order),
        "cfa": decoded["cfa"],
        "factor": 2 if decoded["cfa"] == "bayer" else 3,
        "wb_gains": torch.from_numpy(decoded["wb_gains"].copy()),
        "color_matrix": torch.from_numpy(decoded["color_matrix"].copy()),
        "offset": decoded["offset"],
        "flip": decoded["flip"],
        "path": decoded["path"],
    }


def is_raw_name(path: str | Path) -> bool:
    """Whether ``path`` is named like a camera raw file (:data:`RAW_SUFFIXES`, any case).

    >>> is_raw_name("IMG_0001.DNG"), is_raw_name("a.arw"), is_raw_name("photo.png")
    (True, True, False)
    """
    return Path(path).suffix.lower() in RAW_SUFFIXES


def camera_name(path: str | Path) -> str | None:
    """The camera that wrote a raw file, ``"Make Model"`` (plus a DNG's ``UniqueCameraModel`` when it says
    more), from the TIFF tags of TIFF-based raws (DNG, ARW, NEF, CR2, ORF, RW2, PEF, ...); ``None`` when the
    file is not TIFF-based (CR3, RAF, ...) or names no camera.

    rawpy does not expose LibRaw's make and model, so they are read with tifffile (a dependency already);
    :func:`read_linear_camera_rgb` falls back to the sensor's CFA and colour matrix where this is ``None``.
    """
    import tifffile

    try:
        with tifffile.TiffFile(str(path)) as tif:
            tags = tif.pages[0].tags
            values = []
            for key in ("Make", "Model", 50708):  # 50708: DNG UniqueCameraModel
                tag = tags.get(key)
                value = tag.value if tag is not None else ""
                value = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                values.append(value.strip(" \x00"))
    except Exception:  # not a TIFF-based raw (tifffile raises many types): no name, not an error
        return None
    name = ""
    for value in values:  # "Canon" + "Canon EOS 5D" -> "Canon EOS 5D"
        if value and value not in name:
            name = value if value.startswith(name) else f"{name} {value}".strip()
    return name or None


def read_linear_camera_rgb(path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """One raw file as linear camera RGB for the flash / no-flash and burst nets (module docstring).

    Decoding: :func:`decode_raw` (the decoder of ``raw=`` and SID: black level per CFA site and white level
    from the file, the mosaic shifted to the canonical CFA phase and trimmed to whole periods; no linear or
    monochrome DNG), normalised by :func:`normalised_mosaic`, then demosaicked by the package's bilinear
    demosaic of any CFA (:func:`fnflight.imaging.demosaic_bilinear`, Bayer and X-Trans).

    Why the package's demosaic and not LibRaw's ``postprocess`` (even in linear mode: ``gamma=(1, 1)``,
    ``no_auto_bright``, unit white balance, raw colour): it keeps ONE decoding for every raw input of the
    package, so the levels and the CFA phase cannot disagree between ``raw=`` and the pairs; measured sites
    keep their exact linear values (LibRaw rescales to its own 16-bit range, ``scale_colors``, and clips at
    its own white); and a file is decoded once. Bilinear interpolation lowers the noise of the interpolated
    sites a little; the nets' noise maps come from the given or estimated levels as for any image.

    Colour (what renders the OUTPUT, never the net's input): the file's as-shot white balance ``wb``
    (divided by green) and LibRaw's ``cam2rgb`` (the inverse of (XYZ -> camera) @ (sRGB -> XYZ), rows
    normalised to 1, dcraw's construction; :func:`_isp_params`), combined into ONE camera RGB -> linear sRGB
    matrix ``color_matrix = cam2rgb @ diag(wb)``: the batch's ``color_matrix`` of the FnF and burst tasks
    (``srgb(gain * M x)``), as FAID's 16-bit pairs carry theirs. Not
    :func:`fnflight.imaging.camera_to_srgb_matrix`: rawpy gives neither the calibration illuminant nor the
    as-shot illuminant, and the white-balance-then-normalised-matrix rendering is LibRaw's own (SID's
    references) and the classical ISP's (:func:`fnflight.imaging.render_camera_rgb`). Identity matrix and
    unit gains where the file has none.

    Args:
        path: a DNG or any raw file rawpy reads with a Bayer or X-Trans colour filter array.

    Returns:
        ``(image, info)``: ``image`` float32 ``(H, W, 3)`` linear camera RGB in ``[0, 1]``, in SENSOR
        orientation (the visible mosaic after the CFA phase crop: up to one row / column fewer for Bayer);
        ``info`` ``{"path", "camera"`` (:func:`camera_name`, or None), ``"sensor"`` (a hashable fingerprint:
        CFA, phase, the file's XYZ -> camera matrix; compared when a camera has no name), ``"cfa"``
        (``"bayer"`` / ``"xtrans"``), ``"wb"`` (3,), ``"cam2rgb"`` (3, 3), ``"color_matrix"`` (3, 3)
        ``= cam2rgb @ diag(wb)``, ``"orientation"`` (LibRaw's flip code: 0, 3, 5, 6), ``"offset"`` (the CFA
        phase shift ``(dy, dx)``)``}``.

    Raises:
        SourceError: naming the file and the problem (missing, not raw, truncated, no or unsupported colour
            filter array, bad levels, too small), as ``raw=``.
    """
    from fnflight.imaging import XTRANS_CFA, demosaic_bilinear

    decoded = decode_raw(path)
    mosaic = torch.from_numpy(normalised_mosaic(decoded))[None, None]
    cfa = torch.tensor([[0, 1], [1, 2]]) if decoded["cfa"] == "bayer" else XTRANS_CFA
    try:
        rgb = demosaic_bilinear(mosaic, cfa)[0].clamp_(0.0, 1.0)
    except ValueError as err:  # a mosaic too small to interpolate
        raise SourceError(f"{decoded['path']}: cannot demosaic this raw ({err})") from None
    image = np.ascontiguousarray(rgb.permute(1, 2, 0).numpy(), dtype=np.float32)
    wb, cam2rgb = decoded["wb_gains"].astype(np.float64), decoded["color_matrix"].astype(np.float64)
    matrix = tuple(round(float(v), 4) for v in decoded["xyz_to_camera"].ravel())
    sensor = (decoded["cfa"], tuple(decoded["offset"]), matrix)
    return image, {
        "path": decoded["path"],
        "camera": camera_name(path),
        "sensor": sensor,
        "cfa": decoded["cfa"],
        "wb": decoded["wb_gains"].copy(),
        "cam2rgb": decoded["color_matrix"].copy(),
        "color_matrix": (cam2rgb @ np.diag(wb)).astype(np.float32),
        "orientation": decoded["flip"],
        "offset": decoded["offset"],
    }


class SIDRawPairs(ItemList):
    """Short-exposure raw inputs and rendered long-exposure references of SID (module docstring).

    ``dataset[i]`` gives ``raw`` float32 ``(C, h, w)`` (packed, black-level subtracted, multiplied by
    ``ratio`` and clipped to 1: :mod:`fnflight.data.batch`), ``target`` float32 ``(3, H, W)`` sRGB with
    ``H = f h``, ``W = f w`` (``f`` = :meth:`factor`: 2 Bayer, 3 X-Trans), ``ratio`` (float), ``index`` and
    ``name``.
    :meth:`read` crops in packed coordinates.

    Args:
        root: dataset root; list-file paths are relative to it (SID: the folder holding ``Sony/``).
        list_file: the list file (absolute, or relative to ``root`` if not found as given).
        ratio_cap: the cap of the amplification ratio (300, SID's code).
        black_level, white_level: override the levels read from the files (e.g. 512 / 16383 for Sony).
        bayer_order: packed channel order of :func:`fnflight.imaging.pack_bayer` (``"raster"`` or ``"sid"``).
        demosaic: LibRaw demosaic algorithm name for the references (``rawpy.DemosaicAlgorithm``, e.g.
            ``"LINEAR"``); ``None`` is LibRaw's default, as SID.
        cache_mb: decoded-array cache budget per process.
    """

    def __init__(
        self,
        root: str | Path,
        list_file: str | Path,
        ratio_cap: float = 300.0,
        black_level: float | None = None,
        white_level: float | None = None,
        bayer_order: str = "raster",
        demosaic: str | None = None,
        cache_mb: float = 2048.0,
    ) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise SourceError(f"SID root {self.root} does not exist or is not a directory")
        given = Path(list_file).expanduser()
        self.list_file = given if given.is_file() or given.is_absolute() else self.root / given
        if bayer_order not in ("raster", "sid"):
            raise SourceError(f"bayer_order must be 'raster' or 'sid', got {bayer_order!r}")
        self.ratio_cap, self.bayer_order, self.demosaic = float(ratio_cap), bayer_order, demosaic
        self.black_level = None if black_level is None else float(black_level)
        self.white_level = None if white_level is None else float(white_level)
        self.cache_mb = float(cache_mb)
        split = _SPLIT.search(self.list_file.name)
        self.split = split.group(1) if split else "all"
        from fnflight.imaging import amplification_ratio

        self.items: list[dict[str, Any]] = []
        for entry in read_sid_list(self.list_file):
            files = {}
            for key in ("input", "reference"):
                p = Path(entry[key])
                p = p if p.is_absolute() else self.root / p
                if not p.is_file():
                    raise SourceError(
                        f"{self.list_file}, line {entry['line']}: listed {key} file {p} does not exist"
                    )
                files[key] = p
            t_in, t_ref = exposure_from_name(files["input"]), exposure_from_name(files["reference"])
            self.items.append(
                {
                    "name": files["input"].stem,
                    "files": files,
                    "in_exposure": t_in,
                    "gt_exposure": t_ref,
                    "ratio": float(amplification_ratio(t_in, t_ref, self.ratio_cap)),
                    "iso": entry["iso"],
                    "fnumber": entry["fnumber"],
                }
            )
        self._cache: dict[tuple[str, str], Any] = {}
        self._cached_bytes = 0

    # ------------------------------------------------------------------ metadata (len, name, files: ItemList)
    def ratio(self, index: int) -> float:
        return float(self.items[index]["ratio"])

    def with_split(self, split: str) -> SIDRawPairs:
        """The same dataset with the ``<camera>_<split>_list.txt`` list file next to this one."""
        if self.split == "all":
            raise SourceError(
                f"{self.list_file}: not a '<camera>_<split>_list' file, cannot derive a {split!r} split"
            )
        other = self.list_file.with_name(_SPLIT.sub(f"_{split}_list", self.list_file.name, count=1))
        return SIDRawPairs(
            self.root,
            other,
            self.ratio_cap,
            self.black_level,
            self.white_level,
            self.bayer_order,
            self.demosaic,
            self.cache_mb,
        )

    # ------------------------------------------------------------------ decoding
    def _cached(self, key: tuple[str, str], make: Any) -> Any:
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        value = make()
        size = sum(v.nbytes for v in value.values() if isinstance(v, np.ndarray))
        if self._cached_bytes + size <= self.cache_mb * 2**20:
            self._cache[key] = value
            self._cached_bytes += size
        return value

    def _decode_input(self, index: int) -> dict[str, Any]:
        path = self.items[index]["files"]["input"]
        return self._cached(
            ("input", str(path)), lambda: decode_raw(path, self.black_level, self.white_level)
        )

    def _decode_reference(self, index: int) -> np.ndarray:
        path = self.items[index]["files"]["reference"]

        def make() -> dict[str, Any]:
            import rawpy

            kwargs: dict[str, Any] = {
                "use_camera_wb": True,
                "no_auto_bright": True,
                "output_bps": 16,
                "user_flip": 0,
            }
            if self.demosaic is not None:
                try:
                    kwargs["demosaic_algorithm"] = getattr(
                        rawpy.DemosaicAlgorithm, str(self.demosaic).upper()
                    )
                except AttributeError:
                    raise SourceError(
                        "demosaic must name a rawpy.DemosaicAlgorithm (e.g. 'AHD', 'LINEAR'), "
                        f"got {self.demosaic!r}"
                    ) from None
            with _open_raw(path) as raw:
                try:
                    rgb = raw.postprocess(**kwargs)
                except _rawpy_errors() as err:
                    raise SourceError(
                        f"{path}: LibRaw cannot render this reference ({type(err).__name__}: {_msg(err)})"
                    ) from None
            return {"rgb": np.ascontiguousarray(rgb, dtype=np.uint16)}

        return self._cached(("reference", str(path)), make)["rgb"]

    @property
    def cfa(self) -> str:
        """``"bayer"`` or ``"xtrans"``: the colour filter array of the first input (decodes it)."""
        return str(self._decode_input(0)["cfa"]) if self.items else "bayer"

    def factor(self, index: int = 0) -> int:
        """Full-resolution pixels per packed pixel: 2 (Bayer) or 3 (X-Trans)."""
        return 2 if self._decode_input(index)["cfa"] == "bayer" else 3

    def channels(self, index: int = 0) -> int:
        return 4 if self._decode_input(index)["cfa"] == "bayer" else 9

    def size(self, index: int) -> tuple[int, int]:
        """Packed ``(h, w)`` of pair ``index`` (inputs and references must cover it)."""
        dec = self._decode_input(index)
        f = 2 if dec["cfa"] == "bayer" else 3
        return dec["mosaic"].shape[0] // f, dec["mosaic"].shape[1] // f

    def read(
        self, index: int, box: tuple[int, int, int, int] | None = None, amplify: bool = True
    ) -> dict[str, np.ndarray]:
        """``raw`` float32 ``(h, w, C)`` and ``target`` float32 ``(f h, f w, 3)`` of pair ``index``.

        ``box = (top, left, height, width)`` in PACKED pixels (X-Trans: ``top``, ``left``, ``height`` and
        ``width`` even, so crops keep the 6x6 phase). ``amplify``: multiply by the ratio and clip to 1.
        """
        dec = self._decode_input(index)
        f = 2 if dec["cfa"] == "bayer" else 3
        ph, pw = dec["mosaic"].shape[0] // f, dec["mosaic"].shape[1] // f
        top, left, h, w = box if box is not None else (0, 0, ph, pw)
        path = self.items[index]["files"]["input"]
        raw = pack_decoded(dec, box, self.bayer_order)[0].permute(1, 2, 0).numpy()
        if amplify:
            raw = np.minimum(raw * np.float32(self.ratio(index)), 1.0)

        ref = self._decode_reference(index)
        dy, dx = dec["offset"]
        ref = ref[dy + top * f : dy + (top + h) * f, dx + left * f : dx + (left + w) * f]
        if ref.shape[:2] != (h * f, w * f):
            rpath = self.items[index]["files"]["reference"]
            raise SourceError(
                f"{rpath}: rendered reference {self._decode_reference(index).shape[:2]} does not cover "
                f"the crop {(top, left, h, w)} of input {path.name} (packed {ph}x{pw}, factor {f})"
            )
        target = ref.astype(np.float32) * np.float32(1.0 / 65535.0)
        return {
            "raw": np.ascontiguousarray(raw, dtype=np.float32),
            "target": target,
            "wb_gains": dec["wb_gains"].copy(),
            "color_matrix": dec["color_matrix"].copy(),
        }

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a source of {len(self)} pairs")
        arrays = self.read(index)
        return {
            "raw": torch.from_numpy(np.ascontiguousarray(arrays["raw"].transpose(2, 0, 1))),
            "target": torch.from_numpy(np.ascontiguousarray(arrays["target"].transpose(2, 0, 1))),
            "ratio": self.ratio(index),
            "wb_gains": torch.from_numpy(arrays["wb_gains"]),
            "color_matrix": torch.from_numpy(arrays["color_matrix"]),
            "tone_curve": 0.0,
            "index": index,
            "name": self.name(index),
        }

    def __getstate__(self) -> dict[str, Any]:  # do not ship a full cache to worker processes
        state = dict(self.__dict__)
        state["_cache"], state["_cached_bytes"] = {}, 0
        return state


def _isp_params(camera_wb: np.ndarray, xyz_to_camera: np.ndarray) -> dict[str, np.ndarray]:
    """The classical ISP's ``wb_gains`` (3,) and ``color_matrix`` (3, 3) of a raw file (float32).

    White balance: the camera's as-shot multipliers (R, G, B; rawpy's fourth is the second green) divided by
    green, as LibRaw's ``use_camera_wb`` (SID's references) applies them; ones when the file has none.
    Colour: ``cam2rgb`` = the inverse of (XYZ -> camera) @ (sRGB -> XYZ) with rows normalised to 1, the
    construction of Brooks et al.'s unprocessing (NOTES "Unprocessing"); identity when the file has no
    matrix.
    """
    from fnflight.imaging import XYZ_FROM_SRGB

    wb = camera_wb[:3] if camera_wb.size >= 3 and camera_wb[1] > 0 else np.ones(3)
    wb = wb / wb[1]
    cm = np.eye(3)
    if xyz_to_camera.shape == (3, 3) and np.abs(xyz_to_camera).sum() > 0:
        rgb_to_camera = xyz_to_camera @ XYZ_FROM_SRGB.double().numpy()
        rows = rgb_to_camera.sum(1, keepdims=True)
        if np.all(np.abs(rows) > 1e-8):
            try:
                cm = np.linalg.inv(rgb_to_camera / rows)
            except np.linalg.LinAlgError:
                cm = np.eye(3)
    return {"wb_gains": wb.astype(np.float32), "color_matrix": cm.astype(np.float32)}


def _msg(err: BaseException) -> str:
    text = err.args[0] if err.args else str(err)
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _cfa_colors(pattern: np.ndarray, desc: str, path: Path) -> np.ndarray:
    """rawpy's ``raw_pattern`` (indices into ``color_desc``) -> colour indices 0 R, 1 G, 2 B."""
    lookup = {"R": 0, "G": 1, "B": 2}
    try:
        table = np.array([lookup[c] for c in desc])
        return table[pattern]
    except (KeyError, IndexError):
        raise SourceError(f"{path}: unsupported colour filter colours {desc!r} (need R, G, B)") from None


def _canonical_phase(colors: np.ndarray, path: Path) -> tuple[str, tuple[int, int]]:
    """``("bayer" | "xtrans", (dy, dx))``: the shift that brings the CFA to RGGB / ``XTRANS_CFA``."""
    from fnflight.imaging import XTRANS_CFA

    if colors.shape == (2, 2):
        target = np.array([[0, 1], [1, 2]])
    elif colors.shape == (6, 6):
        target = XTRANS_CFA.numpy()
    else:
        raise SourceError(
            f"{path}: unsupported colour filter array of period {colors.shape} (need 2x2 or 6x6)"
        )
    th, tw = colors.shape
    for dy in range(th):
        for dx in range(tw):
            if np.array_equal(np.roll(colors, (-dy, -dx), (0, 1)), target):
                return ("bayer" if th == 2 else "xtrans"), (dy, dx)
    raise SourceError(
        f"{path}: colour filter array {colors.tolist()} is neither a Bayer nor the X-Trans layout"
    )
