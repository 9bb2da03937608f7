"""What the command line needs to know of a task, stated once next to its LightningModule.

Every task module that a user can evaluate and enhance with (``fnflight testset`` / ``eval`` / ``enhance`` /
``models``) defines ``SPEC = TaskSpec(...)`` beside its LightningModule, and the LightningModule carries it
as ``spec``. The CLI loops over :func:`specs`; it holds no per-task tables. A sixth task is one new module in
``fnflight/tasks/`` (a LightningModule and its ``SPEC``) plus its configs: :func:`specs` finds every module of
this package that defines a ``SPEC`` (a scan when asked, not a registry filled at import time).

Example:
    >>> [s.name for s in specs()]
    ['burst', 'fnf', 'raw', 'shortlong']
    >>> spec_for("raw").level_key, spec_for("shortlong").level_key
    ('ratio', None)
    >>> spec_for("nope")
    Traceback (most recent call last):
    ...
    fnflight.tasks.spec.UnknownTaskError: unknown task 'nope'; valid tasks: burst, fnf, raw, shortlong
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = ["TaskSpec", "UnknownTaskError", "spec_for", "specs"]


class UnknownTaskError(ValueError):
    """A task name no module of :mod:`fnflight.tasks` states."""


@dataclass(frozen=True)
class TaskSpec:
    """One task as the command line sees it.

    Args:
        name: the task's name: ``fnflight testset task=NAME``, a test set's ``task``, a folder's kind.
        datamodule: class path of the DataModule that writes its test sets (``fnflight testset``).
        level_key: the per-sample level its tables are laid out by (``"dim"``, ``"ratio"``, ``"level"``);
            ``None``: one column (paper 003 Table 1).
        floors: dotted path of its classical floors for ``fnflight eval``:
            ``fn(batch, testset, opts) -> (target sRGB, input panels, floor outputs)``
            (:mod:`fnflight.evaluation.floors`).
        shown_as_input: floors that are an input panel already (not repeated in the comparison pictures).
        enhance_mode: the name of its ``fnflight enhance`` mode (``own`` is the flash/no-flash pair).
        enhance_keys: the keys of that mode besides ckpt, model, out, device and overwrite.
        enhance_files: the input files of that mode, checked to exist before any work.
        folder_layout: how ``in=DIR`` holds the inputs: ``"pairs"`` (files named by ``folder_roles``),
            ``"files"`` (one file each, for the mode's first key) or ``"subfolders"`` (one sub-folder each).
        folder_roles: for ``"pairs"``: ``{enhance key: accepted name endings}`` (``NAME_flash.png``).
        folder_suffixes: the file endings a folder's inputs may have.
        inputs: what its models enhance, for ``fnflight models``.
    """

    name: str
    datamodule: str
    level_key: str | None
    floors: str
    enhance_mode: str
    enhance_keys: tuple[str, ...]
    enhance_files: tuple[str, ...] = ()
    shown_as_input: tuple[str, ...] = ()
    folder_layout: str = "pairs"
    folder_roles: dict[str, tuple[str, ...]] | None = None
    folder_suffixes: tuple[str, ...] = ()
    inputs: str = ""
    testset_defaults: dict[str, Any] = field(default_factory=dict)

    def floors_fn(self):
        """The floors function (imported when asked: the evaluation code is not needed to train)."""
        from fnflight.config import import_class

        return import_class(self.floors)


@lru_cache(maxsize=1)
def specs() -> tuple[TaskSpec, ...]:
    """Every task's spec, by name: the ``SPEC`` of each module of :mod:`fnflight.tasks` that has one."""
    import fnflight.tasks as package

    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, TaskSpec):
            found.append(spec)
    return tuple(sorted(found, key=lambda s: s.name))


def spec_for(name: str) -> TaskSpec:
    """The spec named ``name``; an unknown name lists the valid ones (:class:`UnknownTaskError`)."""
    for spec in specs():
        if spec.name == name:
            return spec
    raise UnknownTaskError(f"unknown task {name!r}; valid tasks: {', '.join(s.name for s in specs())}")
