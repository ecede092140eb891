"""`--set key=value` overrides and JSON round-trips for any dataclass config.

The type of each field (its annotation) decides how a string value is read, so
every app config gets the same command-line behaviour without writing a parser.
"""

import dataclasses
import difflib
import enum
import math
import types
import typing

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_NONE = ("none", "null")


def from_overrides(config, overrides):
    """Returns a copy of a dataclass config with `key=value` overrides applied.

    Values are read by the annotated type of their field: `int`, `float` (finite
    only: `nan` and `inf` are refused), `str`,
    `bool` (`true/false/yes/no/on/off/1/0`), `X | None` (`none` or `null` for
    `None`), `typing.Literal[...]`, enums (by name or value) and tuples or lists
    (comma-separated, e.g. `layers=64,64`). A dotted key (`model.units=64`)
    reaches into a nested dataclass field. The result is built with
    `dataclasses.replace` once all overrides are read, so the config's own
    `__post_init__` checks run on the whole change: two fields that must change
    together (`model.word_vectors=... model.embedding_dim=...`) can.

    Args:
        config: A dataclass instance, usually a frozen one.
        overrides: An iterable of `"key=value"` strings, applied in order.

    Returns:
        A new instance of `type(config)`.

    Raises:
        ValueError: If an override is not `key=value`, names no field (the
            message lists the fields and the closest match), or its value
            cannot be read as the field's type.

    Example:

    >>> config = from_overrides(TrainConfig(), ["epochs=3", "clipnorm=none"])
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise ValueError(f"Expected a dataclass instance. Received: config={config!r}")
    if isinstance(overrides, str):
        # A bare string would be iterated character by character.
        overrides = [overrides]
    changes = {}  # {field: value, or {field: ...} for a nested config}
    for override in overrides:
        key, sep, text = str(override).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(
                f"Expected an override of the form key=value. Received: override={override!r}"
            )
        _collect(config, key.split("."), text.strip(), key, changes)
    return _apply(config, changes)


def config_to_dict(config):
    """Returns a dataclass config as a JSON-ready dict (tuples become lists).

    Args:
        config: A dataclass instance.

    Returns:
        A dict of plain python values; nested dataclasses become nested dicts.
    """
    return _to_json(dataclasses.asdict(config))


def config_from_dict(cls, data):
    """Rebuilds a dataclass config from `config_to_dict`'s output.

    Lists become tuples where the field is a tuple, nested dicts become nested
    dataclasses, and a key the class does not have is an error, so a config
    saved by a newer version is not silently truncated.

    Args:
        cls: The dataclass type.
        data: A mapping of field names to values, e.g. loaded from JSON.

    Returns:
        An instance of `cls`.
    """
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(
            f"Expected only fields of {cls.__name__}: {names}. Received unknown keys: {unknown}"
        )
    kwargs = {}
    for name, value in data.items():
        hint = _strip_optional(hints[name])
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = config_from_dict(hint, value)
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        elif isinstance(hint, type) and issubclass(hint, enum.Enum) and value is not None:
            value = hint(value)
        kwargs[name] = value
    return cls(**kwargs)


def _apply(config, changes):
    values = {
        name: _apply(getattr(config, name), value) if isinstance(value, dict) else value
        for name, value in changes.items()
    }
    return dataclasses.replace(config, **values)


def _collect(config, path, text, full_key, changes):
    fields = {f.name: f for f in dataclasses.fields(config) if f.init}
    name = path[0]
    if name not in fields:
        close = difflib.get_close_matches(name, fields, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Expected a field of {type(config).__name__}, one of {sorted(fields)}.{hint} "
            f"Received: key={full_key!r}"
        )
    current = getattr(config, name)
    if len(path) > 1:
        if not dataclasses.is_dataclass(current):
            raise ValueError(
                f"Expected `{name}` to be a nested config for a dotted key. "
                f"Received: key={full_key!r}"
            )
        _collect(current, path[1:], text, full_key, changes.setdefault(name, {}))
        return
    hint = typing.get_type_hints(type(config))[name]
    try:
        value = _parse(text, hint)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Expected `{full_key}` to be {_describe(hint)}. "
            f"Received: {full_key}={text!r} ({error})"
        ) from None
    changes[name] = value


def _parse(text, hint):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and text.lower() in _NONE:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _parse(text, arg)
            except (TypeError, ValueError) as error:
                errors.append(str(error))
        raise ValueError("; ".join(errors))
    if origin is typing.Literal:
        for choice in args:
            if text == str(choice) or (
                isinstance(choice, bool) and text.lower() == str(choice).lower()
            ):
                return choice
        raise ValueError(f"not one of {args}")
    if origin in (tuple, list):
        items = [item.strip() for item in text.split(",")] if text.strip() else []
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            values = [_parse(item, args[0]) for item in items]
        elif origin is tuple and args:
            if len(items) != len(args):
                raise ValueError(f"{len(args)} comma-separated values needed, got {len(items)}")
            values = [_parse(item, arg) for item, arg in zip(items, args)]
        else:
            values = [_parse(item, args[0]) if args else item for item in items]
        return tuple(values) if origin is tuple else values
    if hint is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("not a bool")
    if hint is int:
        return int(text)
    if hint is float:
        value = float(text)
        # float() reads "nan", "inf" and "1e999" (and 400 nines) as numbers that
        # no config field means: refuse them here, for every field at once.
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value
    if hint is str:
        return text
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        if text in hint.__members__:
            return hint[text]
        for member in hint:
            if str(member.value) == text:
                return member
        raise ValueError(f"not one of {[m.name for m in hint]}")
    if dataclasses.is_dataclass(hint):
        raise TypeError("a nested config; set its fields with dotted keys, e.g. name.field=value")
    raise TypeError(f"no reader for fields of type {hint!r}")


def _describe(hint):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        parts = [_describe(arg) for arg in args if arg is not type(None)]
        return " or ".join(parts) + (" or none" if type(None) in args else "")
    if origin is typing.Literal:
        return f"one of {args}"
    if origin in (tuple, list):
        return "a comma-separated list"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return f"one of {[m.name for m in hint]}"
    if hint is int:
        return "an int"
    return f"a {getattr(hint, '__name__', hint)}"


def _strip_optional(hint):
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _to_json(value):
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_json(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value
