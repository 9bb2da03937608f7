"""``fnflight export ckpt=PATH|model=NAME out=FILE.pt|FILE.onnx``: a trained model as a weights-only file or
as an ONNX model.

- ``out=FILE.pt``: the net's tensors and the model config as text
  (:func:`fnflight.model_io.checkpoint.save_weights`); loads with ``torch.load(weights_only=True)`` (no
  code is unpickled) and works wherever a checkpoint does (``fnflight eval ckpt=FILE.pt``, ``fnflight enhance
  ckpt=FILE.pt``). ``dtype=float16`` halves the file (the shipped models are stored so).
- ``out=FILE.onnx``: the net, filtering op included, as ONNX (:mod:`fnflight.model_io.onnx_export`: batch 1,
  dynamic height and width in multiples of the net's stride, stated in the model's metadata), traced on
  ``size`` x ``size`` inputs (default 256) and then checked: onnxruntime against torch on
  ``size`` x ``size`` inputs; the difference is printed (``check=false`` skips it).

``model=NAME`` is a shipped model (``fnflight models``); ``ckpt=PATH`` a checkpoint of ``fnflight train`` or
an exported ``.pt``. A failed or interrupted export leaves no partial file; an existing ``out`` is replaced
only with ``overwrite=true`` (every command's rule), and its folder is checked before any work.
"""

from __future__ import annotations

from pathlib import Path

from fnflight.cli.arguments import ArgumentError, Key, Schema, check_output_file, guarded

SCHEMA = Schema(
    "export",
    [
        Key("ckpt", str, None, "a checkpoint of fnflight train or an exported .pt"),
        Key("model", str, None, "a shipped model instead of ckpt= (fnflight models lists them)"),
        Key("out", str, None, "the output file: .pt (weights only) or .onnx"),
        Key("dtype", str, "float32", "the stored weights' type (.pt only)", choices=("float32", "float16")),
        Key(
            "size", int, 256, "side of the example inputs the ONNX graph is traced and checked on, px", low=1
        ),
        Key("check", bool, True, "compare onnxruntime with torch after the export (.onnx)"),
        Key("overwrite", bool, False, "replace an existing out= file (refused otherwise)"),
    ],
    usage="fnflight export ckpt=PATH|model=NAME out=FILE.pt|FILE.onnx [dtype=float32|float16] [size=256]",
    examples=(
        "fnflight export model=lsd2 out=lsd2.onnx",
        "fnflight export ckpt=runs/deepfnf_small/checkpoints/best.ckpt out=deepfnf_small.pt dtype=float16",
    ),
)
USAGE = "usage: " + SCHEMA.usage


def _run(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        print(SCHEMA.help(__doc__))
        return 0
    opts = SCHEMA.parse(argv)
    if not opts.get("out"):
        raise ArgumentError(f"give out= and one of ckpt= or model=; {USAGE}")
    out = Path(opts["out"]).expanduser()
    if out.suffix not in (".pt", ".onnx"):
        raise ArgumentError(f"bad out={opts['out']}: must end in .pt (weights only) or .onnx")
    if out.suffix == ".onnx" and "dtype" in opts.given:
        raise ArgumentError(f"dtype={opts['dtype']} is for .pt files only (ONNX is exported in float32)")
    from fnflight.models import checkpoint_path

    try:
        ckpt = checkpoint_path(opts.get("ckpt"), opts.get("model"))
    except ValueError as err:  # ModelNotFoundError included
        raise ArgumentError(str(err)) from None
    if not Path(ckpt).expanduser().exists():  # the cheapest problem first
        raise ArgumentError(f"checkpoint {ckpt!r} does not exist")
    check_output_file(out, "out", overwrite=opts["overwrite"], parents=True)  # before any work

    import torch

    from fnflight.model_io.checkpoint import load_task, method_name, save_weights

    task = load_task(ckpt)
    if out.suffix == ".pt":
        dtype = {"float32": None, "float16": torch.float16}[opts["dtype"]]
        path = save_weights(task, out, dtype=dtype)
        print(f"fnflight export: wrote {path} ({path.stat().st_size / 2**20:.1f} MB)")
        return 0
    from fnflight.model_io.onnx_export import ExportError, check_onnx, export_onnx, size_multiple

    size = opts["size"]
    try:
        path = export_onnx(task, out, opts.get("model") or method_name(task), size=size)
    except ExportError as err:  # a net or size the exporter cannot take: one line
        raise ArgumentError(str(err)) from None
    m = size_multiple(task)
    print(
        f"fnflight export: wrote {path} ({path.stat().st_size / 2**20:.1f} MB; batch 1, height and "
        f"width any multiple of {m})"
    )
    if opts["check"]:
        side = max(m, (size // m) * m)
        diff = check_onnx(path, task, side, side)
        print(f"fnflight export: onnxruntime matches torch to {diff:.2e} (max abs) on {side} x {side}")
    return 0


def run(argv: list[str]) -> int:
    """``fnflight export``: one line and exit 2 for a bad request, 130 / 143 when interrupted (no partial
    file: both writers go through a temporary renamed into place)."""
    return guarded("export", _run, list(argv))
