"""Filtering-op benchmark: ours vs the naive per-pixel-kernel formulation, forward + backward.

``fnflight bench ops --json [key=value ...]`` prints one JSON object per case per line. Options (OmegaConf
dotlist): ``cases=[deepfnf,kpn,saecnn]``, ``repeats=5``, ``size=448``, ``j=90`` (basis size for deepfnf and
saecnn), ``frames=8`` (kpn), ``threads=null`` (torch default), ``device=cpu``, ``memory=true`` (peak
memory in fresh subprocesses), ``seed=0``.

Cases (batch 1, 3 colour channels, ``size x size``):

- ``deepfnf``: paper 000 eq. 4, J=90, K=15, d=4, both scales; naive = the authors' formulation (per-pixel
  kernels for both scales and patches of the image and its tent-filtered copy, multiplied and summed).
  Gradients for image, both bases and coeffs.
- ``deepfnf_train``: the same op as in DeepFnF training, where the filtered image (the noisy no-flash
  input) is a data leaf without gradient: gradients for both bases and coeffs only, on both sides.
- ``kpn``: per-pixel 5x5 kernels per colour channel per frame, N=8 frames summed; naive = unfold patches.
- ``saecnn``: paper 001 eq. 4-5, one-scale layers K = 15, 7, 3 (the net also gives the first a coarse
  kernel), J=90 per layer, one coefficient tensor shared by the layers (eq. 4 as written), per-pixel biases
  and residual weights; naive = explicit per-pixel kernels.

Measures: ``ours_ms``/``naive_ms`` median forward+backward wall time over ``repeats`` runs, interleaved in
this process; ``gflops`` = F x direct-convolution forward FLOPs / ours time (``2*C*J*K*K*H*W`` per basis
scale, ``2*N*C*K*K*H*W`` for kpn), F = 3 (forward + the two products of the backward) when the filtered
signal needs a gradient, F = 2 for ``deepfnf_train`` (forward + the basis/coefficient gradients; no image
gradient is computed), reported as ``flops_convention``; ``sgemm_gflops`` = float32 2048^3 matmul rate
measured just before the case; ``max_rel_err`` = max |ours - naive| / max |naive| over the output and every
input gradient. Peak memory: on CPU each side runs once in a fresh subprocess and reports the growth of its
peak RSS (``VmHWM``, reset before the run) over the RSS after building the inputs and a small warm-up; on
CUDA ``max_memory_allocated`` growth.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from omegaconf import OmegaConf

from fnflight.ops import kernel_field_filter, multilayer_filter, two_scale_basis_filter
from fnflight.ops import reference as ref

DEFAULTS = {
    "cases": ["deepfnf", "deepfnf_train", "kpn", "saecnn"],
    "repeats": 5,
    "size": 448,
    "j": 90,
    "frames": 8,
    "threads": None,
    "device": "cpu",
    "memory": True,
    "seed": 0,
}
KEYS = (
    "case",
    "ours_ms",
    "naive_ms",
    "speedup",
    "ours_peak_mb",
    "naive_peak_mb",
    "gflops",
    "sgemm_gflops",
    "roofline_fraction",
    "max_rel_err",
    "flops_convention",
    "device",
    "threads",
    "repeats",
)


class Case:
    """Inputs (leaf tensors requiring grad), the two implementations and the useful forward FLOPs."""

    def __init__(self, name: str, cfg, device: torch.device) -> None:
        g = torch.Generator().manual_seed(int(cfg.seed))
        s, j, c = int(cfg.size), int(cfg.j), 3

        def r(*shape, scale=1.0):
            return (scale * torch.randn(*shape, generator=g)).to(device)

        self.name = name
        self.flops_factor, no_grad = 3, ()
        if name in ("deepfnf", "deepfnf_train"):
            k, d = min(15, (s - 1) // 4 * 2 - 1), 4  # K=15 at full size; tiny sizes shrink K to fit reflect
            k = max(k, 3) if k % 2 else max(k - 1, 3)
            self.inputs = [
                r(1, c, s, s),
                r(1, j, c, k, k, scale=0.05),
                r(1, j, c, k, k, scale=0.05),
                r(1, j, s, s),
            ]
            self.ours = lambda x, a, b, co: two_scale_basis_filter(x, a, b, co, d)
            self.naive = lambda x, a, b, co: ref.two_scale_basis_filter_reference(x, a, b, co, d)
            self.flops = 2 * (2 * c * j * k * k * s * s)
            self.info = {"J": j, "K": k, "dilation": d, "size": s}
            if name == "deepfnf_train":
                self.flops_factor, no_grad = 2, (0,)  # the image is data: no image gradient
        elif name == "kpn":
            n, k = int(cfg.frames), 5
            self.inputs = [r(1, n, c, s, s), r(1, n, c, k * k, s, s, scale=0.1)]
            self.ours, self.naive = kernel_field_filter, ref.kernel_field_filter_reference
            self.flops = 2 * n * c * k * k * s * s
            self.info = {"N": n, "K": k, "Ck": c, "size": s}
        elif name == "saecnn":
            sizes = [k for k in (15, 7, 3) if (k - 1) // 2 < s]
            self.inputs = [r(1, c, s, s), r(1, j, s, s)]
            self.inputs += [r(1, j, c, k, k, scale=0.02) for k in sizes]
            self.inputs += [r(1, 1, s, s, scale=0.01) for _ in sizes] + [r(1, 1, s, s) for _ in sizes]
            nl = len(sizes)

            def split(args):
                x, co, rest = args[0], args[1], args[2:]
                return x, list(rest[:nl]), [co] * nl, list(rest[nl : 2 * nl]), list(rest[2 * nl :])

            self.ours = lambda *a: multilayer_filter(*split(a))
            self.naive = lambda *a: ref.multilayer_filter_reference(*split(a))
            self.flops = sum(2 * c * j * k * k * s * s for k in sizes)
            self.info = {"J": j, "K": sizes, "size": s, "coeffs": "shared"}
        else:
            raise ValueError(f"unknown case {name!r}; valid: deepfnf, deepfnf_train, kpn, saecnn")
        for i, t in enumerate(self.inputs):
            t.requires_grad_(i not in no_grad)
        self.grad_out = torch.randn(1, c, s, s, generator=g).to(device)

    def run(self, side: str) -> list[torch.Tensor]:
        """Forward + backward once; returns [output, *input grads] (detached)."""
        for t in self.inputs:
            t.grad = None
        out = (self.ours if side == "ours" else self.naive)(*self.inputs)
        out.backward(self.grad_out)
        res = [out.detach()] + [t.grad for t in self.inputs if t.requires_grad]
        for t in self.inputs:
            t.grad = None
        return res


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def sgemm_gflops(device: torch.device, repeats: int = 5, n: int = 2048) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    return 2 * n**3 / statistics.median(_timed(lambda: a @ b, device) for _ in range(repeats)) / 1e9


def peak_mb(case_name: str, side: str, cfg) -> float | None:
    """Peak memory growth of one forward+backward of ``side``, measured in a fresh subprocess."""
    args = [sys.executable, "-m", "fnflight.bench.ops", "--worker", case_name, side, json.dumps(_plain(cfg))]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"[bench ops] memory worker {case_name}/{side} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_mb"]


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss_kib() -> int:
    """Reset the RSS high-water mark to the current RSS (Linux ``clear_refs`` 5) and return the baseline.

    ``ru_maxrss`` cannot be used as is: Linux carries the parent's RSS at fork over ``execve`` into the
    child's ``ru_maxrss``, so a child forked from a large benchmark process starts with that as its peak.
    ``VmHWM`` belongs to the new address space and can be reset.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kib("VmRSS") or 0
    except OSError:  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS) over the baseline
        scale = 1024 if sys.platform == "darwin" else 1
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // scale


