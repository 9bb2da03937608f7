"""The one argument layer of every ``fnflight`` command: ``key=value`` parsing against a per-command schema,
the checks of output locations, and the handling of interrupts.

Why one layer: each command used to read its own arguments, and they disagreed (``compare=ture`` was silently
false in ``enhance``, an error in ``eval``; ``dim=-1`` was taken as a gain and wrote a black image). Here a
command states its keys once (:class:`Key`: type, default, valid range, help) and :meth:`Schema.parse`
applies the same rules everywhere:

- every argument is ``key=value``; an unknown key lists the valid ones;
- numbers are finite and within the key's range, integers where a count is meant; literal words a key
  accepts besides numbers (``dim=auto``) are listed with it;
- one boolean rule: ``true``/``false``/``1``/``0``/``yes``/``no`` (any case), anything else is an error;
- each error is ONE line naming the key, the value given and what is valid (:class:`ArgumentError`, exit 2).

``fnflight train`` keeps its OmegaConf composition (:mod:`fnflight.config`) and checks the values of its run
keys with the same :class:`Key` rules (:func:`check_value`).

Outputs: :func:`check_output_file` / :func:`check_output_dir` run BEFORE any work (a run of minutes must not
end in "cannot write"): the location must be creatable and writable (probed by creating and removing a
hidden file, which also catches read-only file systems and ``/proc``), and the one overwrite rule of every
command applies: an existing output is refused unless ``overwrite=true``.

Interrupts: :func:`guarded` runs a command so that SIGTERM unwinds the stack like Ctrl-C (``finally`` blocks
and the atomic writers remove their temporaries), and prints one line instead of a traceback: exit 130 for
SIGINT, 143 for SIGTERM.

Example:
    >>> schema = Schema("demo", [Key("dim", float, "auto", "gain", low=0, low_open=True, words=("auto",)),
    ...                          Key("compare", bool, False, "side by side")])
    >>> opts = schema.parse(["dim=4", "compare=yes"])
    >>> opts["dim"], opts["compare"], sorted(opts.given)
    (4.0, True, ['compare', 'dim'])
    >>> schema.parse(["dim=-1"])
    Traceback (most recent call last):
    ...
    fnflight.cli.arguments.ArgumentError: bad dim=-1: must be a finite number > 0 (or auto)
    >>> schema.parse(["compare=ture"])
    Traceback (most recent call last):
    ...
    fnflight.cli.arguments.ArgumentError: bad compare=ture: must be true or false (also 1/0, yes/no)
"""

from __future__ import annotations

import math
import os
import re
import signal
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ArgumentError",
    "Key",
    "Options",
    "Schema",
    "Terminated",
    "check_output_dir",
    "check_output_file",
    "check_value",
    "guarded",
    "parse_bool",
    "parse_device",
    "parse_overrides",
    "plain_text",
    "show_progress",
]

TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


class ArgumentError(ValueError):
    """A bad command line: the message is the one line the user sees (exit code 2)."""


class Terminated(BaseException):
    """Raised by the SIGTERM handler of :func:`guarded`: unwinds like ``KeyboardInterrupt`` so that every
    ``finally`` runs (temporary files removed) before the process exits with 143."""


