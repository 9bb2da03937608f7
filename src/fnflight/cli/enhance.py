"""``fnflight enhance``: run a trained checkpoint, or a model shipped in the package, on your own flash /
no-flash pair, raw file, short / long pair or burst, or on a test-set sample.

``ckpt=PATH`` is a checkpoint of ``fnflight train`` or a file of ``fnflight export`` (read weights-only:
nothing is unpickled); ``model=NAME`` instead is a shipped model (``fnflight models`` lists them), e.g.
``fnflight enhance model=deepfnf noflash=IMG flash=IMG out=OUT.png``.

    fnflight enhance ckpt=PATH noflash=IMG flash=IMG out=OUT.png|.jpg|.tif [dim=auto|FACTOR] [std_read=S]
                     [std_shot=S] [noise=estimate] [tile=auto|N] [bits=8|16] [compare=true]
    fnflight enhance ckpt=PATH noflash=A.dng flash=B.dng out=OUT.png [options as above]   # raw pair
    fnflight enhance ckpt=PATH raw=FILE ratio=R out=OUT.png|.jpg|.tif [tile=auto|N] [bits=8|16] [device=auto]
    fnflight enhance ckpt=PATH short=IMG long=IMG out=OUT.png|.jpg|.tif [tile=auto|N] [bits=8|16]
    fnflight enhance ckpt=PATH burst=DIR_OR_GLOB out=OUT.png|.jpg|.tif [std_read=S] [std_shot=S] [tile=auto|N]
    fnflight enhance ckpt=PATH burst='FRAMES/*.dng' out=OUT.png [options as above]        # raw burst
    fnflight enhance ckpt=PATH testset=DIR index=N out=OUT.png
    fnflight enhance ckpt=PATH|model=NAME in=DIR out=DIR [ext=png|jpg|tif] [options]   # a whole folder

A folder (``in=DIR``): every pair, burst or raw file in it, by the model's task (``NAME_ambient.*`` /
``NAME_flash.*``, ``NAME_short.*`` / ``NAME_long.*``, one sub-folder per burst, raw files), each written as
``OUT/NAME.png`` with a progress bar over the images (:mod:`fnflight.cli.enhance_folder`).

Own images: 8-bit files are sRGB and are linearised with the inverse sRGB curve, 16-bit files are taken as
linear (:func:`fnflight.data.sources.read_linear`); both must have the same size and be aligned roughly (the
nets tolerate the small hand-shake of paper 000). The noise std maps the nets need are computed from the
noisy images as in training, ``sqrt(std_read^2 + std_shot^2 max(x, 0))``, with ``std_read``/``std_shot`` given
or, with ``noise=estimate``, both estimated from the no-flash image by a Poisson-Gaussian fit
(:func:`fnflight.imaging.estimate_noise_levels`, after Foi et al. 2008; an image too small for the fit gets
Donoho's white-noise estimate and ``std_shot`` 0); the default is paper 000's test level
(``std_read = 10**-2.6``, ``std_shot = 10**-1.8``). The output is linear at the no-flash exposure; it is
brightened by ``dim`` (the gain; ``auto`` maps the mean no-flash intensity to 0.18, never below a gain of 1)
and written as sRGB in the format of the extension (``bits`` as for raw files below). DeepFnF and no-flash
only run in exact tiles of any size (``tile``; split tiling, :mod:`fnflight.nets.tiling`: their coarse levels
and kernel basis come from the whole image, so the result equals the untiled forward); the other FnF nets
run in one pass.
Nets pad any size to a multiple of 32 internally. ``compare=true`` writes ``noisy (x gain) | output`` side by
side instead.

Raw pairs and bursts: ``noflash=A.dng flash=B.dng`` (and ``burst='FRAMES/*.dng'``, or a folder of raw
frames) take DNGs and any raw file rawpy reads with a Bayer or X-Trans colour filter array (by extension:
``.dng``, ``.arw``, ``.nef``, ``.cr2``, ``.raf``, ...). Each is decoded like ``raw=`` into linear camera RGB
(:func:`fnflight.data.raw_sources.read_linear_camera_rgb`: black and white levels per the file, the
package's bilinear demosaic), turned upright by the camera's orientation flag; the net runs on that, and the
output is rendered through the no-flash's (the burst's reference frame's) white balance and colour matrix
(one camera -> sRGB matrix, the task's ``color_matrix``). Every input must be raw then (a raw file with a PNG
is refused), from one camera, of one size; linear or monochrome DNGs are refused as with ``raw=``.

Own raw file (SID, paper 004; a raw low-light checkpoint, e.g. from ``fnflight train model=sid
data=raw_sid_sony``): a DNG, Sony ARW or Fuji RAF (any file rawpy reads with a Bayer or X-Trans colour
filter array) is decoded as SID's training inputs (:func:`fnflight.data.raw_sources.read_raw_capture`: black
level subtracted per CFA colour, divided by white - black, shifted to the canonical CFA phase, packed),
amplified by ``ratio`` (``min(x ratio, 1)``; SID: the exposure ratio of the brightness you want to the
shot's, 100, 250 or 300) and run through the checkpoint's net in tiles of ``tile`` packed pixels with exact
halos (:func:`fnflight.nets.tiling.tiled_forward`; ``auto``: :func:`fnflight.nets.tiling.default_tile`, 512 px
cores plus the receptive-field halo, or for the Table 3 U-Nets split tiling's small halo; a smaller
``tile`` needs less memory and more time). The net's sRGB output, 2x (Bayer) or 3x (X-Trans) the
packed size, i.e. the visible mosaic after the CFA phase crop, turned upright by the camera's orientation
flag (SID's references stay in sensor orientation; a photo should not), is clipped to [0, 1] and written
in the format of the extension: ``.png`` (8-bit; ``bits=16``: 16-bit), ``.jpg`` / ``.jpeg`` (8-bit only),
``.tif`` / ``.tiff`` (16-bit; ``bits=8``: 8-bit), through a temporary file renamed into place
(:func:`fnflight.data.image_writer.write_image`). The checkpoint's CFA must be the file's: Bayer nets do not
read X-Trans files, nor the reverse; linear or monochrome DNGs (no CFA) are refused.

Own short / long pair (LSD2, paper 003; a short/long checkpoint, e.g. from ``fnflight train model=lsd2_small
data=shortlong_embedded``): the short (noisy, dark) and long (blurry) exposures of one scene, the same size,
8-bit or 16-bit PNG/JPEG/TIFF read as the display-encoded images the network sees (paper 003 sec. 3.1: gamma
re-applied before the network; the short one as captured, not brightened), run in exact tiles like raw
files (``tile`` in pixels) and written the same way (``bits``).

Own burst (KPN, paper 002; a burst checkpoint, e.g. from ``fnflight train model=kpn_burst``): the frames
are the files of a folder, or of a glob pattern, in name order, the first the reference; as many as the net
takes, of one size, read like the flash/no-flash images (8-bit sRGB linearised, 16-bit linear). The noise
estimate the net takes (the std map of the reference frame, paper 002) comes from ``std_read`` /
``std_shot`` when given, else (``noise=estimate``, default) from a Poisson-Gaussian fit to the reference
frame itself (:func:`fnflight.imaging.estimate_noise_levels`). Run in exact tiles like raw files (``tile``
in pixels; the Table 3 body's receptive field is 544 px) and written the same way (``bits``).

Test-set sample: writes ``input | output | target`` (the task's input preview and sRGB rendering) for sample
``index``.

``device``: ``auto`` (CUDA if available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``. Every bad request
(missing or unreadable file, wrong kind of checkpoint, bad option, unwritable output) exits with code 2 and
one line naming the problem, and leaves no output file; options, inputs and the output location are checked
before the model runs. Overwrites: an existing output is refused unless ``overwrite=true`` (every command's
rule). Ctrl-C or SIGTERM removes the unfinished output and exits 130 / 143.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from fnflight.cli.arguments import (
    ArgumentError,
    Key,
    Schema,
    check_output_file,
    guarded,
    parse_device,
    show_progress,
)

TEST_STD_READ, TEST_STD_SHOT = 10**-2.6, 10**-1.8
# every key of `fnflight enhance`, checked by the one argument layer (fnflight.cli.arguments)
SCHEMA = Schema(
    "enhance",
    [
        Key("ckpt", str, None, "a checkpoint of fnflight train or a file of fnflight export"),
        Key("model", str, None, "a shipped model instead of ckpt= (fnflight models lists them)"),
        Key("out", str, None, "the output image (.png, .jpg, .tif), or with in=DIR the output folder"),
        Key("noflash", str, None, "flash/no-flash mode: the no-flash (ambient) image or raw file (DNG, ...)"),
        Key("flash", str, None, "flash/no-flash mode: the flash image, or a raw file from the same camera"),
        Key(
            "dim",
            float,
            "auto",
            "the gain the output is brightened by",
            low=0,
            low_open=True,
            words=("auto",),
        ),
        Key("std_read", float, None, "read-noise std (linear [0, 1] units)", low=0),
        Key("std_shot", float, None, "shot-noise std (linear [0, 1] units)", low=0),
        Key(
            "noise",
            str,
            "paper",
            "noise level when std_read/std_shot are not given",
            choices=("paper", "estimate"),
        ),
        Key("compare", bool, False, "write noisy (x gain) | output side by side"),
        Key("raw", str, None, "raw mode: a raw file (DNG, ARW, RAF, ...)"),
        Key("ratio", float, None, "raw mode: the amplification (SID: 100, 250, 300)", low=0, low_open=True),
        Key("short", str, None, "short/long mode: the short (noisy) exposure"),
        Key("long", str, None, "short/long mode: the long (blurry) exposure"),
        Key(
            "burst",
            str,
            None,
            "burst mode: a folder or glob pattern of frames, images or raw files (the first the reference)",
        ),
        Key("testset", str, None, "test-set mode: a folder written by fnflight testset"),
        Key("index", int, 0, "test-set mode: the sample", low=0),
        Key("tile", int, "auto", "tile side in pixels (packed pixels for raw files)", low=1, words=("auto",)),
        Key("bits", str, None, "bit depth of the output (default: 16 for .tif, else 8)", choices=("8", "16")),
        Key("device", str, "auto", "auto, cpu, cuda or cuda:N"),
        Key("in", str, None, "a folder of inputs (pairs, bursts or raw files); out= is then a folder"),
        Key(
            "ext", str, "png", "with in=DIR: the output format", choices=("png", "jpg", "jpeg", "tif", "tiff")
        ),
        Key("overwrite", bool, False, "replace existing outputs (refused otherwise)"),
    ],
    usage="fnflight enhance ckpt=PATH|model=NAME INPUTS out=FILE [key=value ...]",
    examples=(
        "fnflight enhance model=deepfnf noflash=AMBIENT.png flash=FLASH.png noise=estimate out=out.png",
        "fnflight enhance model=deepfnf noflash=AMBIENT.dng flash=FLASH.dng noise=estimate out=out.png",
        "fnflight enhance model=sid raw=CAPTURE.ARW ratio=100 out=out.png",
        "fnflight enhance model=lsd2 short=SHORT.png long=LONG.png out=out.png",
        "fnflight enhance model=kpn_burst burst='FRAMES/*.png' out=out.png",
        "fnflight enhance model=kpn_burst burst='FRAMES/*.dng' out=out.png",
        "fnflight enhance ckpt=runs/deepfnf_small/checkpoints/last.ckpt testset=TESTSET index=0 out=s.png",
        "fnflight enhance model=lsd2 in=PAIRS/ out=RESULTS/ ext=jpg",
    ),
)
# the keys of the test-set mode (a sample of any task's test set) besides ckpt, model, out, device, overwrite;
# each task's own mode states its keys and input files in its spec (fnflight.tasks.spec.TaskSpec)
TESTSET_KEYS = ("testset", "index")
COMMON_KEYS = ("ckpt", "model", "out", "device", "overwrite")
USAGE = (
    "usage: fnflight enhance ckpt=PATH noflash=IMG flash=IMG out=IMG | ckpt=PATH raw=FILE ratio=R out=IMG | "
    "ckpt=PATH short=IMG long=IMG out=IMG | ckpt=PATH testset=DIR index=N out=IMG (--help for all options)"
)
CFA_NAMES = {"bayer": "Bayer", "xtrans": "X-Trans"}


class EnhanceError(ArgumentError):
    """A bad ``fnflight enhance`` request (one line, exit 2)."""


def mode_keys(mode: str) -> tuple[str, ...]:
    """The keys of an input mode besides :data:`COMMON_KEYS`: a task's (its spec's ``enhance_keys``) or the
    test-set mode's."""
    return TESTSET_KEYS if mode == "testset" else _mode_spec(mode).enhance_keys