def _peak_rss_kib() -> int:
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm
    scale = 1024 if sys.platform == "darwin" else 1
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // scale


def _worker(case_name: str, side: str, cfg_json: str) -> None:
    cfg = OmegaConf.create(json.loads(cfg_json))
    device = torch.device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    # warm-up on a tiny copy of the case: loads kernels/libraries so they do not count as the op's memory
    small = Case(case_name, OmegaConf.merge(cfg, {"size": 40, "j": 4, "frames": 2}), device)
    small.run(side)
    case = Case(case_name, cfg, device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        case.run(side)
        torch.cuda.synchronize(device)
        peak = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    else:
        base = _reset_peak_rss_kib()
        case.run(side)
        peak = (_peak_rss_kib() - base) / 1024
    print(json.dumps({"peak_mb": round(peak, 1)}))


def _plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)


def bench_case(name: str, cfg, device: torch.device) -> dict:
    case = Case(name, cfg, device)
    repeats = int(cfg.repeats)
    ours, naive = case.run("ours"), case.run("naive")  # warm-up, and the accuracy check
    scale = max(max(float(v.abs().max()) for v in naive), 1e-30)
    err = max(
        float((a - b).abs().max()) / max(float(b.abs().max()), 1e-30 * scale) for a, b in zip(ours, naive)
    )
    del ours, naive
    t_ours, t_naive = [], []
    for _ in range(repeats):  # interleaved so that machine noise hits both sides alike
        t_ours.append(_timed(lambda: case.run("ours"), device))
        t_naive.append(_timed(lambda: case.run("naive"), device))
    ours_s, naive_s = statistics.median(t_ours), statistics.median(t_naive)
    sgemm = sgemm_gflops(device, max(3, repeats))
    gflops = case.flops_factor * case.flops / ours_s / 1e9
    ours_mb = naive_mb = None
    if cfg.memory:
        ours_mb, naive_mb = peak_mb(name, "ours", cfg), peak_mb(name, "naive", cfg)
    return {
        "case": name,
        "ours_ms": round(ours_s * 1e3, 1),
        "naive_ms": round(naive_s * 1e3, 1),
        "speedup": round(naive_s / ours_s, 2),
        "ours_peak_mb": ours_mb,
        "naive_peak_mb": naive_mb,
        "gflops": round(gflops, 1),
        "sgemm_gflops": round(sgemm, 1),
        "roofline_fraction": round(gflops / sgemm, 3),
        "max_rel_err": float(f"{err:.3g}"),
        "flops_convention": f"{case.flops_factor}x forward",
        "device": str(device),
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        **case.info,
    }


def run(overrides: list[str] | None = None, json_out: bool = True) -> int:
    """Run the cases and print one JSON line per case (``json_out``) or a readable line."""
    from fnflight.cli.arguments import parse_overrides

    cfg = OmegaConf.create(parse_overrides(DEFAULTS, overrides or []))  # the one argument layer's rules
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    device = torch.device(cfg.device)
    for name in cfg.cases:
        row = bench_case(str(name), cfg, device)
        if json_out:
            print(json.dumps(row), flush=True)
        else:
            print("  ".join(f"{k}={row[k]}" for k in KEYS), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - memory worker entry point
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        os.environ.setdefault("PYTHONWARNINGS", "ignore")
        _worker(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(run(sys.argv[1:]))
