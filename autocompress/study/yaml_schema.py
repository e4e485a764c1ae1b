"""Typed YAML: a mapping read into a frozen dataclass, every value checked against its field.

Lists become tuples, nested mappings nested dataclasses (or ``dict[K, V]`` fields), and an
unknown or mistyped key is refused with its dotted path, so a typo never silently falls back to
a default. A dataclass's ``InitVar`` keys are read too (how a renamed key is still accepted).
"""

from __future__ import annotations

import dataclasses
import types
import typing

from autocompress.errors import UserError

__all__ = ["build"]


def build(cls: type, values: object, path: str = "") -> typing.Any:
    """An instance of the dataclass ``cls`` from the mapping ``values``; ``path`` names where
    ``values`` sits in the file (empty at its top)."""
    if not isinstance(values, dict):
        raise UserError(f"{path or 'study'}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    names |= {name for name, hint in hints.items() if isinstance(hint, dataclasses.InitVar)}
    unknown = sorted(set(values) - names)
    if unknown:
        where = f"{path}." if path else ""
        raise UserError(f"unknown key {where}{unknown[0]}; allowed: {', '.join(sorted(names))}")
    kwargs = {
        key: _convert(value, hints[key], f"{path}.{key}" if path else key)
        for key, value in values.items()
    }
    return cls(**kwargs)


def _convert(value: object, annotation: object, path: str) -> object:
    """Check ``value`` against a field's type (YAML lists become tuples), naming ``path``."""
    if isinstance(annotation, dataclasses.InitVar):
        annotation = annotation.type
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, path)
            except UserError as error:
                errors.append(str(error))
        raise UserError(errors[0])
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise UserError(f"{path}: expected a list, got {value!r}")
        args = typing.get_args(annotation)
        item_types = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
        if len(item_types) != len(value):
            raise UserError(f"{path}: expected {len(item_types)} items, got {len(value)}")
        return tuple(
            _convert(v, t, f"{path}[{i}]")
            for i, (v, t) in enumerate(zip(value, item_types, strict=True))
        )
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{path}: expected a mapping, got {value!r}")
        key_type, value_type = typing.get_args(annotation)
        return {
            _convert(k, key_type, path): _convert(v, value_type, f"{path}.{k}")
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(annotation):
        return build(annotation, value, path)
    if annotation is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, str, bool) and type(value) is annotation:
        return value
    raise UserError(
        f"{path}: expected {getattr(annotation, '__name__', annotation)}, got {value!r}"
    )