def parse_bool(name: str, value: Any) -> bool:
    """The one boolean rule: ``true/false/1/0/yes/no`` (any case); anything else is an :class:`ArgumentError`.

    Example:
        >>> parse_bool("check", "Yes"), parse_bool("check", "0"), parse_bool("check", False)
        (True, False, False)
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ArgumentError(f"bad {name}={_show(value)}: must be true or false (also 1/0, yes/no)")


@dataclass(frozen=True)
class Key:
    """One ``key=value`` argument of a command.

    Args:
        name: the key as typed.
        type: ``str``, ``int``, ``float`` or ``bool`` (:func:`parse_bool`).
        default: the value when the key is not given (not checked: ``None`` means "not given").
        help: one line for ``--help``.
        low, high: the valid range of a number (inclusive; ``low_open``: ``low`` itself excluded).
        words: literal values accepted besides numbers (``auto``), kept as strings.
        choices: for ``str`` keys, the only valid values.
        repeat: may be given several times and as a comma list; the value is a list.
        items: a comma list of numbers of ``type`` (``sigmas=0.5,1,2``); the value is a tuple.
    """

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    words: tuple[str, ...] = ()
    choices: tuple[str, ...] | None = None
    repeat: bool = False
    items: bool = False

    def valid(self) -> str:
        """What is valid, as the end of an error message: ``a finite number > 0 (or auto)``."""
        if self.type is bool:
            return "true or false (also 1/0, yes/no)"
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        if self.type not in (int, float):
            return "a value"
        text = "a whole number" if self.type is int else "a finite number"
        if self.low is not None and self.high is not None:
            text += f" in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"
        elif self.low is not None:
            text += f" {'>' if self.low_open else '>='} {self.low:g}"
        elif self.high is not None:
            text += f" <= {self.high:g}"
        if self.items:
            text = "a comma list, each " + text
        if self.words:
            text += f" (or {' or '.join(self.words)})"
        return text

    def _bad(self, value: Any, why: str = "") -> ArgumentError:
        return ArgumentError(f"bad {self.name}={_show(value)}: {why}must be {self.valid()}")

    def _number(self, text: str) -> int | float:
        try:
            number = float(text)
        except (TypeError, ValueError):
            raise self._bad(text, "not a number; ") from None
        if not math.isfinite(number):
            raise self._bad(text)
        if self.type is int:
            if not number.is_integer():
                raise self._bad(text, "not a whole number; ")
            number = int(number)
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):
            raise self._bad(text)
        if self.high is not None and number > self.high:
            raise self._bad(text)
        return number

    def convert(self, value: Any) -> Any:
        """``value`` (a string from the command line, or a config value) checked and converted."""
        if self.type is bool:
            try:
                return parse_bool(self.name, value)
            except ArgumentError:
                raise self._bad(value) from None
        text = str(value).strip() if isinstance(value, str) else value
        if isinstance(text, str) and text in self.words:
            return text
        if self.items:
            parts = [p for p in str(text).split(",") if p.strip()]
            if not parts:
                raise self._bad(value, "empty; ")
            try:
                return tuple(self._number(p.strip()) for p in parts)
            except ArgumentError:  # name the whole list as typed
                raise self._bad(value) from None
        if self.type in (int, float):
            if isinstance(value, bool):
                raise self._bad(value, "not a number; ")
            return self._number(text)
        if self.choices is not None and str(text) not in self.choices:
            raise self._bad(value)
        return value


def _show(value: Any) -> str:
    """A value as typed when it is one plain token, else quoted (an empty or spaced value stays visible)."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return text if re.fullmatch(r"[-+.,\w/:~]+", text) else repr(text)


def check_value(key: Key, value: Any) -> Any:
    """``key.convert(value)``: a config value (``fnflight train``'s run keys) checked by the same rules."""
    return key.convert(value)


class Options(dict):
    """Parsed options: a dict of every key (defaults filled) with ``given``, the keys on the command line."""

    given: set[str]


@dataclass
class Schema:
    """The keys of one command (:class:`Key`), its usage lines and examples; :meth:`parse` reads an argv."""

    command: str
    keys: Sequence[Key]
    usage: str = ""
    examples: Sequence[str] = ()
    _by_name: dict[str, Key] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {k.name: k for k in self.keys}

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def key(self, name: str) -> Key:
        return self._by_name[name]

    def names(self) -> list[str]:
        return [k.name for k in self.keys]

    def split(self, item: str) -> tuple[str, str]:
        """``"key=value"`` -> ``(key, value)``; an item without ``=`` or with an unknown key is an error."""
        key, sep, value = item.partition("=")
        if not sep:
            raise ArgumentError(
                f"argument {item!r} is not of the form key=value; valid keys: {', '.join(self.names())}"
            )
        if key not in self._by_name:
            raise ArgumentError(f"unknown key {key!r}; valid keys: {', '.join(self.names())}")
        return key, value

    def parse(self, argv: Iterable[str]) -> Options:
        """Every ``key=value`` of ``argv`` checked and converted (module docstring); defaults for the rest.

        A key given twice keeps the last value (a ``repeat`` key collects them all).
        """
        opts = Options({k.name: ([] if k.repeat else k.default) for k in self.keys})
        opts.given = set()
        for item in argv:
            name, value = self.split(item)
            key = self._by_name[name]
            if key.repeat:
                opts[name] += [v for v in value.split(",") if v]
            else:
                opts[name] = key.convert(value)
            opts.given.add(name)
        return opts

    def help(self, description: str = "") -> str:
        """Plain-text help: usage, the description (reStructuredText roles removed), examples, the keys."""
        lines = [f"usage: {self.usage}" if self.usage else f"usage: fnflight {self.command} [key=value ...]"]
        if description:
            lines += ["", plain_text(description).strip()]
        if self.examples:
            lines += ["", "examples:"] + [f"  {e}" for e in self.examples]
        lines += ["", "keys:"]
        width = max(len(k.name) for k in self.keys) + 2
        for k in self.keys:
            default = "" if k.default in (None, "", []) or k.repeat else f" (default {_shown(k.default)})"
            valid = "" if k.type is str and k.choices is None else f"; {k.valid()}"
            lines.append(f"  {k.name:<{width}}{k.help}{valid}{default}")
        return "\n".join(lines)


