"""Full-resolution inference benchmark (``fnflight bench enhance``): one JSON line per case.

Each case runs in a FRESH subprocess (so its peak memory is its own) the net of a shipped or paper model on
a full-size input through :func:`fnflight.nets.tiling.tiled_forward`, the path of ``fnflight enhance``,
and reports:

- ``case``, ``megapixels`` (output pixels / 1e6), ``tiles`` (windows of the full frame), ``tile``;
- ``seconds``: wall time of the full-frame tiled forward (median of ``repeats``);
- ``peak_mb``: the subprocess's peak resident memory (VmHWM) during that run, everything included (Python,
  torch, the input, the assembled output and the 16-bit output array a writer would save);
- ``max_abs_diff_vs_untiled``: max |tiled - untiled| on a centre crop of ``check_size`` input px, where the
  untiled forward fits in memory, with the same tile size; ``check_tiles``: the tiles of that crop (a check
  over one tile would be trivially exact);
- ``roofline_fraction``: the net's multiply-adds on the full frame (2 FLOPs each; convolutions and matrix
  products, :func:`macs_per_pixel`; halo overhead and the second tiling pass NOT counted: useful work only)
  per second, over this machine's float32 2048^3 matmul rate measured in the same subprocess.

Cases (:data:`CASES`): ``sid_full_sony``: the paper-width SID U-Net (7.76M parameters, seeded random
weights: speed and memory do not depend on the values) on a full Sony alpha 7S II frame, 4240 x 2832 Bayer
= 2120 x 1416 packed, 4 channels; ``sid_12mp``, ``lsd2_12mp``, ``kpn_burst_12mp``: the shipped models
(:mod:`fnflight.models`) on 12-megapixel inputs (4000 x 3000 output px; KPN: 8 frames); ``deepfnf_12mp``,
``nfonly_12mp``: the shipped flash/no-flash models on a 12 MP pair; ``sid_tiny``: a tiny net and frame for
tests. The Table 3 U-Nets (KPN burst, DeepFnF, no-flash only) run in split tiling (their coarse levels on the
whole image, :mod:`fnflight.nets.tiling`), SID and LSD2 in plain tiles.
Options: ``cases=[sid_full_sony]``, ``tile=null`` (the net's default tile, as ``fnflight enhance``),
``split=null`` (the default split level; ``0``: plain tiles for a net without a global basis),
``repeats=1``, ``check_size=null`` (a core and half a window: the check crosses 2 x 2 tiles),
``threads=null``, ``seed=0``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

import torch
from torch import nn

__all__ = ["CASES", "count_macs", "macs_per_pixel", "run"]

DEFAULTS: dict[str, Any] = {
    "cases": ["sid_full_sony"],
    "tile": None,  # None: fnflight.nets.tiling.default_tile (512 px cores + the receptive-field halo)
    "repeats": 1,
    "check_size": None,  # None: a core and a half-window, so that the check runs over 2 x 2 tiles
    "split": None,  # None: split tiling's default level for the nets that support it (fnflight.nets.tiling)
    "threads": None,
    "seed": 0,
}


def _sid_full_sony(seed: int) -> tuple[nn.Module, list[torch.Tensor]]:
    from fnflight.nets.sid import SIDUNet

    torch.manual_seed(seed)
    net = SIDUNet(cfa="bayer", width=1.0).eval()
    g = torch.Generator().manual_seed(seed)
    # an amplified dark capture: x100 of values up to 1% of the white level
    raw = (torch.rand(1, 4, 1416, 2120, generator=g) * 0.01 * 100.0).clamp(max=1.0)
    return net, [raw]


def _sid_tiny(seed: int) -> tuple[nn.Module, list[torch.Tensor]]:
    """A tiny stand-in (3 levels, 1/16 width, 200 x 160 packed) so tests can run the benchmark's path."""
    from fnflight.nets.sid import SIDUNet

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    return SIDUNet(width=1 / 16, depth=3).eval(), [torch.rand(1, 4, 200, 160, generator=g)]


