"""``fnflight models [NAME]``: the trained models shipped in the package (:mod:`fnflight.models`).

Without a name: a table with one row per model: its name, what it enhances (the inputs ``fnflight enhance``
takes), its net, its parameter count and its file size. With a name: that model's card (training command,
data, commit, test table). Use one with ``model=NAME``: ``fnflight enhance model=NAME ...``, ``fnflight eval
model=NAME testset=DIR``, ``fnflight export model=NAME out=FILE.onnx``.

Examples::

    fnflight models           # the table
    fnflight models sid       # the card of sid
"""

from __future__ import annotations

import json
import sys

from fnflight.cli.arguments import plain_text


def describe(path) -> dict[str, str]:
    """Name, inputs, net, parameter count and size of a shipped weights file (read weights-only)."""
    import torch

    from fnflight.config import import_class

    data = torch.load(path, map_location="cpu", weights_only=True)
    config = json.loads(data["model_config"])
    task = import_class(config["task"]["class_path"])  # what it enhances: the task's spec says
    params = sum(v.numel() for v in data["net"].values() if v.is_floating_point())
    return {
        "inputs": task.spec.inputs if hasattr(task, "spec") else task.__name__,
        "net": config["net"]["class_path"].rsplit(".", 1)[-1],
        "params": f"{params / 1e6:.1f}M",
        "size": f"{path.stat().st_size / 2**20:.1f} MB",
    }


def run(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        print("usage: fnflight models [NAME]\n\n" + plain_text(__doc__).strip())
        return 0
    from fnflight import models

    if len(argv) > 1 or any("=" in a for a in argv):
        print("fnflight models: takes at most one NAME; usage: fnflight models [NAME]", file=sys.stderr)
        return 2
    if argv:
        try:
            print(models.card(argv[0]))
        except models.ModelNotFoundError as err:
            print(f"fnflight models: {err}", file=sys.stderr)
            return 2
        return 0
    shipped = models.available()
    if not shipped:
        print("fnflight models: this install ships no trained models")
        return 0
    rows = [("name", "enhances", "net", "params", "size")]
    for name, path in shipped.items():
        d = describe(path)
        rows.append((name, d["inputs"], d["net"], d["params"], d["size"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print("\nA model's card (training command, data, test table): fnflight models NAME")
    print("Use one: fnflight enhance model=NAME ... (no ckpt= needed)")
    return 0
