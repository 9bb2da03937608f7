"""ONNX export of every net family (filtering ops through their plain-torch forms): onnxruntime must match
torch to 1e-4 at the traced size and at another size (height and width are dynamic axes)."""

from __future__ import annotations

import onnx
import pytest
import torch

from fnflight.model_io.onnx_export import ExportError, check_onnx, export_onnx
from fnflight.nets.deepfnf import DeepFnF
from fnflight.nets.fnf_baselines import BPN, DirectPrediction, KPNPair, NoFlashOnly
from fnflight.nets.kpn_burst import KPNBurst
from fnflight.nets.lsd2 import LSD2UNet
from fnflight.nets.saecnn import SAECNN
from fnflight.nets.sid import SIDUNet
from fnflight.tasks.burst import BurstTask
from fnflight.tasks.fnf import FlashNoFlashTask
from fnflight.tasks.raw_lowlight import RawLowLightTask
from fnflight.tasks.short_long import ShortLongTask

W = 1 / 16
NETS = {
    "deepfnf": lambda: FlashNoFlashTask(net=DeepFnF(num_basis=4, width=W)),
    "nfonly": lambda: FlashNoFlashTask(net=NoFlashOnly(num_basis=4, width=W)),
    "bpn": lambda: FlashNoFlashTask(net=BPN(num_basis=4, width=W)),
    "kpn_pair": lambda: FlashNoFlashTask(net=KPNPair(width=W)),
    "direct": lambda: FlashNoFlashTask(net=DirectPrediction(width=W)),
    "saecnn": lambda: FlashNoFlashTask(net=SAECNN(num_basis=4, width=W)),
    "kpn_burst": lambda: BurstTask(net=KPNBurst(frames=3, width=W)),
    "lsd2": lambda: ShortLongTask(net=LSD2UNet(width=W)),
    "sid": lambda: RawLowLightTask(net=SIDUNet(width=W)),
}


@pytest.mark.parametrize("name", list(NETS))
def test_onnx_matches_torch_at_two_sizes(name, tmp_path):
    torch.manual_seed(0)
    task = NETS[name]().eval()
    path = export_onnx(task, tmp_path / f"{name}.onnx", name, size=64)
    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    names = [n for n in task.export_inputs(32, 32) if n in {i.name for i in model.graph.input}]
    assert meta["fnflight_model"] == name and meta["fnflight_inputs"] == ",".join(names)
    assert names[0] in ("noflash", "burst", "short", "raw")
    m = int(meta["size_multiple"])
    assert check_onnx(path, task, 64, 64) <= 1e-4
    assert check_onnx(path, task, 2 * m, 3 * m) <= 1e-4  # another size: H and W are dynamic
    assert not list(tmp_path.glob(".*partial"))


def test_export_errors(tmp_path):
    task = NETS["lsd2"]()
    with pytest.raises(ExportError, match="must end in .onnx"):
        export_onnx(task, tmp_path / "x.pt", "lsd2")
    path = export_onnx(task, tmp_path / "x.onnx", "lsd2", size=32)
    with pytest.raises(ExportError, match="multiples of"):
        check_onnx(path, task, 40, 64)
