"""Typed configs: dataclasses validated once, at the edge (CLI, YAML file, ``reprlab.load``).

Each field carries its help text in ``metadata["help"]``; :func:`from_dict` checks every key and
value against the field's type and raises a one-line :class:`ConfigError` naming the key and
what is allowed. The library below trusts the resulting objects.

A ``str`` field whose allowed values are a registry's names (GAN losses, regularizers) takes
``choices=``, a function that returns them: they are read when a value is checked and when
``--help`` is printed, so a name added to the registry is accepted with no other edit.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, get_args, get_origin

import yaml

from .errors import ConfigError


def option(default: Any, help: str, *, choices: Callable[[], Iterable[Any]] | None = None,
           aliases: tuple[str, ...] = (), **constraints: Any) -> Any:
    """A config field with a help string and optional constraints (``ge``, ``gt``, ``le``, ``lt``).

    ``choices``: a function returning the allowed values (e.g. a registry's names), called each
    time a value is checked or the help is printed (instead of a ``Literal`` copy of the registry).
    ``aliases``: former names of the key, still accepted (with a deprecation message, see
    :func:`canonical_key`), e.g. ``code_dim`` for ``latent_dim``.
    """
    meta = {"help": help, **constraints}
    if choices is not None:
        meta["choices"] = choices
    if aliases:
        meta["aliases"] = tuple(aliases)
    kwargs: dict[str, Any] = {"metadata": meta}
    if isinstance(default, (list, dict, set)):
        kwargs["default_factory"] = lambda: type(default)(default)
    else:
        kwargs["default"] = default
    return dataclasses.field(**kwargs)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {_type_name(args[0])}"
        return "list of " + ", ".join(_type_name(a) for a in args)
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _parse_scalar(text: str) -> Any:
    """A command-line value: YAML scalars/lists (``1e-3``, ``true``, ``[256, 64]``, ``null``)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def coerce(value: Any, tp: Any, key: str) -> Any:
    """``value`` converted to type ``tp`` or a ConfigError naming ``key`` and what is allowed."""
    origin = get_origin(tp)
    bad = ConfigError(f"{key}: {value!r} is not allowed; expected {_type_name(tp)}")
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise bad
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise bad
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, key)
            except ConfigError:
                continue
        raise bad
    if origin is tuple:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise bad
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], key) for v in value)
        if len(value) != len(args):
            raise bad
        return tuple(coerce(v, a, key) for v, a in zip(value, args))
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, str):  # ``1e3`` or ``10_000`` from YAML 1.1
            try:
                value = float(value.strip().replace("_", ""))
            except ValueError:
                raise bad from None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise bad
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads ``1e-3`` (no dot) as a string
            try:
                value = float(value.strip())
            except ValueError:
                raise bad from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{key}: {value!r} is not allowed; expected a finite number")
        return value
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    raise ConfigError(f"{key}: unsupported config type {_type_name(tp)}")


def _check_constraints(value: Any, meta: dict, key: str) -> None:
    if value is None:
        return
    items = value if isinstance(value, tuple) else (value,)
    for v in items:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        for name, ok, word in (
            ("ge", lambda a, b: a >= b, ">="),
            ("gt", lambda a, b: a > b, ">"),
            ("le", lambda a, b: a <= b, "<="),
            ("lt", lambda a, b: a < b, "<"),
        ):
            if name in meta and not ok(v, meta[name]):
                raise ConfigError(f"{key}: {value!r} is not allowed; must be {word} {meta[name]}")


def choices_of(f: dataclasses.Field) -> list[Any] | None:
    """The allowed values of a field declared with ``option(..., choices=...)``, read now (else None)."""
    choices = f.metadata.get("choices")
    return None if choices is None else list(choices())


def _check_choices(value: Any, f: dataclasses.Field, key: str) -> None:
    allowed = choices_of(f)
    if allowed is not None and value is not None and value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not allowed; expected {' | '.join(repr(a) for a in allowed)}")


def fields_of(cls: type) -> dict[str, dataclasses.Field]:
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        f.type = hints[f.name]
        out[f.name] = f
    return out


def aliases_of(cls: type) -> dict[str, str]:
    """``{former name: key}`` for the fields of ``cls`` declared with ``option(..., aliases=...)``."""
    return {a: name for name, f in fields_of(cls).items() for a in f.metadata.get("aliases", ())}


def canonical_key(cls: type, key: str, section: str = "") -> str:
    """``key`` itself, or the current name of a former key of ``cls`` (with a deprecation message
    on the ``reprlab`` logger, once per process and key)."""
    new = aliases_of(cls).get(key)
    if new is None:
        return key
    prefix = f"{section}." if section else ""
    if (prefix + key) not in _WARNED:
        _WARNED.add(prefix + key)
        import logging

        logging.getLogger("reprlab").warning(
            f"note: {prefix}{key} is now called {prefix}{new} (the old name still works, but is deprecated)")
    return new


_WARNED: set[str] = set()


def from_dict(cls: type, values: dict[str, Any] | None, section: str = "") -> Any:
    """Build dataclass ``cls`` from ``values``, validating every key, type and constraint.
    A former name of a key (``option(..., aliases=...)``) is read as the key."""
    fields = fields_of(cls)
    values = dict(values or {})
    for key in [k for k in values if k not in fields]:
        new = canonical_key(cls, key, section)
        if new != key:
            if new in values:
                raise ConfigError(f"{section + '.' if section else ''}{key} and {new} are the same key; give only {new}")
            values[new] = values.pop(key)
    prefix = f"{section}." if section else ""
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key {prefix}{unknown[0]}; allowed: {', '.join(prefix + k for k in fields)}"
        )
    kwargs = {}
    for name, value in values.items():
        f = fields[name]
        v = coerce(value, f.type, prefix + name)
        _check_constraints(v, f.metadata, prefix + name)
        _check_choices(v, f, prefix + name)
        kwargs[name] = v
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{section or cls.__name__}: {e}") from None


def to_dict(obj: Any) -> dict[str, Any]:
    """A plain, YAML/JSON-safe dict of a config dataclass (tuples become lists)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    return plain(obj)


def describe(cls: type, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, type and default, help) for each field: what ``--help`` prints."""
    rows = []
    for name, f in fields_of(cls).items():
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        allowed = choices_of(f)
        kind = _type_name(f.type) if allowed is None else " | ".join(repr(a) for a in allowed)
        rows.append((prefix + name, f"{kind} = {default!r}", f.metadata.get("help", "")))
    return rows


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML or JSON config file as a dict, or a one-line ConfigError."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist; pass the path of a .yaml or .json file")
    try:
        text = p.read_text()
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(f"config file {p} is not valid YAML/JSON ({first}); fix the syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a mapping of sections (model:, data:, train:)")
    return data


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    """``["train.lr=1e-3", "latent_dim=2"]`` -> ``[("train.lr", 0.001), ("latent_dim", 2)]``."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like key=value (e.g. train.lr=1e-3)")
        out.append((key.strip(), _parse_scalar(value)))
    return out
