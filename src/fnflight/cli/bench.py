"""``fnflight bench ops|data|enhance [--json] [key=value ...]``: benchmarks printing one JSON object per line.

``ops`` runs :mod:`fnflight.bench.ops` (filtering ops, ours vs naive); ``data`` runs
:mod:`fnflight.bench.data` (data-pipeline throughput); ``enhance`` runs :mod:`fnflight.bench.enhance`
(full-resolution tiled inference: time, peak memory, exactness), each imported only when asked for. All take
OmegaConf dotlist overrides such as ``repeats=5 cases=[deepfnf]``.
"""

from __future__ import annotations

import importlib
import sys

USAGE = """usage: fnflight bench ops|data|enhance|flash-realism|train|color-artifacts [--json] [key=value ...]

  ops    filtering-op speed/memory, ours vs the naive per-pixel-kernel formulation
         (options: cases=[deepfnf,kpn,saecnn] repeats=5 size=448 j=90 frames=8 threads=null
          device=cpu memory=true seed=0)
  data   data-pipeline throughput (fnflight.bench.data)
  enhance  full-resolution tiled inference: seconds, peak_mb, max_abs_diff_vs_untiled, tiles
         (options: cases=[sid_full_sony] tile=null repeats=1 check_size=1024 threads=null seed=0)
  color-artifacts  share of FnF output pixels with a colour neither input has, on light-source pairs and
         real pairs (options: models=[deepfnf,nfonly] kodak=DIR bsds=DIR faid=DIR limit=null crop=448 seed=0)
  flash-realism  synthetic vs real flash: detail-transfer gain and fine-detail correlation per dim
         (options: synthetic=DIR real=DIR crop=224 dims=[100,50,25,12.5] limit=null seed=0)
  train  the training step (real DataModule, workers, degradation, step, backward, Adam): steps_per_s,
         flops_per_step, roofline_fraction, data_wait_fraction, peak_mb (options: cases=[deepfnf_small,...]
         steps=null warmup=null repeats=3 device=cpu|cuda|auto precision=32-true threads=null
         channels_last=false crop=null batch_size=null num_workers=null config=[] profile=null
         sgemm_n=2048 seed=0)
  --json one JSON object per case per line (default output is key=value text)"""

MODULES = {
    "ops": "fnflight.bench.ops",
    "data": "fnflight.bench.data",
    "enhance": "fnflight.bench.enhance",
    "flash-realism": "fnflight.bench.flash_realism",
    "train": "fnflight.bench.train",
    "color-artifacts": "fnflight.bench.color_artifacts",
}


def run(argv: list[str]) -> int:
    """``fnflight bench``: one line and exit 2 for a bad request (the one argument layer's rules,
    :func:`fnflight.cli.arguments.parse_overrides`), 130 / 143 when interrupted."""
    from fnflight.cli.arguments import guarded

    return guarded("bench", _run, list(argv))


def _run(argv: list[str]) -> int:
    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    which, rest = argv[0], argv[1:]
    if which not in MODULES:
        print(
            f"fnflight bench: unknown benchmark {which!r}; valid: {', '.join(MODULES)}\n\n{USAGE}",
            file=sys.stderr,
        )
        return 2
    if "-h" in rest or "--help" in rest:
        print(USAGE)
        return 0
    json_out = "--json" in rest
    overrides = [a for a in rest if a != "--json"]
    bad = [a for a in overrides if "=" not in a]
    if bad:
        print(f"fnflight bench {which}: expected key=value overrides, got {bad}\n\n{USAGE}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(MODULES[which])
    except ModuleNotFoundError as err:
        if err.name != MODULES[which]:
            raise
        print(
            f"fnflight bench {which}: module {MODULES[which]} is not available in this checkout "
            "(it is written separately); nothing to run.",
            file=sys.stderr,
        )
        return 2
    rc = module.run(overrides, json_out)
    return rc if isinstance(rc, int) else 0  # a benchmark may return its rows instead of an exit code