def parse_overrides(
    defaults: dict[str, Any], argv: Iterable[str], choices: dict[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """``key=value`` arguments of a command whose keys are those of ``defaults`` (``fnflight bench ...``),
    read as OmegaConf's dotlist (lists as ``cases=[a,b]``) under this layer's rules: every argument is
    ``key=value``, an unknown key lists the valid ones, a key whose default is a boolean follows the one
    boolean rule and one whose default is a number must be a finite number (``null`` allowed where the default
    is ``None``); a key of ``choices`` takes only those values (each item, for a list). Returns ``defaults``
    updated (plain containers).

    Example:
        >>> parse_overrides({"repeats": 3, "memory": True, "cases": ["a"]}, ["memory=no", "cases=[a,b]"])
        {'repeats': 3, 'memory': False, 'cases': ['a', 'b']}
        >>> parse_overrides({"repeats": 3}, ["repeat=2"])
        Traceback (most recent call last):
        ...
        fnflight.cli.arguments.ArgumentError: unknown key 'repeat'; valid keys: repeats
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    items = list(argv)
    schema = Schema("", [Key(name) for name in defaults])
    for item in items:  # key=value and a known key (a dotted key: its first part, a group of defaults)
        name, _, value = item.partition("=")
        top, dot, rest = name.partition(".")
        schema.split(f"{top}={value}" if dot else item)
        if dot and (not isinstance(defaults[top], dict) or rest.split(".")[0] not in defaults[top]):
            valid = ", ".join(f"{top}.{k}" for k in defaults[top]) if isinstance(defaults[top], dict) else top
            raise ArgumentError(f"unknown key {name!r}; valid keys: {valid}")
    try:
        given = OmegaConf.to_container(OmegaConf.from_dotlist(items), resolve=True)
    except OmegaConfBaseException as err:
        raise ArgumentError(f"cannot read {' '.join(items)!r}: {str(err).splitlines()[0]}") from None
    opts = dict(defaults)
    for name, value in given.items():  # type: ignore[union-attr]
        default = defaults[name]
        if isinstance(default, dict) and isinstance(value, dict):  # a group: its given keys replaced
            value = {**default, **value}
        elif isinstance(default, bool):
            value = parse_bool(name, value)
        elif isinstance(default, (int, float)) and value is not None:
            value = Key(name, type(default)).convert(value)
        valid = (choices or {}).get(name)
        if valid is not None:
            bad = [v for v in (value if isinstance(value, list) else [value]) if str(v) not in valid]
            if bad:
                shown = "[" + ",".join(map(str, value)) + "]" if isinstance(value, list) else _show(value)
                raise ArgumentError(f"bad {name}={shown}: {bad[0]} is not one of {', '.join(valid)}")
        opts[name] = value
    return opts


def parse_device(name: str, error: type[ArgumentError] = ArgumentError) -> Any:
    """``device=`` -> :class:`torch.device` (``auto``: CUDA if available, else CPU); a bad name, or CUDA on
    a machine without it, is ``error`` (one line, before any work).

    Example:
        >>> str(parse_device("cpu"))
        'cpu'
        >>> parse_device("tpu")
        Traceback (most recent call last):
        ...
        fnflight.cli.arguments.ArgumentError: bad device=tpu: must be one of auto, cpu, cuda, cuda:N
    """
    import torch

    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not re.fullmatch(r"cuda:\d+", name):
        raise error(f"bad device={name}: must be one of auto, cpu, cuda, cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise error(f"device={name}: no CUDA device is available here (use device=cpu or auto)")
    return torch.device(name)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


_ROLE = re.compile(r":[a-z]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`")


def plain_text(doc: str) -> str:
    """A reStructuredText docstring as plain text for ``--help``: roles become their target's last name
    (``:func:`~a.b.c``` -> ``c``; a dotted target without ``~`` is kept whole), literals lose their
    backquotes, ``::`` becomes ``:``.

    Example:
        >>> plain_text("see :func:`~fnflight.nets.tiling.tiled_forward` and ``tile=auto``::")
        'see tiled_forward and tile=auto:'
    """

    def role(match: re.Match) -> str:
        target = match.group(1)
        return target.rsplit(".", 1)[-1] if match.group(0)[match.group(0).index("`") + 1] == "~" else target

    text = _ROLE.sub(role, doc)
    text = text.replace("``", "")
    return re.sub(r"::(\s*)$", r":\1", text, flags=re.MULTILINE)


# --- output locations -------------------------------------------------------------------------------------


def _probe(folder: Path, key: str, path: Path) -> None:
    """Create and remove a hidden file in ``folder``: the real test of writability (permissions, a
    read-only file system, ``/proc``), which ``os.access`` does not give for root."""
    try:
        fd, name = tempfile.mkstemp(prefix=".fnflight-probe-", dir=folder)
    except OSError as err:
        raise ArgumentError(
            f"{key}={path}: cannot write to {folder} ({err.strerror or type(err).__name__})"
        ) from None
    os.close(fd)
    try:
        os.unlink(name)
    except OSError:  # pragma: no cover - removed meanwhile
        pass


def _existing_ancestor(path: Path) -> Path:
    folder = path
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_output_file(
    path: str | Path, key: str = "out", overwrite: bool = False, parents: bool = False
) -> Path:
    """Check before any work that the output file ``path`` can be written; creates nothing.

    Args:
        path: the output file.
        key: the command-line key, for the message.
        overwrite: an existing file may be replaced (else it is refused: the one overwrite rule).
        parents: missing folders above it will be created (else its folder must exist).

    Returns:
        ``path`` (``~`` expanded).

    Raises:
        ArgumentError: one line naming the key, the path and the problem.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise ArgumentError(f"{key}={path}: is a folder; give an output file name")
    folder = path.parent
    if not folder.exists():
        if not parents:
            raise ArgumentError(f"{key}={path}: the output folder {folder} does not exist (create it first)")
        folder = _existing_ancestor(folder)
    if not folder.is_dir():
        raise ArgumentError(f"{key}={path}: cannot write to {folder}: it is not a folder")
    _probe(folder, key, path)
    if path.exists() and not overwrite:
        raise ArgumentError(f"{key}={path}: the file exists; pass overwrite=true to replace it")
    return path


def check_output_dir(
    path: str | Path, key: str = "out", overwrite: bool = False, holds: Sequence[str] = ()
) -> Path:
    """Check before any work that the output folder ``path`` can be created (or exists) and written;
    creates nothing (a refused command leaves no empty folder).

    Args:
        path: the output folder.
        key: the command-line key, for the message.
        overwrite: the files of ``holds`` may be replaced.
        holds: names of the files the command writes into the folder: if one exists, the folder holds an
            earlier output, refused unless ``overwrite``.

    Returns:
        ``path`` (``~`` expanded).

    Raises:
        ArgumentError: one line naming the key, the path and the problem.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ArgumentError(f"{key}={path}: exists and is not a folder")
    folder = _existing_ancestor(path)
    if not folder.is_dir():
        raise ArgumentError(f"{key}={path}: cannot create it: {folder} is not a folder")
    _probe(folder, key, path)
    if path.is_dir() and not overwrite:
        found = [name for name in holds if (path / name).exists()]
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise ArgumentError(
                f"{key}={path}: already holds {found[0]}{more} of an earlier run; pass overwrite=true to "
                "replace them"
            )
    return path


# --- progress and interrupts ------------------------------------------------------------------------------


def show_progress() -> bool:
    """Progress bars only when a person watches: stderr is a terminal (not a log file or a pipe)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def guarded(command: str, run: Callable[[list[str]], int | None], argv: list[str]) -> int:
    """``run(argv)`` with SIGTERM turned into :class:`Terminated` (so temporaries are removed on the way
    out) and interrupts reported in one line: exit 130 (SIGINT, Ctrl-C) or 143 (SIGTERM)."""
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        return int(run(argv) or 0)
    except KeyboardInterrupt:
        print(f"\nfnflight {command}: interrupted (SIGINT); unfinished outputs removed", file=sys.stderr)
        return 130
    except Terminated:
        print(f"fnflight {command}: terminated (SIGTERM); unfinished outputs removed", file=sys.stderr)
        return 143
    except ArgumentError as err:
        print(f"fnflight {command}: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        # the error classes of fnflight's modules (CheckpointError, SourceError, TestSetError, ...) are the
        # user's problem stated in one line; any other ValueError is a bug and keeps its traceback
        if not type(err).__module__.startswith("fnflight."):
            raise
        print(f"fnflight {command}: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk, a file that went away: one line, not a traceback
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        print(f"fnflight {command}: {where}{err.strerror or err}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
