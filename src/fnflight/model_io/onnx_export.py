"""A trained net as an ONNX model (``fnflight export ckpt=PATH|model=NAME out=FILE.onnx``).

The graph is the net's forward, filtering op included: while it is traced the ops take their plain-torch
forms (:mod:`fnflight.ops.traceable`), so any ONNX runtime runs it. Its inputs are the net's arguments
(:meth:`~fnflight.tasks.base.EnhancementTask.export_inputs`: ``noflash, flash, noflash_std, flash_std`` for
flash/no-flash nets, ``burst, noise_std`` for KPN, ``short, long`` for LSD2, ``raw`` for SID); its one
output, ``output``, is the net's ``output``. Inputs a net ignores are not in the graph (no-flash only has
no ``flash``); the metadata's ``fnflight_inputs`` lists those it has.

Sizes: the batch is 1 (the predicted kernel bases are per sample, traced as a loop); height and width are
dynamic axes in multiples of the net's total stride, which the model's metadata states as ``size_multiple``
(32 for the Table 3 U-Nets; raw nets: of the packed size). The nets pad other sizes internally, and that
padding is fixed when traced, so reflect-pad an image to such a multiple before the runtime and crop after
(as ``fnflight enhance`` does). Metadata also holds ``fnflight_model`` (the model name) and
``fnflight_inputs`` (the input names in order).

The file is written to a temporary name and renamed, so a failed export leaves no partial file.
:func:`check_onnx` compares onnxruntime against torch (``max_abs_diff``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["ExportError", "check_onnx", "export_onnx", "size_multiple"]

OPSET = 17


class ExportError(RuntimeError):
    """The net could not be exported, or onnx / onnxruntime are missing."""


class _OutputOnly(nn.Module):
    """The net with positional inputs and its ``output`` tensor as the one result."""

    def __init__(self, net: nn.Module, names: list[str]) -> None:
        super().__init__()
        self.net, self.names = net, names

    def forward(self, *inputs: Tensor) -> Tensor:
        out = self.net(**dict(zip(self.names, inputs)))
        return out["output"] if isinstance(out, dict) else out


def size_multiple(task) -> int:
    """The multiple the exported model's height and width must be (the net's total stride)."""
    return int(getattr(task.net, "stride", 1))


def _example(task, size: int) -> dict[str, Tensor]:
    m = size_multiple(task)
    side = max(m, (size // m) * m)
    torch.manual_seed(0)
    return task.export_inputs(side, side)


def export_onnx(task, path: str | Path, name: str, size: int = 256) -> Path:
    """Trace ``task``'s net on ``size`` x ``size`` example inputs (rounded to the size multiple) and write
    ``path`` (module docstring); returns the path. :class:`ExportError` names what failed."""
    try:
        import onnx
    except ImportError:
        raise ExportError(
            "ONNX export needs the onnx package: pip install 'fnflight[export]' (onnx, onnxruntime)"
        ) from None
    path = Path(path)
    if path.suffix != ".onnx":
        raise ExportError(f"an ONNX file must end in .onnx, got {str(path)!r}")
    net = task.net.float().cpu().eval()
    inputs = _example(task, size)
    names = list(inputs)
    axes = {n: {inputs[n].ndim - 2: "height", inputs[n].ndim - 1: "width"} for n in names}
    axes["output"] = {2: "height_out", 3: "width_out"}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on Python ints in shape arithmetic
            torch.onnx.export(
                _OutputOnly(net, names),
                tuple(inputs.values()),
                str(tmp),
                input_names=names,
                output_names=["output"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,  # the TorchScript tracer: no onnxscript dependency
            )
        model = onnx.load(str(tmp))
        used = [i.name for i in model.graph.input]  # the exporter drops inputs a net ignores (nfonly: flash)
        meta = {
            "fnflight_model": name,
            "fnflight_inputs": ",".join(used),
            "size_multiple": str(size_multiple(task)),
        }
        for key, value in meta.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))
        tmp.replace(path)
    except ExportError:
        raise
    except Exception as err:  # the exporter raises many kinds; the user needs to know which step failed
        raise ExportError(f"cannot export {name} to ONNX: {type(err).__name__}: {err}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def check_onnx(path: str | Path, task, height: int, width: int) -> float:
    """Max abs difference between onnxruntime's output for ``path`` and the torch net's, on seeded inputs of
    ``height`` x ``width`` (multiples of :func:`size_multiple`)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError("checking an ONNX file needs onnxruntime: pip install 'fnflight[export]'") from None
    m = size_multiple(task)
    if height % m or width % m:
        raise ExportError(f"height and width must be multiples of {m} for this model, got {height} x {width}")
    torch.manual_seed(1)
    inputs = task.export_inputs(height, width)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    used = {i.name for i in session.get_inputs()}
    got = session.run(["output"], {k: v.numpy() for k, v in inputs.items() if k in used})[0]
    with torch.no_grad():
        want = _OutputOnly(task.net.float().cpu().eval(), list(inputs))(*inputs.values())
    return float((torch.from_numpy(got) - want).abs().max())
