"""``fnflight export ckpt=PATH|model=NAME out=FILE.pt|FILE.onnx``: a trained model as a weights-only file or
as an ONNX model.

- ``out=FILE.pt``: the net's tensors and the model config as text
  (:func:`fnflight.tasks.checkpoint.save_weights`); loads with ``torch.load(weights_only=True)`` (no code is
  unpickled) and works wherever a checkpoint does (``fnflight eval ckpt=FILE.pt``, ``fnflight enhance
  ckpt=FILE.pt``). ``dtype=float16`` halves the file (the shipped models are stored so).
- ``out=FILE.onnx``: the net, filtering op included, as ONNX (:mod:`fnflight.tasks.onnx_export`: batch 1,
  dynamic height and width in multiples of the net's stride, stated in the model's metadata), traced on
  ``size`` x ``size`` inputs (default 256) and then checked: onnxruntime against torch on
  ``size`` x ``size`` inputs; the difference is printed (``check=false`` skips it).

``model=NAME`` is a shipped model (``fnflight models``); ``ckpt=PATH`` a checkpoint of ``fnflight train`` or
an exported ``.pt``. A failed export leaves no partial file.
"""

from __future__ import annotations

import sys
from pathlib import Path

USAGE = "usage: fnflight export ckpt=PATH|model=NAME out=FILE.pt|FILE.onnx [dtype=float32|float16] [size=256]"
KEYS = ("ckpt", "model", "out", "dtype", "size", "check")


def run(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        print(__doc__)
        return 0
    import torch

    from fnflight.models import checkpoint_path
    from fnflight.tasks.checkpoint import CheckpointError, load_task, method_name, save_weights

    opts: dict[str, str] = {}
    for item in argv:
        key, sep, value = item.partition("=")
        if not sep or key not in KEYS:
            print(
                f"fnflight export: bad argument {item!r}; valid keys: {', '.join(KEYS)}; {USAGE}",
                file=sys.stderr,
            )
            return 2
        opts[key] = value
    if not opts.get("out"):
        print(f"fnflight export: give out= and one of ckpt= or model=; {USAGE}", file=sys.stderr)
        return 2
    out = Path(opts["out"])
    if out.suffix not in (".pt", ".onnx"):
        print(
            f"fnflight export: out must end in .pt (weights only) or .onnx, got {opts['out']!r}",
            file=sys.stderr,
        )
        return 2
    dtypes = {"float32": None, "float16": torch.float16}
    if opts.get("dtype", "float32") not in dtypes or (out.suffix == ".onnx" and "dtype" in opts):
        print(
            f"fnflight export: dtype= is float32 or float16, for .pt files only; got {opts.get('dtype')!r}",
            file=sys.stderr,
        )
        return 2
    try:
        size = int(opts.get("size", 256))
        if size < 1:
            raise ValueError
    except ValueError:
        print(f"fnflight export: bad size={opts['size']!r}: a positive number of pixels", file=sys.stderr)
        return 2
    if opts.get("check", "true").lower() not in ("true", "false", "1", "0"):
        print(f"fnflight export: bad check={opts['check']!r}; valid: true, false", file=sys.stderr)
        return 2
    try:
        ckpt = checkpoint_path(opts.get("ckpt"), opts.get("model"))
        task = load_task(ckpt)
        if out.suffix == ".pt":
            path = save_weights(task, out, dtype=dtypes[opts.get("dtype", "float32")])
            print(f"fnflight export: wrote {path} ({path.stat().st_size / 2**20:.1f} MB)")
            return 0
        from fnflight.tasks.onnx_export import ExportError, check_onnx, export_onnx, size_multiple

        try:
            path = export_onnx(task, out, opts.get("model") or method_name(task), size=size)
            m = size_multiple(task)
            print(
                f"fnflight export: wrote {path} ({path.stat().st_size / 2**20:.1f} MB; batch 1, height and "
                f"width any multiple of {m})"
            )
            if opts.get("check", "true").lower() in ("true", "1"):
                side = max(m, (size // m) * m)
                diff = check_onnx(path, task, side, side)
                print(
                    f"fnflight export: onnxruntime matches torch to {diff:.2e} (max abs) on {side} x {side}"
                )
        except ExportError as err:
            print(f"fnflight export: {err}", file=sys.stderr)
            return 2
    except (CheckpointError, ValueError) as err:  # ModelNotFoundError is a ValueError
        print(f"fnflight export: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"fnflight export: cannot write {out}: {err}", file=sys.stderr)
        return 2
    return 0