def _mode_spec(mode: str):
    from fnflight.tasks.spec import specs

    return next(s for s in specs() if s.enhance_mode == mode)


def _mode(opts: dict[str, Any], given: set[str]) -> str:
    """The one input mode the given keys select (a task's input files, or its first key when it has none:
    ``burst=``; ``testset=``); :class:`EnhanceError` when none or several."""
    from fnflight.tasks.spec import specs

    selects = {s.enhance_mode: set(s.enhance_files or s.enhance_keys[:1]) for s in specs()}
    selects["testset"] = {"testset"}
    modes = [m for m, keys in selects.items() if keys & given]
    if len(modes) != 1:
        raise EnhanceError(
            "pass one of: noflash=IMG flash=IMG, raw=FILE ratio=R, short=IMG long=IMG, burst=DIR_OR_GLOB, "
            "testset=DIR index=N, or in=DIR (a folder)"
            + (f"; got inputs of {' and '.join(modes)}" if modes else "")
        )
    return modes[0]


def check_options(opts: dict[str, Any], given: set[str], mode: str) -> None:
    """The options of one mode, checked before any work: no option of another mode, every input of the mode
    given, the output's format (and bit depth) known."""
    from fnflight.data.image_writer import ImageWriteError, output_format

    keys = mode_keys(mode)
    extra = sorted(given - set(keys) - set(COMMON_KEYS) - {"in", "ext"})
    if extra:
        raise EnhanceError(
            f"{extra[0]}= is not an option of this mode; {mode} takes {', '.join(keys)}= "
            f"(and {', '.join(COMMON_KEYS)}=)"
        )
    files = () if mode == "testset" else _mode_spec(mode).enhance_files
    for key in files:
        if not opts.get(key):
            both = " and ".join(f"{k}=IMG" for k in files)
            raise EnhanceError(f"this mode needs both {both} ({key}= is missing)")
    if mode == "raw" and opts.get("ratio") is None:
        raise EnhanceError(
            "raw=FILE needs ratio=R, the amplification: the exposure ratio of the brightness you want to "
            "the shot's (SID: 100, 250 or 300)"
        )
    if opts.get("bits") is not None:
        opts["bits"] = int(opts["bits"])
    if opts.get("tile") == "auto":
        opts["tile"] = None
    out = Path(opts["out"]).expanduser()
    if out.is_dir():
        raise EnhanceError(f"out={out}: is a folder; give an output file name, e.g. out={out / 'output.png'}")
    if mode != "testset":
        try:
            opts["format"], opts["bits"] = output_format(opts["out"], opts.get("bits"))
        except ImageWriteError as err:
            raise EnhanceError(f"out={err}") from None


