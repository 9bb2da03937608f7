"""The SHIPPED flash/no-flash models on make train's validation crops (the 2 held-out embedded photos, 256 px,
dims 100 / 50 / 25 / 12.5, degraded as `experiment=first_run` validates), beside the noisy input and the
no-flash NLM comparison: can a trained net beat that comparison on these crops at all?

usage: .venv/bin/python benchmarks/investigation/make_train_shipped.py [MODEL ...] > OUT.txt
"""

import subprocess
import sys

from fnflight.config import compose
from fnflight.models import resolve
from fnflight.tasks.checkpoint import load_task
from fnflight.tasks.training import build_datamodule
from fnflight.tasks.validation_report import validation_records

models = sys.argv[1:] or ["deepfnf", "nfonly"]
git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
commit = git.stdout.strip()
cpu = next(line.split(":")[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
print(f"command: .venv/bin/python benchmarks/investigation/make_train_shipped.py {' '.join(models)}")
print(f"code: commit {commit}; machine: {cpu}")
dm = build_datamodule(compose("train", ["experiment=first_run"]))
dm.setup("validate")
for name in models:
    by: dict[str, dict[float, float]] = {}
    for r in validation_records(load_task(resolve(name)).eval(), dm, name):
        by.setdefault(r["method"], {})[r["dim"]] = r["psnr"]
    for method, d in by.items():
        print(f"{name:>8} {method:>16} " + " / ".join(f"{d[k]:.2f}" for k in sorted(d, reverse=True)))
