"""Data-pipeline benchmark: one JSON line per DataModule (``fnflight bench data``).

For each case in :data:`CASES` (task, DataModule class path, keyword arguments):

- ``samples_per_s``: END TO END training samples per second, as a training step sees them: the DataLoader
  with the documented default workers (:data:`fnflight.data.base.DEFAULT_NUM_WORKERS`, persistent) and the
  on-device ``degrade`` of every batch in one loop (this machine's device: CPU), after a warm-up batch
  (worker start-up and the first decode), over ``batches`` batches;
- ``degrade_ms_per_batch``: the on-device ``degrade`` step alone, median over repeats on one batch;
- ``loader_samples_per_s``: the CPU side alone (read, crop, paired flips/rotations, collate);
- ``batch``, ``crop``, ``num_workers``, ``source``, ``torch_threads``;
- with ``profile=true``: ``degrade_profile``, the torch profiler's top operators of one ``degrade`` call
  (``[{"op", "self_ms", "calls"}]``, by self CPU time) -- where the on-device step spends its time.

Options (``key=value``): ``tasks=fnf,burst``, ``batches=20``, ``num_workers=2``, ``source.path=DIR`` (default:
the embedded photos), ``source.recursive=false``, ``seed=0``, ``profile=false``.
A further DataModule is added by appending a line to :data:`CASES`.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from fnflight.data.base import DEFAULT_NUM_WORKERS

__all__ = ["CASES", "run"]

# (task, DataModule class path, keyword arguments): papers' crops with a small batch; short/long and raw at
# their DataModules' default crop and batch (raw: synthetic mode, 256 packed = 512 px, batch 1 as SID)
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("fnf", "fnflight.data.fnf.FlashNoFlashDataModule", {"crop": 448, "batch_size": 4}),
    ("burst", "fnflight.data.burst.BurstDataModule", {"crop": 128, "batch_size": 4}),
    ("short_long", "fnflight.data.short_long.ShortLongDataModule", {}),
    ("raw_lowlight", "fnflight.data.raw_lowlight.RawLowLightDataModule", {"mode": "synthetic"}),
]

DEFAULTS: dict[str, Any] = {
    "tasks": None,
    "batches": 20,
    "num_workers": DEFAULT_NUM_WORKERS,
    "seed": 0,
    "profile": False,
    "source": {"path": None, "recursive": False},
}


def _bench_case(task: str, class_path: str, kwargs: dict[str, Any], cfg: Any) -> dict[str, Any]:
    from fnflight.config import import_class
    from fnflight.data.sources import ImageFolder

    source = None
    if cfg.source.path:
        source = ImageFolder(cfg.source.path, recursive=bool(cfg.source.recursive))
    cls = import_class(class_path)
    dm = cls(source=source, val_source=source, num_workers=int(cfg.num_workers), seed=int(cfg.seed), **kwargs)
    dm.setup("fit")
    loader = dm.train_dataloader()
    batches = max(1, int(cfg.batches))

    def batches_of(n: int):
        count = 0
        while count < n:
            for b in loader:
                yield b
                count += 1
                if count >= n:
                    return

    it = batches_of(1 + 2 * batches)
    first = next(it)  # warm-up: worker start-up, first decodes
    start = time.perf_counter()
    samples = 0
    for _ in range(batches):
        samples += len(next(it)["index"])
    loader_rate = samples / (time.perf_counter() - start)

    times = []
    for _ in range(max(3, min(batches, 10))):
        gen = dm.train_generator(first["index"].device)
        t0 = time.perf_counter()
        with torch.no_grad():
            dm.degrade(first, gen, "train")
        times.append((time.perf_counter() - t0) * 1000)

    start = time.perf_counter()
    samples = 0
    for _ in range(batches):
        b = next(it)
        with torch.no_grad():
            dm.degrade(b, dm.train_generator(b["index"].device), "train")
        samples += len(b["index"])
    e2e = samples / (time.perf_counter() - start)
    del it
    extra: dict[str, Any] = {}
    if cfg.profile:
        extra["degrade_profile"] = _profile_degrade(dm, first)
    return {
        "bench": "data",
        "task": task,
        "samples_per_s": round(e2e, 2),
        "degrade_ms_per_batch": round(statistics.median(times), 2),
        "loader_samples_per_s": round(loader_rate, 2),
        "batch": dm.batch_size,
        "crop": dm.crop,
        "num_workers": dm.num_workers,
        "source": str(cfg.source.path) if cfg.source.path else "embedded",
        "torch_threads": torch.get_num_threads(),
        **extra,
    }


def _profile_degrade(dm: Any, batch: dict[str, Any], top: int = 8) -> list[dict[str, Any]]:
    """The top operators (self CPU time) of one ``degrade`` of ``batch``."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof, torch.no_grad():
        dm.degrade(batch, dm.train_generator(batch["index"].device), "train")
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [
        {"op": e.key, "self_ms": round(e.self_cpu_time_total / 1000, 2), "calls": int(e.count)}
        for e in events
    ]


def run(
    overrides: list[str] | None = None, json_out: bool | str | Path | None = True
) -> list[dict[str, Any]]:
    """Run the data benchmark; print one JSON line per case (``json_out=True``), or a table; return the rows.

    ``json_out`` may also be a file path: the JSON lines are then written there too.
    """
    from omegaconf import OmegaConf

    from fnflight.cli.arguments import ArgumentError, parse_overrides

    cfg = OmegaConf.create(parse_overrides(DEFAULTS, overrides or []))  # the one argument layer's rules
    names = [c[0] for c in CASES]
    wanted = names if not cfg.tasks else [t.strip() for t in str(cfg.tasks).split(",") if t.strip()]
    unknown = [t for t in wanted if t not in names]
    if unknown:
        raise ArgumentError(f"unknown data bench task(s) {unknown}; valid: {', '.join(names)}")
    rows = []
    for task, class_path, kwargs in CASES:
        if task not in wanted:
            continue
        row = _bench_case(task, class_path, dict(kwargs), cfg)
        rows.append(row)
        line = json.dumps(row, sort_keys=True)
        if json_out:
            print(line, flush=True)
        else:
            print(
                f"{task:<12} {row['samples_per_s']:8.1f} samples/s end to end  "
                f"{row['degrade_ms_per_batch']:8.1f} ms "
                f"degrade/batch  {row['loader_samples_per_s']:8.1f} samples/s (loader)  "
                f"(batch {row['batch']}, crop {row['crop']}, {row['num_workers']} workers)",
                flush=True,
            )
        if isinstance(json_out, (str, Path)) and not isinstance(json_out, bool):
            with open(json_out, "a") as f:
                f.write(line + "\n")
    return rows


if __name__ == "__main__":  # pragma: no cover
    run(sys.argv[1:], True)
