"""Average `fnflight eval` tables over seeds: mean PSNR / SSIM per method and level, each seed's PSNR, and
whether the main method is ahead of every other one at every level in the mean and in each seed.

usage: .venv/bin/python benchmarks/fnf_quality_summary.py [--main NAME] [--key dim|ratio|level] \
           [--floors A,B] OUT.md RESULTS_DIR [RESULTS_DIR ...]
  each RESULTS_DIR holds a results.json of `fnflight eval` (one seed of a quality benchmark); the means are
  written to OUT.md and, as records {"method", level, "psnr", "ssim", "seeds"}, to OUT.json. Defaults:
  the flash/no-flash table (--main deepfnf --key dim --floors noisy_input,gaussian_denoise: the floors are
  left out of the comparison); SID: --main sid --key ratio --floors "" (compared with its floors).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from statistics import mean

MAIN = "deepfnf"
FLOORS = ("noisy_input", "gaussian_denoise")  # not learned: not part of the ordering


def load(dirs: list[Path], key: str = "dim") -> dict[tuple[str, float], list[dict]]:
    table: dict[tuple[str, float], list[dict]] = defaultdict(list)
    for d in dirs:
        for r in json.loads((d / "results.json").read_text()):
            table[(r["method"], float(r[key]))].append(r)
    return table


def summary(dirs: list[Path], main: str = MAIN, key: str = "dim", floors: tuple[str, ...] = FLOORS) -> str:
    table = load(dirs, key)
    methods = list(dict.fromkeys(m for m, _ in table))
    dims = sorted({d for _, d in table}, reverse=True)
    head = "| Method | " + " | ".join(f"{d:g}x PSNR (per seed) | {d:g}x SSIM" for d in dims) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(dims)]
    for m in methods:
        cells = []
        for d in dims:
            rs = table.get((m, d), [])
            seeds = "/".join(f"{r['psnr']:.2f}" for r in rs) + ("" if len(rs) == len(dirs) else " only")
            cells.append(f"{mean(r['psnr'] for r in rs):.2f} dB ({seeds})")
            cells.append(f"{mean(r['ssim'] for r in rs):.3f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    rivals = [m for m in methods if m != main and m not in floors]
    n = len(dirs)
    lines.append("")
    for rival in rivals:
        if any(len(table[(rival, d)]) != len(table[(main, d)]) for d in dims):
            lines.append(f"- {rival}: not run for every seed; compared in the tables of the seeds it has")
            continue
        ahead_mean = [
            mean(r["psnr"] for r in table[(main, d)]) > mean(r["psnr"] for r in table[(rival, d)])
            for d in dims
        ]
        wins = [
            sum(a["psnr"] > b["psnr"] for a, b in zip(table[(main, d)], table[(rival, d)], strict=True))
            for d in dims
        ]
        per_dim = ", ".join(f"{d:g}x {w}/{n}" for d, w in zip(dims, wins, strict=True))
        lines.append(
            f"- {main} above {rival} in mean PSNR at every {key}: {'yes' if all(ahead_mean) else 'no'}; "
            f"seeds where it is ahead: {per_dim}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    opts = {"--main": MAIN, "--key": "dim", "--floors": ",".join(FLOORS)}
    while argv and argv[0] in opts:
        if len(argv) < 2:
            print(__doc__, file=sys.stderr)
            return 2
        opts[argv[0]], argv = argv[1], argv[2:]
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out, dirs = Path(argv[0]), [Path(a) for a in argv[1:]]
    missing = [str(d) for d in dirs if not (d / "results.json").is_file()]
    if missing:
        print(f"no results.json in: {', '.join(missing)}", file=sys.stderr)
        return 2
    floors = tuple(f for f in opts["--floors"].split(",") if f)
    body = summary(dirs, opts["--main"], opts["--key"], floors)
    text = f"# Mean over {len(dirs)} seeds ({', '.join(map(str, dirs))})\n\n" + body
    out.write_text(text)
    # the same means as JSON records beside it (OUT.json): one per method and level, with the seeds' count
    table = load(dirs, opts["--key"])
    records = [
        {
            "method": m,
            opts["--key"]: d,
            "psnr": round(mean(r["psnr"] for r in rs), 4),
            "ssim": round(mean(r["ssim"] for r in rs), 4),
            "seeds": len(rs),
        }
        for (m, d), rs in table.items()
    ]
    out.with_suffix(".json").write_text(json.dumps(records, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
