"""``fnflight train [experiment=NAME] [group=name ...] [key=value ...]``: train a model.

Composes ``configs/train.yaml`` (see :mod:`fnflight.config`) and runs :func:`fnflight.training.run.train`.
With no arguments: a small DeepFnF on the embedded photos (CPU, a few minutes). Examples::

    fnflight train                                        # the default small run, runs/deepfnf_small
    fnflight train trainer.max_steps=1000 ckpt_path=last  # continue it
    fnflight train model=kpn logger=csv                   # another method
    fnflight train experiment=deepfnf_paper data.init_args.source.init_args.path=/data/FAID

Before the first step (:mod:`fnflight.cli.preflight`): the run keys' values, ``out_dir`` (writable),
``ckpt_path`` (loads weights-only) and every image of a folder source (readable, at least the crop) are
checked, each problem in one line (exit 2). A run directory that holds checkpoints is replaced only with
``overwrite=true`` (every command's rule; ``ckpt_path=last`` resumes it instead).
"""

from __future__ import annotations

from fnflight.cli.arguments import Terminated, guarded, plain_text
from fnflight.config import GROUPS, available, compose

HELP = __doc__


def usage() -> str:
    lines = [plain_text(HELP).strip(), "", "config groups (pick with group=name):"]
    for group in (*GROUPS, "experiment"):
        lines.append(f"  {group:<10} {', '.join(available(group))}")
    lines += [
        "",
        "run keys: seed, out_dir, name, ckpt_path (null | last | PATH), overwrite, optim.*, images.*, "
        "checkpoint.*, after_fit.*, and any key of the chosen group files (e.g. trainer.max_steps=50).",
        "Print the composed config without training: fnflight train --print [overrides ...]",
    ]
    return "\n".join(lines)


def _run(argv: list[str]) -> int:
    argv = list(argv)
    if any(a in ("-h", "--help", "help") for a in argv):
        print(usage())
        return 0
    show = "--print" in argv
    argv = [a for a in argv if a != "--print"]
    cfg = compose("train", argv)
    if show:
        from omegaconf import OmegaConf

        print(OmegaConf.to_yaml(cfg))
        return 0
    from fnflight.cli.preflight import check_run
    from fnflight.training.run import train

    check_run(cfg)  # values, out_dir, ckpt_path and the images, before the first step
    try:
        result = train(cfg)
    except SystemExit as err:
        # Lightning turns Ctrl-C into its own graceful shutdown and sys.exit(1): report it as the interrupt
        # it was (one line, exit 130); SIGTERM reaches guarded as Terminated through Lightning's re-raise
        if isinstance(err.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        if type(err).__name__ == "SIGTERMException":  # Lightning's own SIGTERM stop between steps
            raise Terminated(15) from None
        raise
    if result.trainer is None or result.trainer.is_global_zero:
        print(result.summary(), flush=True)
    return 0


def run(argv: list[str]) -> int:
    """``fnflight train``: one line and exit 2 for a bad config, 130 / 143 when interrupted (checkpoints
    already written stay: resume with ``ckpt_path=last``)."""
    return guarded("train", _run, list(argv))
