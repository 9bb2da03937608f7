"""Suite-wide test settings."""

import os

import torch

# Under pytest-xdist every worker would otherwise start one thread per core: on a 2-core machine with two
# workers that oversubscribes the CPU and makes the suite several times slower, so give each worker one.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
