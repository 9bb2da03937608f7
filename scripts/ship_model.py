"""Ship a benchmark's trained model inside the package: ``src/fnflight/models/NAME.pt`` (weights only,
float16) and its model card ``NAME.md``.

usage: .venv/bin/python scripts/ship_model.py NAME WEIGHTS.pt [TESTSET_DIR] [--note TEXT]

WEIGHTS.pt is the weights file behind a row of a committed benchmark table; its folder (or, for a
``weights/`` sub-folder, the folder above: ``benchmarks/results/...``) holds ``command.txt``,
``machine.txt`` and ``results.md``. The card quotes them: the command and commit that trained the model,
the machine, and the benchmark table's rows. With TESTSET_DIR (the benchmark's test set, rebuilt by its
script) the shipped float16 weights are evaluated on it with ``fnflight eval`` and that table goes into
the card too, so the card's numbers are those of the file that ships. Both files are written through
temporary names.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from fnflight.cli.models import describe
from fnflight.model_io.checkpoint import load_task, method_name, save_weights
from fnflight.models import MODELS_DIR

USE = {
    "FlashNoFlashTask": "fnflight enhance model={name} noflash=NOFLASH.png flash=FLASH.png out=OUT.png",
    "BurstTask": "fnflight enhance model={name} burst='FRAMES/*.png' out=OUT.png",
    "ShortLongTask": "fnflight enhance model={name} short=SHORT.png long=LONG.png out=OUT.png",
    "RawLowLightTask": "fnflight enhance model={name} raw=CAPTURE.ARW ratio=100 out=OUT.png",
}


def table_rows(results_md: Path, methods: list[str]) -> str:
    """The header, rule and the rows of ``methods`` from a results.md table."""
    lines = [ln for ln in results_md.read_text().splitlines() if ln.startswith("|")]
    keep = lines[:2] + [ln for ln in lines[2:] if ln.split("|")[1].strip() in methods]
    return "\n".join(keep)


def write_card(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def main(argv: list[str]) -> int:
    note = None
    if "--note" in argv:  # a sentence for the card: why this row, what to know
        i = argv.index("--note")
        note, argv = argv[i + 1], argv[:i] + argv[i + 2 :]
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    name, weights = argv[0], Path(argv[1])
    testset = Path(argv[2]) if len(argv) == 3 else None
    # the benchmark folder: the weights' own, or its parent for weights in a weights/ sub-folder
    results = weights.parent if (weights.parent / "results.md").is_file() else weights.parent.parent
    task = load_task(weights)
    method = method_name(task)  # its row in the table
    out = save_weights(task, MODELS_DIR / f"{name}.pt", dtype=torch.float16)
    info = describe(out)
    task_name = type(task).__name__
    table = results / "results.md"
    all_methods = [
        ln.split("|")[1].strip() for ln in table.read_text().splitlines()[2:] if ln.startswith("| ")
    ]
    # the floors of the same run: the rows that are not models (a model's weights sit beside the table)
    models = {method_name(load_task(p)) for p in [*results.glob("*.pt"), *results.glob("weights/*.pt")]}
    floors = [m for m in all_methods if m not in models]
    card = [
        f"# {name}",
        "",
        f"{info['inputs'].split(':')[0].capitalize()} model: `{info['net']}`, {info['params']} parameters, "
        f"stored as float16 weights only ({info['size']}; read with `torch.load(weights_only=True)`).",
        "",
        f"Use: `{USE.get(task_name, 'fnflight enhance model={name} ...').format(name=name)}`",
        "",
        *([note, ""] if note else []),
        f"## Training (`{results}`)",
        "",
        "```",
        (results / "command.txt").read_text().strip(),
        "```",
        "",
        "Machine:",
        "",
        "```",
        (results / "machine.txt").read_text().strip(),
        "```",
        "",
        f"## Test table of the benchmark (float32 weights `{weights}`, with the floors of the same run)",
        "",
        table_rows(table, [method, *floors]),
    ]
    card_path = MODELS_DIR / f"{name}.md"
    write_card(card_path, card)  # first without the re-evaluation: `model=NAME` needs the card to exist
    if testset is not None:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [
                str(Path(sys.executable).with_name("fnflight")),
                "eval",
                f"model={name}",
                f"testset={testset}",
                f"out={tmp}",
                "baselines=false",
                "figures=0",
            ]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            shipped = table_rows(Path(tmp) / "results.md", [method])
        card += [
            "",
            f"## The shipped float16 file on the same test set (`{' '.join(['fnflight', *cmd[1:4]])}`)",
            "",
            shipped,
        ]
        write_card(card_path, card)
    print(f"shipped {out} ({info['size']}) and {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