def input_file(key: str, path: str | Path) -> Path:
    """An input file given as ``key=path``: it must exist and be a file (a folder is named as one)."""
    path = Path(path).expanduser()
    if path.is_dir():
        hint = " (a whole folder of inputs: in=DIR out=DIR)" if key != "raw" else ""
        raise EnhanceError(f"{key}={path}: is a folder, not an image file{hint}")
    if not path.exists():
        raise EnhanceError(f"{key}={path}: no such {'raw' if key == 'raw' else 'image'} file")
    return path


def parse(argv: list[str]) -> dict[str, Any]:
    """``key=value`` arguments -> options (defaults filled, values checked and converted, inputs found, the
    output location writable); :class:`EnhanceError` or :class:`ArgumentError` if anything is bad.

    ``opts["mode"]`` is ``"own"`` (noflash / flash), ``"raw"``, ``"shortlong"``, ``"burst"`` or ``"testset"``.
    """
    opts = SCHEMA.parse(argv)
    given = opts.given
    from fnflight.models import checkpoint_path

    try:  # a checkpoint, or a shipped model (fnflight models) instead
        opts["ckpt"] = checkpoint_path(opts.get("ckpt"), opts.get("model"))
    except ValueError as err:  # ModelNotFoundError included
        raise EnhanceError(f"{err}; {USAGE}" if "missing" in str(err) else str(err)) from None
    if not opts.get("out"):
        raise EnhanceError(f"missing out=...; {USAGE}")
    opts["mode"] = mode = _mode(opts, given)
    check_options(opts, given, mode)
    device_of(opts["device"])
    for key in () if mode == "testset" else _mode_spec(mode).enhance_files:
        input_file(key, opts[key])
    if mode == "own":
        same_kind([("noflash", opts["noflash"]), ("flash", opts["flash"])])
    if mode == "burst":
        burst_files(opts["burst"])
    check_output_file(opts["out"], "out", overwrite=opts["overwrite"])
    return opts


