"""Training-step benchmark (``fnflight bench train``): one JSON line per case.

Why: every shipped model was trained on a CPU budget, so each training step made faster is quality a user
gets; this measures the step as ``fnflight train`` runs it, to find where its time goes and how far it is
from the machine's matmul rate.

Each case runs in a FRESH subprocess (its peak memory and thread setting are its own). The config is
composed exactly as ``fnflight train model=MODEL`` composes it (:func:`fnflight.config.compose`: the model's
``default_data``, its ``data_args``), the DataModule and the task are built by
:func:`fnflight.training.run.build_datamodule` / :func:`~fnflight.training.run.build_task`, and a real
Lightning ``Trainer`` fits them: the DataModule's loader workers, its on-device degradation
(``on_after_batch_transfer``), the task's ``training_step``, the backward pass, Adam and the scheduler, all as
in training. Only what does not belong to the step is off: validation, checkpoints, loggers (``self.log``
still runs), the progress bar. A callback takes a time stamp at every ``on_train_batch_start`` and
``on_train_batch_end`` (after a CUDA synchronise on ``device=cuda``), so:

- a step is the time from one ``on_train_batch_end`` to the next; after ``warmup`` steps, ``repeats``
  windows of ``steps`` steps each are timed and every number below is the median over the windows;
- ``steps_per_s``, ``samples_per_s`` (x the batch size), ``step_ms``;
- ``data_wait_fraction``: the share of the step before ``on_train_batch_start``: waiting for the loader,
  the host-to-device copy and the degradation (``on_after_batch_transfer``), and Lightning's few
  between-step lines; ``degrade_fraction``: the part of it in ``on_after_batch_transfer`` alone;
- ``forward_fraction`` (``on_train_batch_start`` to ``on_before_backward``: the task's ``training_step``,
  its loss and logging), ``backward_fraction`` (to ``on_after_backward``), ``optimizer_fraction`` (to
  ``on_train_batch_end``: Adam's update and Lightning's optimizer wrapping); with ``data_wait_fraction``
  they add up to 1;
- ``flops_per_step``: forward and backward of one batch (the task's ``predict`` and loss, then
  ``backward``), counted with ``torch.utils.flop_counter.FlopCounterMode`` as ``bench enhance`` counts:
  convolutions and matrix products (Adam's elementwise update and the elementwise filter taps do not count);
- ``roofline_fraction``: ``flops_per_step * steps_per_s`` over the float32 2048^3 matmul rate measured in the
  same subprocess on the same device (:func:`fnflight.bench.ops.sgemm_gflops`, as ``bench enhance``; the
  higher of a measurement before and one after the steps, so a machine shared with other work does not
  flatter the fraction by a momentarily low rate);
- ``peak_mb``: CPU: the subprocess's resident-memory high-water mark (``VmHWM``, reset after the warm-up; the
  loader workers are processes of their own and not counted); CUDA: ``torch.cuda.max_memory_allocated``
  over the timed steps.

Cases (:data:`CASES`; each with its model's default data): ``deepfnf_small``; ``nfonly`` at the width and
basis size of the flash/no-flash benchmark (1/8, J = 16; the shipped ``nfonly``); ``kpn_burst`` at the width
of its benchmark (1/4, ``benchmarks/burst_quality_cpu.sh``); ``lsd2_small``; ``sid_small``;
``saecnn_small``; ``deepfnf``: paper width (78.5M parameters, for GPUs: ``crop=448`` is the paper's
crop); ``deepfnf_tiny``: a tiny net, crop and batch, no workers, for tests.

Options (OmegaConf dotlist): ``cases=[...]`` (default: the six named above), ``steps=null`` (steps per
timed window; null: the case's own, :data:`CASES`, sized so that the six cases take 3-4 minutes on 2 CPU
cores), ``warmup=null`` (likewise), ``repeats=3``, ``device=cpu|cuda|auto``,
``precision=32-true|bf16-mixed|16-mixed``, ``threads=null`` (torch's default), ``channels_last=false``
(the task's parameters in channels-last memory format, so convolutions run channels-last), ``crop=null``,
``batch_size=null``, ``num_workers=null`` (null: the data config's), ``config=[]`` (more ``fnflight
train`` overrides for every case, e.g. ``config=[model.net.init_args.width=0.5]``), ``profile=null`` (a
path: torch.profiler tables of the timed steps are written there; one case at a time), ``sgemm_n=2048``
(the side of the roofline's matmul), ``seed=0``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

import torch

__all__ = ["CASES", "DEFAULT_CASES", "KEYS", "run"]

# case name -> (model config, overrides of `fnflight train`, (warmup, steps per window) by default): the
# steps are sized so that the six default cases take about 3-4 minutes on 2 CPU cores
CASES: dict[str, tuple[str, list[str], tuple[int, int]]] = {
    "deepfnf_small": ("deepfnf_small", [], (4, 12)),
    # the flash/no-flash benchmark's width and basis size (benchmarks/fnf_quality_cpu.sh): the shipped nfonly
    "nfonly": ("nfonly", ["model.net.init_args.width=0.125", "model.net.init_args.num_basis=16"], (4, 12)),
    # the burst benchmark's width (benchmarks/burst_quality_cpu.sh): the shipped kpn_burst
    "kpn_burst": ("kpn_burst", ["model.net.init_args.width=0.25"], (1, 2)),
    "lsd2_small": ("lsd2_small", [], (2, 3)),
    "sid_small": ("sid_small", [], (2, 4)),
    "saecnn_small": ("saecnn_small", [], (1, 1)),
    "deepfnf": ("deepfnf", [], (3, 5)),
    "deepfnf_tiny": (
        "deepfnf_small",
        [
            "model.net.init_args.width=0.0625",
            "model.net.init_args.num_basis=4",
            "data.init_args.crop=32",
            "data.init_args.batch_size=2",
            "data.init_args.num_workers=0",
        ],
        (1, 2),
    ),
}
DEFAULT_CASES = ["deepfnf_small", "nfonly", "kpn_burst", "lsd2_small", "sid_small", "saecnn_small"]

DEFAULTS: dict[str, Any] = {
    "cases": DEFAULT_CASES,
    "steps": None,  # None: the case's own (CASES)
    "warmup": None,
    "repeats": 3,
    "device": "cpu",
    "precision": "32-true",
    "threads": None,
    "channels_last": False,
    "crop": None,
    "batch_size": None,
    "num_workers": None,
    "config": [],
    "profile": None,
    "sgemm_n": 2048,  # the matmul of the roofline rate; tests take a small one (their roofline means nothing)
    "seed": 0,
}
KEYS = (
    "case",
    "steps_per_s",
    "samples_per_s",
    "step_ms",
    "flops_per_step",
    "gflops",
    "sgemm_gflops",
    "roofline_fraction",
    "data_wait_fraction",
    "degrade_fraction",
    "forward_fraction",
    "backward_fraction",
    "optimizer_fraction",
    "peak_mb",
    "device",
    "precision",
    "batch_size",
    "crop",
    "threads",
)
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true")


def _overrides(name: str, cfg: dict[str, Any]) -> list[str]:
    """The ``fnflight train`` arguments of a case: its model, its own settings, then the options."""
    model, own, _ = CASES[name]
    args = [f"model={model}", f"seed={int(cfg['seed'])}", *own]
    for key in ("crop", "batch_size", "num_workers"):
        if cfg[key] is not None:
            args.append(f"data.init_args.{key}={cfg[key]}")
    return [*args, *[str(a) for a in cfg["config"]]]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# the phases of a step, each from the hook named to the next one's
PHASES = {
    "forward": ("on_train_batch_start", "on_before_backward"),
    "backward": ("on_before_backward", "on_after_backward"),
    "optimizer": ("on_after_backward", "on_train_batch_end"),
}


def _timing_callback(device: torch.device, warmup: int, total: int, on_window_start, profiler=None):
    """A Lightning callback taking the time stamps of every step's hooks (a factory: Lightning is imported in
    the worker only). ``profiler`` (a ``torch.profiler.profile``) runs over the timed steps."""
    import pytorch_lightning as pl

    class StepTimer(pl.Callback):
        def __init__(self) -> None:
            self.stamps: dict[str, list[float]] = {
                h: [] for h in ("on_train_batch_start", "on_before_backward", "on_after_backward")
            }
            self.stamps["on_train_batch_end"] = []
            self.first_batch: dict[str, Any] | None = None

        def _stamp(self, hook: str) -> None:
            _sync(device)
            self.stamps[hook].append(time.perf_counter())

        @property
        def starts(self) -> list[float]:
            return self.stamps["on_train_batch_start"]

        @property
        def ends(self) -> list[float]:
            return self.stamps["on_train_batch_end"]

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            if len(self.starts) == warmup:  # the first timed step: keep its batch, reset the peak memory
                _sync(device)
                self.first_batch = {
                    k: v.detach().clone() if isinstance(v, torch.Tensor) else v for k, v in batch.items()
                }
                on_window_start()
            self._stamp("on_train_batch_start")

        def on_before_backward(self, trainer, pl_module, loss) -> None:
            self._stamp("on_before_backward")

        def on_after_backward(self, trainer, pl_module) -> None:
            self._stamp("on_after_backward")

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self._stamp("on_train_batch_end")
            if profiler is not None and len(self.ends) == warmup:
                profiler.start()  # from the end of the last warm-up step: the first timed step's wait too
            if profiler is not None and len(self.ends) == total:
                profiler.stop()

    return StepTimer()


def count_step_flops(task: Any, batch: dict[str, Any]) -> int:
    """FLOPs of one training step's forward and backward on ``batch`` (an already degraded batch):
    convolutions and matrix products as FlopCounterMode counts them (Adam's update is not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    task.train()
    with FlopCounterMode(display=False) as counter:
        outputs = task.predict(batch)
        loss = task.loss(outputs, batch, step=0)["loss"]
        loss.backward()
    task.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def _worker(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    import warnings

    import pytorch_lightning as pl

    from fnflight.bench.ops import _peak_rss_kib, _reset_peak_rss_kib, sgemm_gflops
    from fnflight.config import compose, to_container
    from fnflight.training.run import build_datamodule, build_task

    warnings.filterwarnings("ignore")
    if cfg["threads"]:
        torch.set_num_threads(int(cfg["threads"]))
    from fnflight.cli.arguments import parse_device

    device = parse_device(str(cfg["device"]))
    own_warmup, own_steps = CASES[name][2]
    warmup = int(own_warmup if cfg["warmup"] is None else cfg["warmup"])
    steps = int(own_steps if cfg["steps"] is None else cfg["steps"])
    repeats = int(cfg["repeats"])
    total = warmup + steps * repeats
    train_cfg = compose("train", _overrides(name, cfg))
    pl.seed_everything(int(train_cfg.seed), workers=True, verbose=False)
    datamodule = build_datamodule(train_cfg)
    task = build_task(train_cfg)
    if cfg["channels_last"]:
        task = task.to(memory_format=torch.channels_last)

    degrade_times: list[tuple[float, float]] = []
    transfer = datamodule.on_after_batch_transfer

    def timed_transfer(batch, dataloader_idx):  # the on-device degradation, timed where it runs
        _sync(device)
        t0 = time.perf_counter()
        out = transfer(batch, dataloader_idx)
        _sync(device)
        degrade_times.append((t0, time.perf_counter()))
        return out

    datamodule.on_after_batch_transfer = timed_transfer
    baseline = {"rss": 0}

    def window_start() -> None:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        else:
            baseline["rss"] = _reset_peak_rss_kib()

    sgemm_before = sgemm_gflops(
        device, n=int(cfg["sgemm_n"])
    )  # measured twice, before and after; the higher is the machine's rate
    profiler = None
    if cfg["profile"]:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        profiler = profile(activities=activities)
    timer = _timing_callback(device, warmup, total, window_start, profiler)
    trainer_args = to_container(train_cfg.trainer)
    trainer_args.update(
        accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=[device.index or 0] if device.type == "cuda" else 1,
        strategy="auto",
        num_nodes=1,
        precision=str(cfg["precision"]),
        max_steps=total,
        max_epochs=-1,
        fast_dev_run=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        enable_progress_bar=False,
    )
    trainer = pl.Trainer(
        **trainer_args,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(task, datamodule=datamodule)
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak_mb = _peak_rss_kib() / 1024

    ends, starts = timer.ends, timer.starts
    if len(ends) < total or any(len(v) < total for v in timer.stamps.values()):
        raise RuntimeError(f"case {name}: only {len(ends)} steps (or hooks) ran, wanted {total}")
    rates, waits, degrades = [], [], []
    phases: dict[str, list[float]] = {k: [] for k in PHASES}
    for r in range(repeats):
        first = warmup + r * steps  # steps first .. first + steps - 1, timed from the end of step first - 1
        t0 = ends[first - 1] if first > 0 else starts[0]
        t1 = ends[first + steps - 1]
        window = t1 - t0
        wait = sum(starts[i] - (ends[i - 1] if i > 0 else starts[0]) for i in range(first, first + steps))
        degrade = sum(min(b, t1) - max(a, t0) for a, b in degrade_times if b > t0 and a < t1)
        rates.append(steps / window)
        waits.append(wait / window)
        degrades.append(degrade / window)
        for phase, (a, b) in PHASES.items():
            spent = sum(timer.stamps[b][i] - timer.stamps[a][i] for i in range(first, first + steps))
            phases[phase].append(spent / window)
    steps_per_s = statistics.median(rates)
    batch = timer.first_batch
    assert batch is not None
    batch_size = int(datamodule.batch_size)
    task = task.to(device)
    flops = count_step_flops(
        task, {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    )
    sgemm = max(sgemm_before, sgemm_gflops(device, n=int(cfg["sgemm_n"])))
    gflops = flops * steps_per_s / 1e9
    crop = getattr(datamodule, "crop", None)
    return {
        "case": name,
        "steps_per_s": round(steps_per_s, 3),
        "samples_per_s": round(steps_per_s * batch_size, 2),
        "step_ms": round(1e3 / steps_per_s, 1),
        "flops_per_step": flops,
        "gflops": round(gflops, 2),
        "sgemm_gflops": round(sgemm, 1),
        "roofline_fraction": round(gflops / sgemm, 4),
        "data_wait_fraction": round(statistics.median(waits), 3),
        "degrade_fraction": round(statistics.median(degrades), 3),
        **{f"{k}_fraction": round(statistics.median(v), 3) for k, v in phases.items()},
        "peak_mb": round(peak_mb, 1),
        "device": str(device),
        "precision": str(cfg["precision"]),
        "batch_size": batch_size,
        "crop": list(crop) if isinstance(crop, (tuple, list)) else crop,
        "threads": torch.get_num_threads(),
        "num_workers": int(getattr(datamodule, "num_workers", 0)),
        "channels_last": bool(cfg["channels_last"]),
        "params": sum(p.numel() for p in task.net.parameters()),
        "model": CASES[name][0],
        "steps": steps,
        "warmup": warmup,
        "repeats": repeats,
        **({"profile": _write_profile(profiler, str(cfg["profile"]), name, device)} if profiler else {}),
    }


def _write_profile(profiler: Any, path: str, name: str, device: torch.device) -> str:
    """The torch.profiler tables of the timed steps (by self time, and by total time) to ``path``."""
    from pathlib import Path

    averages = profiler.key_averages()
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    text = [
        f"# torch.profiler over the timed steps of case {name} ({device}); profiling slows the step, so the",
        "# JSON row's timings come from the same run with the profiler's overhead in them",
        "",
        "## by self time",
        averages.table(sort_by=sort, row_limit=45, max_name_column_width=70),
        "## by total time (includes children: Lightning's loop, optimizer step, backward engine)",
        averages.table(sort_by=sort.replace("self_", ""), row_limit=45, max_name_column_width=70),
    ]
    Path(path).write_text("\n".join(text))
    return path


def run(overrides: list[str] | None = None, json_out: bool = True) -> int:
    """Run each case in a fresh subprocess; print one JSON line per case (``json_out``) or key=value text."""
    from fnflight.cli.arguments import parse_device, parse_overrides

    # the one argument layer's rules, the cases and precisions as choices
    plain = parse_overrides(DEFAULTS, overrides or [], {"cases": list(CASES), "precision": list(PRECISIONS)})
    parse_device(plain["device"])  # a bad name, or CUDA where there is none: one line, exit 2
    if any(plain[k] is not None and int(plain[k]) < 1 for k in ("steps", "warmup", "repeats")):
        print("fnflight bench train: steps, repeats and warmup must be >= 1", file=sys.stderr)
        return 2
    failed = 0
    for name in plain["cases"]:
        args = [sys.executable, "-m", "fnflight.bench.train", "--worker", name, json.dumps(plain)]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        rows = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not rows:
            print(f"fnflight bench train: case {name} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
            failed += 1
            continue
        row = json.loads(rows[-1])
        print(json.dumps(row) if json_out else "  ".join(f"{k}={row[k]}" for k in KEYS), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover - worker entry point
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        print(json.dumps(_worker(sys.argv[2], json.loads(sys.argv[3]))))
    else:
        sys.exit(run(sys.argv[1:]))
