"""Configuration: OmegaConf groups under ``configs/`` composed with ``key=value`` overrides.

A run config is a root file (``configs/train.yaml``) whose ``defaults`` map names a file in each group
(``model``, ``data``, ``trainer``, ``logger``). An override ``group=name`` picks another file of that group,
``experiment=name`` applies an experiment file (which may pick groups and set keys), and any other
``a.b=value`` sets a key. Keys are checked strictly: an unknown key or group file stops with a message
that lists what is valid. Objects are named by ``class_path`` + ``init_args`` (no registries).
"""

from __future__ import annotations

import importlib
import inspect
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

GROUPS = ("model", "data", "trainer", "logger")


class ConfigError(ValueError):
    """A bad configuration: unknown key, unknown group file, or a value of the wrong kind."""


def config_dir() -> Path:
    """The directory that holds the YAML configs (shipped inside the package)."""
    return Path(str(resources.files("fnflight") / "configs"))


def available(group: str) -> list[str]:
    """Names of the files of one config group, e.g. ``available("model")``."""
    folder = config_dir() / group
    return sorted(p.stem for p in folder.glob("*.yaml"))


def _load(group: str, name: str) -> DictConfig:
    path = config_dir() / group / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown {group} {name!r}; valid: {', '.join(available(group)) or '(none)'}")
    cfg = OmegaConf.load(path)
    assert isinstance(cfg, DictConfig)
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
            if isinstance(child, DictConfig) and len(child) and not str(k).endswith("init_args_free"):
                out += _valid_keys(child, path + ".")
            else:
                out.append(path)
    return out


def merge_overrides(cfg: DictConfig, keys: list[str]) -> DictConfig:
    """Apply ``a.b=value`` overrides to ``cfg``; an unknown key raises :class:`ConfigError`."""
    OmegaConf.set_struct(cfg, True)
    try:
        return OmegaConf.merge(cfg, OmegaConf.from_dotlist(keys))  # type: ignore[return-value]
    except (ConfigAttributeError, ConfigKeyError) as err:
        bad = getattr(err, "full_key", None) or str(err)
        parent = str(bad).rsplit(".", 1)[0] if "." in str(bad) else ""
        node = OmegaConf.select(cfg, parent) if parent else cfg
        valid = _valid_keys(node, parent + "." if parent else "")
        raise ConfigError(f"unknown config key {bad!r}; valid keys here: {', '.join(valid)}") from None
    except OmegaConfBaseException as err:
        raise ConfigError(f"bad override: {err}") from None


def compose(root: str = "train", overrides: list[str] | None = None) -> DictConfig:
    """Compose ``configs/<root>.yaml`` with its group defaults, an optional experiment, and overrides.

    >>> cfg = compose("train", ["trainer.max_steps=3"])
    >>> int(cfg.trainer.max_steps)
    3
    """
    picks, keys = _split(list(overrides or []))
    base_path = config_dir() / f"{root}.yaml"
    if not base_path.is_file():
        raise ConfigError(f"no root config {base_path}")
    base = OmegaConf.load(base_path)
    defaults = dict(base.pop("defaults", {}) or {})
    experiment = None
    if "experiment" in picks:
        experiment = _load("experiment", picks["experiment"])
        defaults.update(dict(experiment.pop("defaults", {}) or {}))
    for group in GROUPS:
        if group in picks:
            defaults[group] = picks[group]
    unknown = set(picks) - set(GROUPS) - {"experiment"}
    if unknown:
        raise ConfigError(f"unknown group(s) {sorted(unknown)}; valid: {', '.join((*GROUPS, 'experiment'))}")
    parts = [base]
    for group, name in defaults.items():
        if group not in GROUPS:
            raise ConfigError(f"unknown group {group!r} in defaults; valid: {', '.join(GROUPS)}")
        parts.append(OmegaConf.create({group: _load(group, str(name))}))
    cfg = OmegaConf.merge(*parts)
    cfg.choices = OmegaConf.create({**{str(k): str(v) for k, v in defaults.items()},
                                    "experiment": picks.get("experiment")})
    assert isinstance(cfg, DictConfig)
    if experiment is not None:
        cfg = merge_overrides(cfg, [])
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


def instantiate(node: DictConfig | dict, **extra: Any) -> Any:
    """Build ``class_path(**init_args, **extra)``, checking argument names against the signature."""
    spec = OmegaConf.to_container(node, resolve=True) if isinstance(node, (DictConfig, ListConfig)) else node
    assert isinstance(spec, dict)
    if "class_path" not in spec:
        raise ConfigError(f"config node has no class_path: {sorted(spec)}")
    cls = import_class(spec["class_path"])
    kwargs = {**(spec.get("init_args") or {}), **extra}
    params = inspect.signature(cls).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        bad = sorted(set(kwargs) - set(params))
        if bad:
            raise ConfigError(
                f"{spec['class_path']} got unknown argument(s) {bad}; valid: {', '.join(params)}"
            )
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"cannot build {spec['class_path']}: {err}") from None
