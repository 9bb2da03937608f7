"""``fnflight train [experiment=NAME] [group=name ...] [key=value ...]``: train a model.

Composes ``configs/train.yaml`` (see :mod:`fnflight.config`) and runs :func:`fnflight.tasks.training.train`.
With no arguments: a small DeepFnF on the embedded photos (CPU, a few minutes). Examples::

    fnflight train                                        # the default small run, runs/deepfnf_small
    fnflight train trainer.max_steps=1000 ckpt_path=last  # continue it
    fnflight train model=kpn logger=csv                   # another method
    fnflight train experiment=deepfnf_paper data.init_args.source.init_args.path=/data/FAID
"""

from __future__ import annotations

import sys

from fnflight.config import GROUPS, ConfigError, available, compose

HELP = __doc__


def usage() -> str:
    lines = [HELP.strip(), "", "config groups (pick with group=name):"]
    for group in (*GROUPS, "experiment"):
        lines.append(f"  {group:<10} {', '.join(available(group))}")
    lines += [
        "",
        "run keys: seed, out_dir, name, ckpt_path (null | last | PATH), overwrite, optim.*, images.*, "
        "checkpoint.*, after_fit.*, and any key of the chosen group files (e.g. trainer.max_steps=50).",
        "Print the composed config without training: fnflight train --print [overrides ...]",
    ]
    return "\n".join(lines)


def run(argv: list[str]) -> int:
    argv = list(argv)
    if any(a in ("-h", "--help", "help") for a in argv):
        print(usage())
        return 0
    show = "--print" in argv
    argv = [a for a in argv if a != "--print"]
    try:
        cfg = compose("train", argv)
        if show:
            from omegaconf import OmegaConf

            print(OmegaConf.to_yaml(cfg))
            return 0
        from fnflight.tasks.training import train

        result = train(cfg)
    except ConfigError as err:
        print(f"fnflight train: {err}", file=sys.stderr)
        return 2
    if result.trainer is None or result.trainer.is_global_zero:
        print(result.summary(), flush=True)
    return 0
