"""Typed dataclasses from JSON: field-by-field checks, unknown keys refused, help text beside each field.

Used by the task configs (config.py) and the model configs (models/config.py); imports nothing heavy, so the
command line can build its parser without importing torch.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from typing import Any, TypeVar

from gantransfer.errors import ConfigError

T = TypeVar("T")


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    """The resolved field types of dataclass ``cls`` (cached: resolving string annotations is slow)."""
    return typing.get_type_hints(cls)


def setting(default: Any = dataclasses.MISSING, help: str = "", *, factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with its help text (shown by ``--help``); ``factory`` for mutable defaults."""
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def help_of(cls: type, name: str) -> str:
    """The help text declared beside field ``name`` of ``cls`` (empty when none)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.metadata.get("help", "")
    return ""


def check_value(name: str, value: Any, tp: Any) -> Any:
    """Return ``value`` converted to ``tp`` when lossless, else raise ConfigError naming the field."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return check_value(name, value, a)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"config field {name!r} must not be null")
    if origin in (list, tuple):
        item = typing.get_args(tp)[0] if typing.get_args(tp) else Any
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config field {name!r} must be a list, got {type(value).__name__} {value!r}")
        items = [check_value(f"{name}[{i}]", v, item) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config field {name!r} must be an object, got {type(value).__name__} {value!r}")
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return value if isinstance(value, tp) else from_dict(tp, value, name)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config field {name!r} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config field {name!r} must be an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config field {name!r} must be a number, got {type(value).__name__} {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"config field {name!r} must be a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config field {name!r} must be a string, got {type(value).__name__} {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any], what: str | None = None) -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types with clear messages; runs the
    instance's ``validate()`` when it has one."""
    what = what or cls.__name__
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a JSON object, got {type(data).__name__}")
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config field(s) {', '.join(map(repr, unknown))} for {what}; "
                          f"known fields: {', '.join(sorted(names))}")
    obj = cls(**{k: check_value(k, v, hints[k]) for k, v in data.items()})
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate()
    return obj


def check_fields(cls: type, data: Any, where: str) -> dict[str, Any]:
    """``data`` when it is a JSON object whose keys that name fields of ``cls`` hold values of their declared types
    (other keys are left to the reader: a record may carry more); ConfigError otherwise, one message naming
    ``where`` (the file), the key path, what was found and what was expected. Nothing is built or validated beyond
    the types: the schema check of a record read for display (a report) or before it is used."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: found {type(data).__name__}, expected a JSON object")
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in data:
            try:
                check_value(f.name, data[f.name], hints[f.name])
            except ConfigError as e:
                raise ConfigError(f"{where}: {e}") from None
            except RecursionError:
                raise ConfigError(f"{where}: config field {f.name!r} nests too deeply") from None
    return data


def to_dict(obj: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (nested dataclasses included, tuples as lists)."""
    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(dataclasses.asdict(obj))