def parse_ratio(value: Any) -> float:
    """The amplification ``ratio=R``: a finite number > 0, else :class:`ArgumentError`.

    Example:
        >>> parse_ratio("250"), parse_ratio(1e2)
        (250.0, 100.0)
    """
    try:
        return float(SCHEMA.key("ratio").convert(value))
    except ArgumentError as err:
        raise EnhanceError(f"{err}, e.g. ratio=100 (SID: 100, 250, 300)") from None


def device_of(name: str) -> torch.device:
    """``device=`` -> :class:`torch.device`, or an :class:`EnhanceError` (checked before any work)."""
    return parse_device(name, EnhanceError)


def _is_raw_task(task: Any) -> bool:
    from fnflight.tasks.raw_lowlight import RawLowLightTask

    return isinstance(task, RawLowLightTask)


def enhance_raw(
    ckpt: str | Path,
    raw: str | Path,
    ratio: float,
    out: str | Path,
    tile: int | None = None,
    bits: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Run a raw low-light (SID) checkpoint on one raw file and write the sRGB result (module docstring).

    Args:
        ckpt: a checkpoint of a :class:`~fnflight.tasks.raw_lowlight.RawLowLightTask`.
        raw: the raw file (DNG, ARW, RAF, ...); its CFA must be the net's (``task.net.cfa``).
        ratio: amplification, > 0 (:func:`fnflight.imaging.amplify`).
        out: output image; the extension picks the format (:mod:`fnflight.data.image_writer`).
        tile: tile side in packed pixels (:func:`fnflight.nets.tiling.tiled_forward`); ``None``: the net's
            default (:func:`fnflight.nets.tiling.default_tile`).
        bits: 8 or 16; ``None``: the format's default (16 for TIFF, else 8).
        device: where the net runs.
        progress: tqdm bar over the tiles (stderr).

    Returns:
        ``{"path", "height", "width", "format", "bits", "cfa", "ratio"}`` of the written image.

    Raises:
        EnhanceError, CheckpointError, SourceError, ImageWriteError: each naming the file and the problem;
            nothing is written then.
    """
    from fnflight.data.image_writer import check_writable, output_format
    from fnflight.data.raw_sources import read_raw_capture
    from fnflight.imaging import amplify
    from fnflight.model_io.checkpoint import method_name

    ratio = parse_ratio(ratio)
    fmt, bits = output_format(out, bits)
    out = check_writable(out)  # before any work
    task = _load_task(ckpt)
    if not _is_raw_task(task):
        raise EnhanceError(
            f"checkpoint {str(ckpt)!r} is not a raw model: it holds a {method_name(task)} model "
            f"({type(task).__name__}) for flash / no-flash images or bursts; raw=FILE needs a raw low-light "
            "(SID) checkpoint, e.g. from `fnflight train model=sid data=raw_sid_sony`"
        )
    net = task.net
    net_cfa = getattr(net, "cfa", None)
    if net_cfa not in CFA_NAMES:
        raise EnhanceError(
            f"checkpoint {str(ckpt)!r}: its net ({type(net).__name__}, {getattr(net, 'in_channels', '?')} "
            "input channels) is neither a Bayer nor an X-Trans raw net"
        )
    capture = read_raw_capture(raw, str(task.hparams.get("bayer_order", "raster")))
    if capture["cfa"] != net_cfa:
        have, want = CFA_NAMES[capture["cfa"]], CFA_NAMES[net_cfa]
        raise EnhanceError(
            f"{raw}: the file has {have} colour filters, but checkpoint {str(ckpt)!r} was trained on {want} "
            f"raws ({net.in_channels} packed channels); use a checkpoint trained on {have} data "
            f"(data.init_args.cfa={capture['cfa']})"
        )
    device = torch.device(device)
    task.to(device)
    image = _run_tiled(net, [amplify(capture["raw"], ratio).to(device)], tile, progress)
    image = upright(image, int(capture.get("flip", 0)))
    return {**_write(out, image, fmt, bits), "cfa": capture["cfa"], "ratio": ratio}


def _prepare(ckpt: str | Path, out: str | Path, bits: int | None, cls: type, what: str, example: str):
    """Before any work: the output's format and writability, then the checkpoint, which must hold a
    ``cls`` task; returns ``(out, fmt, bits, task)``."""
    from fnflight.data.image_writer import check_writable, output_format
    from fnflight.model_io.checkpoint import method_name

    fmt, bits = output_format(out, bits)
    out = check_writable(out)
    task = _load_task(ckpt)
    if not isinstance(task, cls):
        raise EnhanceError(
            f"checkpoint {str(ckpt)!r} holds a {method_name(task)} model ({type(task).__name__}), not a "
            f"{what} model: it needs e.g. `fnflight train {example}`"
        )
    return out, fmt, bits, task


@torch.no_grad()
def _run_tiled(
    net: torch.nn.Module, inputs: list[torch.Tensor], tile: int | None, progress: bool
) -> torch.Tensor:
    """``net(*inputs)["output"][0]`` in exact tiles (:func:`fnflight.nets.tiling.tiled_forward`), clipped
    to [0, 1], on the CPU."""
    from fnflight.nets.tiling import tiled_forward

    try:
        y = tiled_forward(net, *inputs, tile=None if tile is None else int(tile), progress=progress)
    except ValueError as err:  # a tile too small for the net's receptive field
        raise _tile_error(tile, err) from None
    return y[0].float().clamp(0.0, 1.0).cpu()


def _tile_error(tile: int | None, err: ValueError) -> EnhanceError:
    """A tile too small for the net, named as the user gave it (the tiler rounds it down to its grid)."""
    need = re.search(r"need tile >= (\d+)", str(err))
    if tile is not None and need:
        return EnhanceError(
            f"bad tile={tile}: too small for this net (its receptive field needs tile >= {need.group(1)}; "
            "or tile=auto)"
        )
    return EnhanceError(f"cannot run the net in tiles (tile={tile or 'auto'}): {err}")


def _write(out: Path, image: torch.Tensor, fmt: str, bits: int) -> dict[str, Any]:
    """Write ``image`` ``(3, H, W)`` atomically; ``{"path", "height", "width", "format", "bits"}``."""
    from fnflight.data.image_writer import write_image

    path = write_image(out, image, bits)
    return {
        "path": path,
        "height": int(image.shape[1]),
        "width": int(image.shape[2]),
        "format": fmt,
        "bits": bits,
    }


def _read_display(path: str | Path, what: str) -> torch.Tensor:
    """An 8- or 16-bit image file as its display-encoded values ``(1, 3, H, W)`` in [0, 1] (not linear)."""
    from fnflight.data.sources import SourceError, decode_image

    path = input_file(what, path)
    try:
        arr = decode_image(path)
    except (SourceError, OSError, ValueError) as err:
        raise EnhanceError(f"{what}={path}: cannot read this image ({err})") from None
    scale = 65535.0 if arr.dtype == "uint16" else 255.0
    return torch.from_numpy(arr.astype("float32") / scale).permute(2, 0, 1)[None].contiguous()


def enhance_short_long(
    ckpt: str | Path,
    short: str | Path,
    long: str | Path,
    out: str | Path,
    tile: int | None = None,
    bits: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Run a short/long (LSD2) checkpoint on one pair of images and write the result (module docstring).

    Returns ``{"path", "height", "width", "format", "bits"}``; raises :class:`EnhanceError` (or the writer's
    / checkpoint's errors), each naming the file and the problem, and writes nothing then.
    """
    from fnflight.tasks.short_long import ShortLongTask

    out, fmt, bits, task = _prepare(
        ckpt, out, bits, ShortLongTask, "short/long exposure", "model=lsd2_small data=shortlong_embedded"
    )
    x_short, x_long = _read_display(short, "short"), _read_display(long, "long")
    if x_short.shape != x_long.shape:
        raise EnhanceError(
            f"short={short} is {tuple(x_short.shape[-2:])} (H, W) but long={long} is "
            f"{tuple(x_long.shape[-2:])}: the two exposures must have the same size"
        )
    device = torch.device(device)
    task.to(device)
    return _write(
        out, _run_tiled(task.net, [x_short.to(device), x_long.to(device)], tile, progress), fmt, bits
    )


def burst_files(spec: str) -> list[Path]:
    """The frames of ``burst=``: a folder's image or raw files or a glob pattern's matches, in name order;
    all images or all raw files (:func:`same_kind`)."""
    import glob

    from fnflight.data.raw_sources import RAW_SUFFIXES
    from fnflight.data.sources import SUPPORTED_EXTENSIONS

    folder = Path(spec).expanduser()
    suffixes = SUPPORTED_EXTENSIONS + RAW_SUFFIXES
    if folder.is_dir():
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    else:
        files = sorted(Path(p) for p in glob.glob(str(folder)) if Path(p).suffix.lower() in suffixes)
    if not files:
        raise EnhanceError(
            f"burst={spec}: no image files (.png, .jpg, .tif) or raw files (.dng, .arw, ...) in that folder "
            "or pattern"
        )
    same_kind([("burst frame", str(p)) for p in files])
    return files


def same_kind(named: list[tuple[str, str | Path]]) -> None:
    """The inputs of one scene are all raw files or all images, by name (:data:`RAW_SUFFIXES
    <fnflight.data.raw_sources.RAW_SUFFIXES>`): a raw file is linear camera RGB rendered through its own
    colour matrix, an image is (s)RGB; mixed, the net would see two encodings and the output one wrong
    colour. Checked before any file is decoded."""
    from fnflight.data.raw_sources import is_raw_name

    raw = [(key, path) for key, path in named if is_raw_name(path)]
    image = [(key, path) for key, path in named if not is_raw_name(path)]
    if raw and image:
        (rk, rp), (ik, ip) = raw[0], image[0]
        raise EnhanceError(
            f"{rk}={rp} is a camera raw file but {ik}={ip} is an image: raw and image inputs cannot be "
            "mixed (give every input as raw files, or every one as images)"
        )


def enhance_burst(
    ckpt: str | Path,
    burst: str,
    out: str | Path,
    std_read: float | None = None,
    std_shot: float | None = None,
    bits: int | None = None,
    device: str | torch.device = "cpu",
    tile: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run a burst (KPN) checkpoint on the frames of ``burst`` in exact tiles (``tile``: window side in px,
    ``None``: :func:`fnflight.nets.tiling.default_tile`) and write the result (module docstring).

    Returns ``{"path", "height", "width", "format", "bits", "frames", "std_read", "std_shot"}``.
    """
    from fnflight.data import batch as K
    from fnflight.imaging import estimate_noise_levels, noise_std_map
    from fnflight.tasks.burst import BurstTask

    out, fmt, bits, task = _prepare(ckpt, out, bits, BurstTask, "burst", "model=kpn_burst")
    files = burst_files(burst)
    wanted = int(getattr(task.net, "frames", len(files)))
    if len(files) != wanted:
        raise EnhanceError(
            f"burst={burst}: {len(files)} frames, but checkpoint {str(ckpt)!r} takes {wanted} "
            f"({', '.join(p.name for p in files[:4])}{', ...' if len(files) > 4 else ''})"
        )
    read = [_read_frame("burst", p) for p in files]
    _same_depth([("burst frame", str(p), depth) for p, (_, depth, _) in zip(files, read)])
    _same_camera([("burst frame", str(p), info) for p, (_, _, info) in zip(files, read)])
    frames = [frame for frame, _, _ in read]
    for p, frame in zip(files[1:], frames[1:]):
        if frame.shape != frames[0].shape:
            raise EnhanceError(
                f"burst frame {p} is {tuple(frame.shape[1:])} (H, W) but the reference {files[0].name} is "
                f"{tuple(frames[0].shape[1:])}: every frame must have the reference's size"
            )
    color_matrix = _color_matrix(read[0][2])  # the reference frame's white balance and colours
    ref = frames[0][None]
    if std_read is None or std_shot is None:
        try:
            est_read, est_shot = (float(v) for v in estimate_noise_levels(ref))
        except ValueError as err:
            raise EnhanceError(
                f"burst={burst}: cannot estimate the noise ({err}); give std_read= std_shot="
            ) from None
        std_read = est_read if std_read is None else std_read
        std_shot = est_shot if std_shot is None else std_shot
    noise = (
        noise_std_map(ref, std_read, std_shot).square().mean(1, keepdim=True).sqrt()
    )  # as the training data
    device = torch.device(device)
    batch = {
        K.BURST: torch.stack(frames)[None].to(device),
        K.NOISE_STD: noise.to(device),
        K.GAIN: torch.ones(1, device=device),
        K.COLOR_MATRIX: color_matrix.to(device),
    }
    net = task.to(device).net
    linear = _run_tiled(net, [batch[K.BURST], batch[K.NOISE_STD]], tile, progress)
    with torch.no_grad():
        image = task.to_srgb({k: v.cpu() for k, v in batch.items()}, linear[None])[0]
    return {**_write(out, image, fmt, bits), "frames": len(files), "std_read": std_read, "std_shot": std_shot}


def upright(image: torch.Tensor, flip: int) -> torch.Tensor:
    """Turn a ``(3, H, W)`` rendering of the sensor grid the way the camera was held (LibRaw's ``flip``: 0
    none, 3 half a turn, 5 a quarter turn counter-clockwise, 6 clockwise), as photo viewers show the file.
    SID's references stay in sensor orientation (they must align with the mosaic); a user's output should not.

    Example:
        >>> x = torch.arange(6.0).reshape(1, 2, 3).expand(3, 2, 3)
        >>> upright(x, 6)[0].tolist()  # clockwise: the left column becomes the top row
        [[3.0, 0.0], [4.0, 1.0], [5.0, 2.0]]
    """
    turns = {3: 2, 5: 1, 6: -1}.get(int(flip), 0)
    return torch.rot90(image, turns, dims=(1, 2)) if turns else image


def _read_depth(key: str, path: str | Path) -> tuple[torch.Tensor, str]:
    """An image file as linear ``(3, H, W)`` (:func:`fnflight.data.sources.to_linear`: 8-bit sRGB
    linearised, 16-bit taken as linear) and its storage type (``uint8``, ``uint16``, ``float32``)."""
    from fnflight.data.sources import SourceError, decode_image, to_linear

    path = input_file(key, path)
    try:
        arr = decode_image(path)
    except (SourceError, OSError, ValueError) as err:
        raise EnhanceError(f"{key}={path}: cannot read this image ({err})") from None
    return torch.from_numpy(to_linear(arr).copy()).permute(2, 0, 1).float(), str(arr.dtype)


def _read(path: str, key: str = "image") -> torch.Tensor:
    return _read_depth(key, path)[0]


def _read_frame(key: str, path: str | Path) -> tuple[torch.Tensor, str, dict[str, Any] | None]:
    """One input of a pair or burst as linear ``(3, H, W)``, its storage type, and for a raw file (by name,
    :func:`fnflight.data.raw_sources.is_raw_name`) the decoder's info (camera, colour matrix, ...).

    Raw files go through THE shared decoder, :func:`fnflight.data.raw_sources.read_linear_camera_rgb` (that
    of ``raw=``), turned upright by their orientation flag like ``raw=`` outputs; images through
    :func:`_read_depth`. Errors are one line naming ``key=path``."""
    from fnflight.data.raw_sources import is_raw_name, read_linear_camera_rgb
    from fnflight.data.sources import SourceError

    path = input_file(key, path)
    if not is_raw_name(path):
        return (*_read_depth(key, path), None)
    try:
        image, info = read_linear_camera_rgb(path)
    except SourceError as err:
        message = str(err)
        message = message[len(str(path)) + 2 :] if message.startswith(f"{path}: ") else message
        raise EnhanceError(f"{key}={path}: {message}") from None
    rgb = upright(torch.from_numpy(image).permute(2, 0, 1), int(info["orientation"]))
    return rgb.contiguous(), "raw", info


def _same_camera(named: list[tuple[str, str, dict[str, Any] | None]]) -> None:
    """Raw inputs of one scene come from one camera: the name it writes (:func:`camera_name
    <fnflight.data.raw_sources.camera_name>`) where both files give one, else the sensor (CFA and colour
    matrix); two cameras' pixels differ in colour response, levels and geometry, and the output is rendered
    through one file's colour matrix."""
    raws = [(key, path, info) for key, path, info in named if info is not None]
    if len(raws) < 2:
        return
    key0, path0, info0 = raws[0]
    for key, path, info in raws[1:]:
        names = info0["camera"], info["camera"]
        if None not in names and names[0] != names[1]:
            differ = f"comes from camera {names[1]!r} but {key0}={path0} from {names[0]!r}"
        elif info["sensor"] != info0["sensor"]:
            differ = (
                f"has another sensor ({CFA_NAMES.get(info['cfa'], info['cfa'])} colour filters, its colour "
                f"matrix) than {key0}={path0} ({CFA_NAMES.get(info0['cfa'], info0['cfa'])})"
            )
        else:
            continue
        raise EnhanceError(f"{key}={path} {differ}: the raw files of one scene must come from one camera")


def _color_matrix(info: dict[str, Any] | None) -> torch.Tensor:
    """The batch's camera -> sRGB ``color_matrix`` ``(1, 3, 3)``: a raw file's (white balance included,
    :func:`fnflight.data.raw_sources.read_linear_camera_rgb`), else the identity (images are sRGB)."""
    if info is None:
        return torch.eye(3)[None]
    return torch.as_tensor(info["color_matrix"], dtype=torch.float32).reshape(1, 3, 3)


DEPTHS = {
    "uint8": "8-bit (sRGB, linearised)",
    "uint16": "16-bit (taken as linear)",
    "float32": "float (linear)",
    "raw": "a camera raw file (linear camera RGB)",
}


def _same_depth(named: list[tuple[str, str, str]]) -> None:
    """Inputs of one scene must share a bit depth: 8-bit files are read as sRGB and 16-bit ones as linear,
    so a mixed pair would reach the net at two different encodings."""
    (key0, path0, depth0), *rest = named
    for key, path, depth in rest:
        if depth != depth0:
            raise EnhanceError(
                f"{key0}={path0} is {DEPTHS.get(depth0, depth0)} but {key}={path} is "
                f"{DEPTHS.get(depth, depth)}: mixed bit depths are refused (save both at one depth)"
            )


def own_batch(opts: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The batch dict (B = 1) for the user's no-flash / flash files."""
    from fnflight.data import batch as K
    from fnflight.imaging import estimate_noise_levels, estimate_white_noise, noise_std_map

    same_kind([("noflash", opts["noflash"]), ("flash", opts["flash"])])
    noflash, depth_nf, info_nf = _read_frame("noflash", opts["noflash"])
    flash, depth_f, info_f = _read_frame("flash", opts["flash"])
    _same_depth([("noflash", opts["noflash"], depth_nf), ("flash", opts["flash"], depth_f)])
    _same_camera([("noflash", opts["noflash"], info_nf), ("flash", opts["flash"], info_f)])
    if noflash.shape != flash.shape:
        raise EnhanceError(
            f"noflash {tuple(noflash.shape[1:])} and flash {tuple(flash.shape[1:])} differ in size"
            + (" (H, W, upright)" if info_nf is not None else "")
        )
    if opts["noise"] == "estimate":  # read AND shot noise: a Poisson-Gaussian fit (Foi et al. 2008)
        try:
            std_read, std_shot = (float(v) for v in estimate_noise_levels(noflash[None]))
        except ValueError:  # too small or too clipped for the fit: white noise only (Donoho's MAD)
            std_read, std_shot = estimate_white_noise(noflash), 0.0
    else:
        std_read, std_shot = TEST_STD_READ, TEST_STD_SHOT
    std_read = opts.get("std_read", std_read) if opts.get("std_read") is not None else std_read
    std_shot = opts.get("std_shot", std_shot) if opts.get("std_shot") is not None else std_shot
    sr, ss = torch.tensor([std_read]), torch.tensor([std_shot])
    nf, f = noflash[None], flash[None]
    # auto: brighten a dark no-flash image to a mean of 0.18; never darken a brighter one (a well-exposed
    # real photo came out at gain 0.49, darker than the user took it)
    gain = max(1.0, 0.18 / max(float(noflash.mean()), 1e-4)) if opts["dim"] == "auto" else float(opts["dim"])
    return {
        K.NOFLASH: nf,
        K.FLASH: f,
        K.NOFLASH_STD: noise_std_map(nf, sr, ss),
        K.FLASH_STD: noise_std_map(f, sr, ss),
        K.GAIN: torch.tensor([gain]),
        K.DIM: torch.tensor([gain]),
        K.COLOR_MATRIX: _color_matrix(info_nf),  # the no-flash's white balance and colours: the output's
        K.STD_READ: sr,
        K.STD_SHOT: ss,
    }


def enhance_one(opts: dict[str, Any]) -> str:
    """Run one request of checked options (:func:`parse`) and write its output; returns the line to print.
    Raises the package's errors (each one line naming the problem); nothing is written then."""
    device = device_of(opts["device"])
    progress = show_progress()
    if opts["mode"] == "raw":
        info = enhance_raw(
            opts["ckpt"],
            opts["raw"],
            opts["ratio"],
            opts["out"],
            opts["tile"],
            opts["bits"],
            device,
            progress,
        )
        return (
            f"fnflight enhance: wrote {info['path']} ({info['width']}x{info['height']}, "
            f"{info['bits']}-bit {info['format'].upper()}; {info['cfa']} raw, ratio {info['ratio']:g})"
        )
    if opts["mode"] in ("shortlong", "burst"):
        if opts["mode"] == "shortlong":
            info = enhance_short_long(
                opts["ckpt"],
                opts["short"],
                opts["long"],
                opts["out"],
                opts["tile"],
                opts["bits"],
                device,
                progress,
            )
            what = ""
        else:
            info = enhance_burst(
                opts["ckpt"],
                opts["burst"],
                opts["out"],
                opts.get("std_read"),
                opts.get("std_shot"),
                opts["bits"],
                device,
                opts["tile"],
                progress,
            )
            noise = f"std_read {info['std_read']:.3g}, std_shot {info['std_shot']:.3g}"
            what = f"; {info['frames']} frames, {noise}"
        return (
            f"fnflight enhance: wrote {info['path']} ({info['width']}x{info['height']}, "
            f"{info['bits']}-bit {info['format'].upper()}{what})"
        )
    from fnflight.data import batch as K
    from fnflight.data.base import collate
    from fnflight.data.image_writer import write_image
    from fnflight.data.testset import TestSet
    from fnflight.evaluation.engine import as_batch
    from fnflight.evaluation.pictures import grid, to_uint8
    from fnflight.imaging.color import render_srgb
    from fnflight.model_io.checkpoint import method_name

    if opts["mode"] == "testset":
        testset = TestSet(opts["testset"])
        if not 0 <= opts["index"] < len(testset):
            raise EnhanceError(
                f"bad index={opts['index']}: the test set has {len(testset)} samples "
                f"(0 to {len(testset) - 1})"
            )
    else:
        batch = {k: v.to(device) for k, v in own_batch(opts).items()}
    task = _load_task(opts["ckpt"]).to(device)
    if _is_raw_task(task):
        raise EnhanceError(
            f"checkpoint {opts['ckpt']!r} is a raw low-light model ({method_name(task)}, "
            f"{getattr(task.net, 'cfa', '?')} raws): give raw=FILE ratio=R, not noflash= / flash= / "
            "testset="
        )
    if opts["mode"] == "testset":  # any task: its input preview | output | target (the task's rendering)
        batch = as_batch(collate([testset[opts["index"]]]), device)
        outputs = task.predict(batch)
        image = grid(task.sample_panels(batch, outputs), max_rows=1)
        path = write_image(Path(opts["out"]).expanduser(), to_uint8(image))
        return f"fnflight enhance: wrote {path} (input | output | target of test sample {opts['index']})"
    outputs = {"output": _fnf_output(task, batch, opts.get("tile"))}
    gain, cm = batch[K.GAIN], batch[K.COLOR_MATRIX]
    shown = [
        render_srgb(batch[K.NOFLASH], gain, cm, clip=True),
        render_srgb(outputs["output"].float(), gain, cm, clip=True),
    ]
    image = grid(shown, max_rows=1) if opts["compare"] else shown[1][0]
    info = _write(Path(opts["out"]).expanduser(), image.float().cpu(), opts["format"], opts["bits"])
    return (
        f"fnflight enhance: wrote {info['path']} ({info['width']}x{info['height']}, {info['bits']}-bit "
        f"{info['format'].upper()}; gain {float(gain[0]):.3g})"
    )


# with in=DIR every input runs through one loaded model: {checkpoint path: task} while a folder runs
_TASK_CACHE: dict[str, Any] | None = None


def _load_task(ckpt: str | Path):
    """:func:`fnflight.model_io.checkpoint.load_task`, once per checkpoint while a folder runs."""
    from fnflight.model_io.checkpoint import load_task

    if _TASK_CACHE is None:
        return load_task(ckpt)
    if str(ckpt) not in _TASK_CACHE:
        _TASK_CACHE[str(ckpt)] = load_task(ckpt)
    return _TASK_CACHE[str(ckpt)]


def help_text() -> str:
    return SCHEMA.help(__doc__)


@torch.no_grad()
def _run(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        print(help_text())
        return 0
    if any(a.startswith("in=") for a in argv):  # a folder of inputs: fnflight.cli.enhance_folder
        from fnflight.cli import enhance_folder

        return enhance_folder.run(argv)
    opts = parse(list(argv))
    print(enhance_one(opts))
    return 0


def run(argv: list[str]) -> int:
    """``fnflight enhance``: one line and exit 2 for a bad request, 130 / 143 when interrupted."""
    return guarded("enhance", _run, list(argv))


def _fnf_output(task: Any, batch: dict[str, torch.Tensor], tile: int | None) -> torch.Tensor:
    """The FnF net's linear output for a whole user image: the task's input preparation on the WHOLE image
    (the flash's exposure matching uses its global mean), then exact tiles where the net states its receptive
    field (:func:`fnflight.nets.tiling.tiled_forward`: split tiling for DeepFnF and no-flash only, whose
    basis pools the whole image), else one forward pass."""
    from fnflight.nets.tiling import tiled_forward

    if getattr(task.net, "receptive_field", None) is None:
        return task.predict(batch)["output"]

    def tiled(noflash, flash, noflash_std, flash_std, **_):  # the task's net, run in tiles
        out = tiled_forward(
            task.net, noflash, flash, noflash_std, flash_std, tile=tile, progress=show_progress()
        )
        return {"output": out}

    try:  # the task's prediction (exposure cap, input preparation on the whole image) with the tiled net
        return task.predict(batch, net=tiled)["output"]
    except ValueError as err:  # a tile too small for the net's receptive field
        raise _tile_error(tile, err) from None
