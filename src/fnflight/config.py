"""Configuration: OmegaConf groups under ``configs/`` composed with ``key=value`` overrides.

A run config is a root file (``configs/train.yaml``) whose ``defaults`` map names a file in each group
(``model``, ``data``, ``trainer``, ``logger``). An override ``group=name`` picks another file of that group,
``experiment=name`` applies an experiment file (which may pick groups and set keys), and any other
``a.b=value`` sets a key. Keys are checked strictly: an unknown key or group file stops with a message
that lists what is valid. Under a node that names a class (``class_path``), every argument of that
class's constructor is a valid ``init_args`` key, listed in a YAML file or not
(``data.init_args.alpha_range=[0.02,0.04]``): its default joins the config first, so its type is checked
like a listed key's, and a misspelt one lists the constructor's arguments. A value that cannot take the
type of the value it replaces (``trainer.max_steps=abc``) stops too, and so does a required value (``???``
in the YAML) left unset. Objects are named by ``class_path`` + ``init_args`` (no registries);
:func:`instantiate` builds nested objects recursively.

Your own group files: set ``FNFLIGHT_CONFIG_PATH`` to one or more directories (``os.pathsep``-separated) laid
out like ``configs/`` (``data/my_data.yaml``, ``model/...``); they are searched before the packaged configs,
so ``fnflight train data=my_data`` finds them.
"""

from __future__ import annotations

import importlib
import inspect
import os
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

GROUPS = ("model", "data", "trainer", "logger")
ENV_PATH = "FNFLIGHT_CONFIG_PATH"


class ConfigError(ValueError):
    """A bad configuration: unknown key, unknown group file, or a value of the wrong kind."""


def config_dir() -> Path:
    """The directory that holds the YAML configs (shipped inside the package)."""
    return Path(str(resources.files("fnflight") / "configs"))


def config_dirs() -> list[Path]:
    """Directories searched for config files: those of ``$FNFLIGHT_CONFIG_PATH`` first, then the package's."""
    extra = [Path(p) for p in os.environ.get(ENV_PATH, "").split(os.pathsep) if p.strip()]
    return [*extra, config_dir()]


def _find(group: str, name: str) -> Path | None:
    for folder in config_dirs():
        path = folder / group / f"{name}.yaml"
        if path.is_file():
            return path
    return None


def available(group: str) -> list[str]:
    """Names of the files of one config group, e.g. ``available("model")``.

    >>> "deepfnf" in available("model")
    True
    """
    names = {p.stem for folder in config_dirs() for p in (folder / group).glob("*.yaml")}
    return sorted(names)


def _load(group: str, name: str) -> DictConfig:
    path = _find(group, name)
    if path is None:
        raise ConfigError(f"unknown {group} {name!r}; valid: {', '.join(available(group)) or '(none)'}")
    try:
        cfg = OmegaConf.load(path)
    except Exception as err:  # a YAML syntax error names the file
        raise ConfigError(f"cannot read {path}: {err}") from None
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"{path} must hold a mapping, got {type(cfg).__name__}")
    return cfg


def _split(overrides: list[str]) -> tuple[dict[str, str], list[str]]:
    """Separate group picks (``model=bpn``, ``experiment=x``) from key overrides (``a.b=1``)."""
    picks: dict[str, str] = {}
    keys: list[str] = []
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, value = item.split("=", 1)
        if key in (*GROUPS, "experiment") and "." not in key:
            picks[key] = value
        else:
            keys.append(item)
    return picks, keys


