"""Typed configuration: dataclasses loaded from ROS 2 params files (``node: ros__parameters: ...``).

The same YAML file serves two readers: rcl, when a node starts with ``--params-file`` (launch or ``rldg up``),
and :func:`load_config`, when the ROS-free core is used directly (scripts, tests, offline tools). Both end in
:func:`config_from_dict`, so an unknown key, a wrong type or an out-of-range value fails the same way, with
a message that names the file, the node and the key.

Declare fields with :func:`param` to attach bounds and allowed values::

    @dataclass
    class TalkerConfig:
        rate_hz: float = param(10.0, min=0.1, max=1000.0, help="publish rate")
        mode: str = param("fast", choices=("fast", "slow"))

Nested dataclasses map to dotted ROS parameter names (``camera.width``), like nested YAML does in params files.
ROS parameters cannot carry an empty list (rcl reads ``[]`` as "not set"): use a flag to switch a list off.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

#: Parameters every rclpy node may carry that are not part of a node's own config.
RESERVED_PARAMETERS = frozenset({"use_sim_time", "start_type_description_service"})


class ConfigError(ValueError):
    """A configuration value or file is invalid; the message names where and why."""


def param(default: Any, *, help: str = "", min: float | None = None, max: float | None = None,
          choices: tuple | None = None) -> Any:
    """A dataclass field with validation metadata. List defaults are copied per instance."""
    meta = {"help": help, "min": min, "max": max, "choices": choices}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp)


def _check_scalar(value: Any, tp: type, where: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
            if math.isnan(value):
                raise ConfigError(f"{where}: NaN is not allowed")
            return value
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - a programming error in a config class
        raise TypeError(f"{where}: unsupported config field type {tp!r}")
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")


def _check_value(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list of {_type_name(item_tp)}, got {type(value).__name__} "
                              f"{value!r}")
        return [_check_scalar(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {type(value).__name__}")
        return config_from_dict(tp, value, source=where)
    return _check_scalar(value, tp, where)


def _check_bounds(value: Any, meta: Mapping, where: str) -> None:
    values = value if isinstance(value, list) else [value]
    lo, hi, choices = meta.get("min"), meta.get("max"), meta.get("choices")
    for v in values:
        if choices is not None and v not in choices:
            raise ConfigError(f"{where}: {v!r} is not one of {list(choices)}")
        if lo is not None and v < lo or hi is not None and v > hi:
            raise ConfigError(f"{where}: {v!r} is out of range [{lo}, {hi}]")


def config_from_dict(cls: type[T], data: Mapping[str, Any], *, source: str = "config") -> T:
    """Build and validate ``cls`` from a (possibly nested) mapping; missing keys keep their defaults."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; valid keys: {sorted(fields)}")
    kwargs = {}
    for name, value in data.items():
        where = f"{source}.{name}"
        checked = _check_value(value, hints[name], where)
        _check_bounds(checked, fields[name].metadata, where)
        kwargs[name] = checked
    instance = cls(**kwargs)
    # defaults are validated too: a bad default is a bug worth hearing about at once
    for name, f in fields.items():
        if name not in kwargs and not dataclasses.is_dataclass(hints[name]):
            _check_bounds(getattr(instance, name), f.metadata, f"{source}.{name} (default)")
    return instance


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (ROS 2 parameter names)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def unflatten(data: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for name, value in data.items():
        *parents, leaf = name.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"parameter {name!r} conflicts with a scalar parameter {p!r}")
        node[leaf] = value
    return out


def config_to_params(cfg: Any) -> dict[str, Any]:
    """A config instance as flat ROS 2 parameters (dotted names)."""
    return flatten(dataclasses.asdict(cfg))


def _node_keys(node_name: str, namespace: str) -> list[str]:
    ns = namespace.strip("/")
    full = f"/{ns}/{node_name}" if ns else f"/{node_name}"
    keys = ["/**", f"/{ns}/**" if ns else None, node_name, full, full.lstrip("/")]
    return [k for k in keys if k]


def read_params_file(path: str | Path) -> dict[str, Any]:
    """Read and structurally check a ROS 2 params file; returns ``{node_key: parameters}``."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: params file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{path}: a params file maps node names to 'ros__parameters'")
    out = {}
    for node_key, body in doc.items():
        if not isinstance(body, Mapping) or set(body) != {"ros__parameters"}:
            raise ConfigError(f"{path}: entry {node_key!r} must contain exactly one key 'ros__parameters' "
                              f"(ROS 2 params-file format)")
        params = body["ros__parameters"] or {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"{path}: {node_key}.ros__parameters must be a mapping")
        out[str(node_key)] = dict(params)
    return out


def params_for_node(path: str | Path, node_name: str, namespace: str = "") -> dict[str, Any]:
    """The parameters a node called ``node_name`` gets from ``path``: wildcards first, then its own entry."""
    entries = read_params_file(path)
    merged: dict[str, Any] = {}
    for key in _node_keys(node_name, namespace):
        if key in entries:
            merged.update(flatten(entries[key]))
    return unflatten(merged)


def load_config(cls: type[T], path: str | Path | None, node_name: str, *, namespace: str = "",
                overrides: Mapping[str, Any] | None = None) -> T:
    """Load ``cls`` for ``node_name`` from a params file (optional) plus dotted-name overrides."""
    params = flatten(params_for_node(path, node_name, namespace)) if path else {}
    params.update(overrides or {})
    where = f"{path}:{node_name}" if path else node_name
    return config_from_dict(cls, unflatten(params), source=where)