def _shipped(name: str) -> nn.Module:
    from fnflight.model_io.checkpoint import load_task
    from fnflight.models import resolve

    return load_task(resolve(name)).net.float().eval()


# 12 megapixels of output: 4000 x 3000
MP12 = (3000, 4000)


def _sid_12mp(seed: int) -> tuple[nn.Module, list[torch.Tensor]]:
    """The shipped ``sid`` (Bayer) on a 12 MP frame: 2000 x 1500 packed, 4 channels (an x100 dark capture)."""
    g = torch.Generator().manual_seed(seed)
    raw = (torch.rand(1, 4, MP12[0] // 2, MP12[1] // 2, generator=g) * 0.01 * 100.0).clamp(max=1.0)
    return _shipped("sid"), [raw]


def _lsd2_12mp(seed: int) -> tuple[nn.Module, list[torch.Tensor]]:
    """The shipped ``lsd2`` on a 12 MP short / long pair."""
    g = torch.Generator().manual_seed(seed)
    return _shipped("lsd2"), [torch.rand(1, 3, *MP12, generator=g) for _ in range(2)]


def _kpn_burst_12mp(seed: int) -> tuple[nn.Module, list[torch.Tensor]]:
    """The shipped ``kpn_burst`` on a 12 MP burst of its 8 frames and the noise-estimate map."""
    g = torch.Generator().manual_seed(seed)
    net = _shipped("kpn_burst")
    burst = torch.rand(1, int(net.frames), 3, *MP12, generator=g)
    return net, [burst, torch.full((1, 1, *MP12), 0.02)]


def _fnf_12mp(name: str, seed: int) -> tuple[nn.Module, list[torch.Tensor]]:
    """A shipped flash/no-flash model on a 12 MP pair as its net sees it (the flash at the no-flash exposure,
    :func:`fnflight.tasks.fnf.fnf_inputs`) and the noise std maps of paper 000's test level at dim 25."""
    from fnflight.imaging import noise_std_map

    g = torch.Generator().manual_seed(seed)
    noflash = torch.rand(1, 3, *MP12, generator=g) * 0.04
    flash = torch.rand(1, 3, *MP12, generator=g) * 0.04
    sr, ss = torch.tensor([10**-2.6]), torch.tensor([10**-1.8])
    return _shipped(name), [noflash, flash, noise_std_map(noflash, sr, ss), noise_std_map(flash, sr, ss)]


def _deepfnf_12mp(seed: int) -> tuple[nn.Module, list[torch.Tensor]]:
    """The shipped ``deepfnf`` on a 12 MP flash/no-flash pair."""
    return _fnf_12mp("deepfnf", seed)


def _nfonly_12mp(seed: int) -> tuple[nn.Module, list[torch.Tensor]]:
    """The shipped ``nfonly`` (no-flash only) on a 12 MP pair."""
    return _fnf_12mp("nfonly", seed)


# case name -> builder(seed) -> (net, full-size inputs)
CASES = {
    "sid_full_sony": _sid_full_sony,
    "sid_12mp": _sid_12mp,
    "lsd2_12mp": _lsd2_12mp,
    "kpn_burst_12mp": _kpn_burst_12mp,
    "deepfnf_12mp": _deepfnf_12mp,
    "nfonly_12mp": _nfonly_12mp,
    "sid_tiny": _sid_tiny,
}


def count_macs(net: nn.Module, inputs: list[torch.Tensor]) -> int:
    """Multiply-adds of one forward of ``net(*inputs)``: half the FLOPs torch's FlopCounterMode counts in
    convolutions and matrix products (so the kernel-basis filters of DeepFnF, which run as matrix products,
    count too; the elementwise tap loop of the per-pixel kernel filters does not).

    >>> count_macs(nn.Conv2d(2, 3, 3, padding=1), [torch.zeros(1, 2, 4, 4)])
    864
    """
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(*inputs)
    return int(counter.get_total_flops()) // 2


def macs_per_pixel(net: nn.Module, inputs: list[torch.Tensor], sizes: tuple[int, int] = (64, 128)) -> float:
    """Multiply-adds per input pixel that grow with the image: from two crops of ``sizes`` px, so the
    per-image work (DeepFnF's basis decoder on 16 x 16 maps of global pools) is not counted per pixel."""
    small, large = (count_macs(net, [x[..., :n, :n] for x in inputs]) for n in sizes)
    return (large - small) / (sizes[1] ** 2 - sizes[0] ** 2)


def _worker(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    from fnflight.bench.ops import _peak_rss_kib, _reset_peak_rss_kib, sgemm_gflops
    from fnflight.nets.tiling import default_tile, split_level, tile_count, tiled_forward, tiling_halo

    if cfg["threads"]:
        torch.set_num_threads(int(cfg["threads"]))
    net, inputs = CASES[name](int(cfg["seed"]))
    split = split_level(net, cfg["split"])
    tile = default_tile(net, split=split) if cfg["tile"] is None else int(cfg["tile"])
    halo, _ = tiling_halo(net, split)
    scale = int(getattr(net, "upscale", 1))
    small = [x[..., :64, :64] for x in inputs]
    macs_per_px = macs_per_pixel(net, inputs)
    tiled_forward(
        net, *small, tile=tile, split=split
    )  # warm-up: kernels and libraries load before the peak is reset
    _reset_peak_rss_kib()
    times = []
    for _ in range(int(cfg["repeats"])):
        t0 = time.perf_counter()
        out = tiled_forward(net, *inputs, tile=tile, split=split)
        # what a 16-bit writer holds next to the output
        array = (out[0].clamp(0, 1) * 65535 + 0.5).to(torch.int32).permute(1, 2, 0).numpy().astype("uint16")
        times.append(time.perf_counter() - t0)
        del out, array
    peak_mb = _peak_rss_kib() / 1024
    seconds = statistics.median(times)
    h, w = inputs[0].shape[-2:]
    tiles = tile_count(net, (h, w), tile, split)
    # exactness on a centre crop where the untiled forward fits; by default one of 2 x 2 tiles' cores and
    # a halo, so that the check crosses tile seams
    c = int(cfg["check_size"] or (tile - 2 * halo) + tile // 2)
    top, left = max(0, (h - c) // 2), max(0, (w - c) // 2)
    crop = [x[..., top : top + c, left : left + c] for x in inputs]
    check_tiles = tile_count(net, tuple(crop[0].shape[-2:]), tile, split)
    with torch.no_grad():
        ref = net(*crop)["output"]
    diff = float((tiled_forward(net, *crop, tile=tile, split=split) - ref).abs().max())
    gflops = 2.0 * macs_per_px * h * w / seconds / 1e9
    sgemm = sgemm_gflops(torch.device("cpu"))
    return {
        "case": name,
        "megapixels": round(h * w * scale * scale / 1e6, 2),
        "seconds": round(seconds, 2),
        "peak_mb": round(peak_mb, 1),
        "max_abs_diff_vs_untiled": float(f"{diff:.3g}"),
        "tiles": tiles,
        "tile": tile,
        "halo": halo,
        "split": split,
        "check_size": c,
        "check_tiles": check_tiles,
        "input": list(inputs[0].shape),
        "gflops": round(gflops, 1),
        "sgemm_gflops": round(sgemm, 1),
        "roofline_fraction": round(gflops / sgemm, 3),
        "threads": torch.get_num_threads(),
        "repeats": int(cfg["repeats"]),
    }


def run(overrides: list[str] | None = None, json_out: bool = True) -> int:
    """Run each case in a fresh subprocess; print one JSON line per case (``json_out``) or key=value text."""
    from fnflight.cli.arguments import parse_overrides

    plain = parse_overrides(DEFAULTS, overrides or [], {"cases": list(CASES)})  # the one argument layer
    for name in plain["cases"]:
        args = [sys.executable, "-m", "fnflight.bench.enhance", "--worker", name, json.dumps(plain)]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"fnflight bench enhance: case {name} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
            return 1
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(row) if json_out else "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - worker entry point
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        print(json.dumps(_worker(sys.argv[2], json.loads(sys.argv[3]))))
    else:
        sys.exit(run(sys.argv[1:]))