def _valid_keys(cfg: Any, prefix: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(cfg, DictConfig):
        for k in cfg.keys():
            path = f"{prefix}{k}"
            child = cfg._get_node(k)
            if isinstance(child, DictConfig) and len(child):
                out += _valid_keys(child, path + ".")
            else:
                out.append(path)
    return out


def _kind(value: Any) -> type | None:
    """The type an override must keep: bool, int/float (numbers) or None for anything (str, null, nodes)."""
    if isinstance(value, bool):
        return bool
    if isinstance(value, (int, float)):
        return float
    return None


def _takes_int(key: str) -> bool:
    """A ``trainer.*`` key whose Trainer argument takes a count as well as a flag (``fast_dev_run=1``)."""
    if not key.startswith("trainer.") or key.count(".") != 1:
        return False
    import pytorch_lightning as pl

    param = inspect.signature(pl.Trainer).parameters.get(key.split(".", 1)[1])
    return param is not None and "int" in str(param.annotation)


def _check_types(before: DictConfig, after: DictConfig, keys: list[str]) -> None:
    for item in keys:
        key = item.split("=", 1)[0].lstrip("+")
        try:
            old = OmegaConf.select(before, key, throw_on_missing=False)
            new = OmegaConf.select(after, key, throw_on_missing=False)
        except OmegaConfBaseException:
            continue
        kind = _kind(old)
        if kind is None or new is None:
            continue
        if kind is bool and isinstance(new, int) and not isinstance(new, bool) and _takes_int(key):
            continue
        ok = (
            isinstance(new, bool)
            if kind is bool
            else isinstance(new, (int, float)) and not isinstance(new, bool)
        )
        if not ok:
            what = "true or false" if kind is bool else "a number"
            raise ConfigError(f"bad value for {key!r}: expected {what} (like {old!r}), got {new!r}")


def _constructor_defaults(class_path: str) -> dict[str, Any]:
    """``{argument: default}`` of a class's constructor (``None`` for required or non-plain defaults); a
    constructor that passes ``**kwargs`` on adds the arguments of its base classes' constructors."""
    out: dict[str, Any] = {}
    for cls in import_class(class_path).__mro__:
        if "__init__" not in vars(cls):
            continue
        params = inspect.signature(cls.__init__).parameters
        for name, p in params.items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or name == "self" or name in out:
                continue
            default = p.default
            if isinstance(default, tuple):
                default = list(default)
            plain = default is None or isinstance(default, (bool, int, float, str, list, dict))
            out[name] = default if plain and default is not inspect.Parameter.empty else None
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break
    return out


def _open_kwargs(params) -> bool:
    return any(p.kind is p.VAR_KEYWORD for p in params.values())


def _takes_anything(cls: type) -> bool:
    """True when every constructor along the MRO walk of :func:`_constructor_defaults` passes ``**kwargs``
    on (nothing bounds the valid names: no check)."""
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        if klass is object:
            return True
        try:
            params = inspect.signature(klass.__init__).parameters
        except (TypeError, ValueError):
            return True
        if not _open_kwargs(params):
            return False
    return True


def admit_constructor_keys(cfg: DictConfig, keys: list[str]) -> None:
    """Add to ``cfg`` (in place) the constructor arguments that the dotted ``keys`` name under a node with a
    ``class_path`` (``<node>.init_args.<argument>...``) and that its YAML does not list, with their
    defaults; an argument the class does not have raises :class:`ConfigError` listing the valid ones.

    >>> cfg = OmegaConf.create({"net": {"class_path": "fnflight.nets.sid.SIDUNet", "init_args": {}}})
    >>> admit_constructor_keys(cfg, ["net.init_args.depth"])
    >>> cfg.net.init_args.depth
    5
    >>> admit_constructor_keys(cfg, ["net.init_args.dept"])
    Traceback (most recent call last):
    ...
    fnflight.config.ConfigError: unknown config key 'net.init_args.dept': fnflight.nets.sid.SIDUNet takes ...
    """
    for key in keys:
        parts = key.lstrip("+").split(".")
        for i in range(len(parts) - 2, -1, -1):
            if parts[i] != "init_args":
                continue
            prefix = ".".join(parts[:i])
            try:
                node = OmegaConf.select(cfg, prefix) if prefix else cfg
            except OmegaConfBaseException:
                node = None
            if not isinstance(node, DictConfig) or not isinstance(node.get("class_path"), str):
                continue
            init = node.get("init_args")
            name = parts[i + 1]
            if isinstance(init, DictConfig) and name in init:
                break  # listed: OmegaConf checks the rest of the path
            defaults = _constructor_defaults(str(node.class_path))
            if name not in defaults:
                raise ConfigError(
                    f"unknown config key {'.'.join(parts[: i + 2])!r}: {node.class_path} takes "
                    f"{', '.join(defaults)}"
                )
            with open_dict(node):
                if not isinstance(init, DictConfig):
                    node.init_args = {}
                with open_dict(node.init_args):
                    node.init_args[name] = defaults[name]
            break


def _dotted(node: Any, prefix: str = "") -> list[str]:
    """Every leaf key of a nested mapping as a dotted path (experiment files)."""
    if not isinstance(node, DictConfig):
        return [prefix] if prefix else []
    out: list[str] = []
    for k in node.keys():
        child = node._get_node(k)
        path = f"{prefix}.{k}" if prefix else str(k)
        out += _dotted(child, path) if isinstance(child, DictConfig) and len(child) else [path]
    return out


def merge_overrides(cfg: DictConfig, keys: list[str]) -> DictConfig:
    """Apply ``a.b=value`` overrides to ``cfg``; an unknown key raises :class:`ConfigError`.

    A bad value for a number or boolean key raises too:

    >>> cfg = OmegaConf.create({"trainer": {"max_steps": 3}})
    >>> merge_overrides(cfg, ["trainer.max_step=4"])
    Traceback (most recent call last):
    ...
    fnflight.config.ConfigError: unknown config key 'trainer.max_step'; valid keys here: trainer.max_steps
    """
    OmegaConf.set_struct(cfg, True)
    admit_constructor_keys(cfg, [item.split("=", 1)[0] for item in keys])
    try:
        merged = OmegaConf.merge(cfg, OmegaConf.from_dotlist(keys))
    except (ConfigAttributeError, ConfigKeyError) as err:
        bad = getattr(err, "full_key", None) or str(err)
        parent = str(bad).rsplit(".", 1)[0] if "." in str(bad) else ""
        try:
            node = OmegaConf.select(cfg, parent) if parent else cfg
        except OmegaConfBaseException:
            node = None
        if not isinstance(node, DictConfig):  # e.g. a typo in a middle key: list what its parent holds
            node, parent = cfg, ""
        valid = _valid_keys(node, parent + "." if parent else "")
        raise ConfigError(f"unknown config key {bad!r}; valid keys here: {', '.join(valid)}") from None
    except OmegaConfBaseException as err:
        raise ConfigError(f"bad override: {err}") from None
    assert isinstance(merged, DictConfig)
    _check_types(cfg, merged, keys)
    return merged


def missing_keys(cfg: DictConfig, prefix: str = "") -> list[str]:
    """Keys still set to ``???`` (required values), as dotted paths.

    >>> missing_keys(OmegaConf.create({"a": {"path": "???", "n": 1}}))
    ['a.path']
    """
    out: list[str] = []
    for k in cfg.keys():
        path = f"{prefix}{k}"
        if OmegaConf.is_missing(cfg, k):
            out.append(path)
            continue
        child = cfg._get_node(k)
        if isinstance(child, DictConfig):
            out += missing_keys(child, path + ".")
    return out


def require_complete(cfg: DictConfig, section: str | None = None) -> None:
    """Raise :class:`ConfigError` naming every required (``???``) value not set in ``cfg`` (or one
    section)."""
    node = cfg if section is None else OmegaConf.select(cfg, section)
    if not isinstance(node, DictConfig):
        return
    missing = missing_keys(node, "" if section is None else section + ".")
    if missing:
        sets = " ".join(f"{k}=..." for k in missing)
        raise ConfigError(f"required value(s) not set: {', '.join(missing)}; set them, e.g. {sets}")


def compose(root: str = "train", overrides: list[str] | None = None) -> DictConfig:
    """Compose ``configs/<root>.yaml`` with its group defaults, an optional experiment, and overrides.

    >>> cfg = compose("train", ["trainer.max_steps=3"])
    >>> int(cfg.trainer.max_steps)
    3
    """
    picks, keys = _split(list(overrides or []))
    base_path = next((d / f"{root}.yaml" for d in config_dirs() if (d / f"{root}.yaml").is_file()), None)
    if base_path is None:
        raise ConfigError(f"no root config {root}.yaml in {', '.join(map(str, config_dirs()))}")
    base = OmegaConf.load(base_path)
    assert isinstance(base, DictConfig)
    defaults = dict(base.pop("defaults", {}) or {})
    experiment = None
    experiment_defaults: dict[str, Any] = {}
    if "experiment" in picks:
        experiment = _load("experiment", picks["experiment"])
        experiment_defaults = dict(experiment.pop("defaults", {}) or {})
        defaults.update(experiment_defaults)
    for group in GROUPS:
        if group in picks:
            defaults[group] = picks[group]
    # a model file may name the data it is made for (``default_data: burst_embedded``): used unless the
    # command line or the experiment picks data, so `model=kpn_burst` alone trains on bursts
    if "data" not in picks and not (experiment is not None and "data" in experiment_defaults):
        own = (
            _load("model", str(defaults.get("model"))).get("default_data") if defaults.get("model") else None
        )
        if own:
            defaults["data"] = str(own)
    unknown = set(picks) - set(GROUPS) - {"experiment"}
    if unknown:
        raise ConfigError(f"unknown group(s) {sorted(unknown)}; valid: {', '.join((*GROUPS, 'experiment'))}")
    parts = [base]
    for group, name in defaults.items():
        if group not in GROUPS:
            raise ConfigError(f"unknown group {group!r} in defaults; valid: {', '.join(GROUPS)}")
        parts.append(OmegaConf.create({group: _load(group, str(name))}))
    cfg = OmegaConf.merge(*parts)
    assert isinstance(cfg, DictConfig)
    cfg.choices = OmegaConf.create(
        {**{str(k): str(v) for k, v in defaults.items()}, "experiment": picks.get("experiment")}
    )
    if experiment is not None:
        cfg = merge_overrides(cfg, [])
        admit_constructor_keys(cfg, _dotted(experiment))  # a paper's protocol may set any argument
        try:
            cfg = OmegaConf.merge(cfg, experiment)  # struct mode: an experiment cannot invent keys
        except (ConfigAttributeError, ConfigKeyError) as err:
            raise ConfigError(f"experiment {picks['experiment']!r} sets an unknown key: {err}") from None
    return merge_overrides(cfg, keys)  # type: ignore[arg-type]


def import_class(path: str) -> Any:
    """Import ``package.module.Name``; a bad path raises :class:`ConfigError`."""
    module_name, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise ConfigError(f"cannot import class_path {path!r}: {err}") from None


def to_container(node: DictConfig | ListConfig | dict | Any) -> Any:
    """Plain Python containers from an OmegaConf node (resolved); a required value left unset raises."""
    if not isinstance(node, (DictConfig, ListConfig)):
        return node
    try:
        return OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as err:
        key = getattr(err, "full_key", "?")
        raise ConfigError(f"required value {key!r} is not set; set it with {key}=...") from None
    except OmegaConfBaseException as err:
        raise ConfigError(f"bad config: {err}") from None


def _build(value: Any, recursive: bool) -> Any:
    if recursive and isinstance(value, dict) and "class_path" in value:
        return instantiate(value)
    if recursive and isinstance(value, list):
        return [_build(v, recursive) for v in value]
    return value


def instantiate(node: DictConfig | dict, recursive: bool = True, **extra: Any) -> Any:
    """Build ``class_path(**init_args, **extra)``, checking argument names against the signature.

    With ``recursive`` (default), any ``init_args`` value that is itself a ``{class_path, init_args}`` mapping
    is built first (e.g. a DataModule's ``source``).

    >>> instantiate({"class_path": "datetime.timedelta", "init_args": {"days": 2}}).days
    2
    """
    spec = to_container(node)
    if not isinstance(spec, dict):
        raise ConfigError(f"config node must be a mapping with class_path, got {type(spec).__name__}")
    if "class_path" not in spec:
        raise ConfigError(f"config node has no class_path: {sorted(spec)}")
    unknown = sorted(set(spec) - {"class_path", "init_args"})
    if unknown:
        raise ConfigError(f"{spec['class_path']}: unknown field(s) {unknown}; valid: class_path, init_args")
    cls = import_class(spec["class_path"])
    kwargs = {k: _build(v, recursive) for k, v in (spec.get("init_args") or {}).items()}
    kwargs.update(extra)
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    if params:
        # a constructor that passes **kwargs on (a DataModule's loader arguments) is checked against its
        # base classes' constructors too (_constructor_defaults walks them); one that takes anything is not
        valid = list(_constructor_defaults(spec["class_path"])) if _open_kwargs(params) else list(params)
        bad = sorted(set(kwargs) - set(valid))
        if bad and not _takes_anything(cls):
            raise ConfigError(
                f"{spec['class_path']} got unknown argument(s) {bad}; valid: {', '.join(valid)}"
            )
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"cannot build {spec['class_path']}: {err}") from None
