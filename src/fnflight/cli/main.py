"""Entry point of the ``fnflight`` console script.

Each sub-command lives in its own module with a ``run(argv) -> int`` function; they are imported only when
called so that ``fnflight --help`` stays instant. Arguments are ``key=value``, read by the one argument
layer (:mod:`fnflight.cli.arguments`); every command runs inside :func:`~fnflight.cli.arguments.guarded`,
which turns SIGINT / SIGTERM and the package's own errors into one line and an exit code (2: a bad request,
130 / 143: interrupted) instead of a traceback. ``fnflight`` alone prints the usage and exits 2.
"""

from __future__ import annotations

import importlib
import sys

# Sub-command name -> (module, one-line help). Listed explicitly: no registry, no scanning.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("fnflight.cli.train", "train a model: [experiment=NAME] [key=value ...]"),
    "eval": ("fnflight.cli.evaluate", "evaluate checkpoints: ckpt=PATH [ckpt=PATH ...] testset=DIR"),
    "testset": (
        "fnflight.cli.testset",
        "write a deterministic test set: task=fnf|burst|shortlong|raw out=DIR ...",
    ),
    "enhance": (
        "fnflight.cli.enhance",
        "run a model on your images: ckpt=|model=, noflash= flash= | raw= ratio= | short= long= | burst=",
    ),
    "export": (
        "fnflight.cli.export",
        "a model as a weights-only file or ONNX: ckpt=PATH|model=NAME out=FILE.pt|FILE.onnx",
    ),
    "models": ("fnflight.cli.models", "the trained models shipped in the package: [NAME] for its card"),
    "bench": ("fnflight.cli.bench", "benchmarks as JSON lines: ops|data|enhance|flash-realism [--json] ..."),
}


def usage() -> str:
    lines = ["usage: fnflight <command> [args ...]", "", "commands:"]
    lines += [f"  {name:<8} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "Run `fnflight <command> --help` for the options of one command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:  # a command is required: usage on stderr, exit 2 (as argparse-based CLIs do)
        print(usage(), file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"fnflight: unknown command {name!r}; valid commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    from fnflight.cli.arguments import guarded

    module = importlib.import_module(COMMANDS[name][0])
    return guarded(name, module.run, rest)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
