"""``fnflight export ckpt=PATH out=FILE.pt``: a trained checkpoint as a weights-only file.

The file holds the net's tensors and the model config as text
(:func:`fnflight.tasks.checkpoint.save_weights`),
loads with ``torch.load(weights_only=True)`` (no code is unpickled), and works wherever a checkpoint does
(``fnflight eval ckpt=FILE.pt``, ``fnflight enhance ckpt=FILE.pt``).
"""

from __future__ import annotations

import sys
from pathlib import Path

USAGE = "usage: fnflight export ckpt=PATH out=FILE.pt"


def run(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        print(__doc__)
        return 0
    from fnflight.tasks.checkpoint import CheckpointError, load_task, save_weights

    opts: dict[str, str] = {}
    for item in argv:
        key, sep, value = item.partition("=")
        if not sep or key not in ("ckpt", "out"):
            print(f"fnflight export: bad argument {item!r}; {USAGE}", file=sys.stderr)
            return 2
        opts[key] = value
    if not opts.get("ckpt") or not opts.get("out"):
        print(f"fnflight export: {USAGE}", file=sys.stderr)
        return 2
    if Path(opts["out"]).suffix != ".pt":
        print(f"fnflight export: out must end in .pt (weights only), got {opts['out']!r}", file=sys.stderr)
        return 2
    try:
        path = save_weights(load_task(opts["ckpt"]), opts["out"])
    except (CheckpointError, OSError) as err:
        print(f"fnflight export: {err}", file=sys.stderr)
        return 2
    print(f"fnflight export: wrote {path} ({path.stat().st_size / 2**20:.1f} MB)")
    return 0
