"""Protocol configs: one frozen dataclass per paper, overrides by name, stored with each result.

A paper's ``reproduce.py`` declares ``Config`` (a frozen dataclass with an ``about`` field: the
protocol's one-line description) and ``PROTOCOLS = {"smoke": Config(...), "cpu": ..., "full": ...}``.
``paperzoo reproduce SLUG --set epochs=3`` and ``pz.reproduce(..., overrides={"epochs": 3})`` go
through ``apply_overrides``, which parses strings into the field's type and refuses unknown keys.
"""
from __future__ import annotations

import ast
import dataclasses
from typing import Any, Mapping

from paperzoo.names import did_you_mean


def check_config(cfg: Any, where: str = "config") -> None:
    if not (dataclasses.is_dataclass(cfg) and not isinstance(cfg, type)):
        raise TypeError(f"{where}: a protocol config must be a dataclass instance, got {type(cfg).__name__}")
    params = getattr(type(cfg), "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{where}: {type(cfg).__name__} must be a frozen dataclass (@dataclass(frozen=True))")
    if not isinstance(getattr(cfg, "about", None), str):
        raise TypeError(f"{where}: {type(cfg).__name__} needs an `about: str` field (the one-line description)")


def _parse(text: str, current: Any, key: str) -> Any:
    if isinstance(current, str):
        return text
    if current is None:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
    if isinstance(current, bool):
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"--set {key}={text}: expected a boolean (true/false)")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError) as e:
        raise ValueError(f"--set {key}={text}: cannot parse as {type(current).__name__} ({e})") from e
    if isinstance(current, float) and isinstance(value, int):
        value = float(value)
    if isinstance(current, tuple) and isinstance(value, (list, tuple)):
        value = tuple(value)
    if isinstance(current, tuple) and isinstance(value, (int, float, str)):
        value = (value,)
    if current is not None and not isinstance(value, type(current)) and not (
            isinstance(current, (int, float)) and isinstance(value, (int, float)) and not isinstance(value, bool)):
        raise ValueError(f"--set {key}={text}: expected {type(current).__name__}, got {type(value).__name__}")
    return value


def apply_overrides(cfg: Any, overrides: Mapping[str, Any] | None) -> Any:
    """``cfg`` with ``overrides`` replaced; string values are parsed to the field's type."""
    if not overrides:
        return cfg
    names = [f.name for f in dataclasses.fields(cfg)]
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            raise KeyError(f"unknown config key {key!r}{did_you_mean(key, names)} (fields: {', '.join(names)})")
        changes[key] = _parse(value, getattr(cfg, key), key) if isinstance(value, str) else value
    return dataclasses.replace(cfg, **changes)


def parse_sets(items: list[str] | None) -> dict[str, str]:
    """``["epochs=3", "lr=0.1"]`` -> ``{"epochs": "3", "lr": "0.1"}``."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def config_dict(cfg: Any) -> dict[str, Any]:
    """The config as plain JSON-able data (stored in the ``Result``)."""
    return dataclasses.asdict(cfg)
