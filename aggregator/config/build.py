"""YAML values -> the config's frozen dataclasses. Each dataclass field is declared with
``option(kind, ...)``; ``build`` checks every key of a mapping against them, collecting
every problem (with its key path) instead of stopping at the first, and ``model_schema``
writes the same declarations out as JSON Schema."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aggregator.config.kinds import Kind, Schema, found
from aggregator.config.values import format_duration, suggest
from aggregator.errors import Invalid

Loc = tuple[str | int, ...]
INVALID: Any = object()  # what a value that had a problem builds into
_NOT_WRITTEN = object()


class Context:
    """One load: the config file's folder (paths resolve against it) and every problem
    found so far, each as (key path, message)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.problems: list[tuple[Loc, str]] = []

    def resolve(self, path: Path) -> Path:
        """``path`` resolved against the config file's folder."""
        return (self.base / path.expanduser()).resolve()

    def parse(self, kind: Kind, value: Any, loc: Loc) -> Any:
        """``kind.parse(value)``, or INVALID after noting its problem at ``loc``."""
        try:
            return kind.parse(value, self, loc)
        except Invalid as e:
            self.problems.append((loc, str(e)))
            return INVALID


class Option:
    """How one dataclass field is written in YAML: its kind, key, help and default."""

    def __init__(self, kind: Kind, description: str, alias: str | None, written: Any) -> None:
        self.kind, self.description, self.alias = kind, description, alias
        self.written = written  # a default to parse as if the file said it (paths)


def option(
    kind: Kind,
    default: Any = dataclasses.MISSING,
    *,
    description: str,
    alias: str | None = None,
    factory: Callable[[], Any] | None = None,
    written: Any = _NOT_WRITTEN,
) -> Any:
    """A dataclass field read from YAML as ``kind``; without a default it is required.
    ``written`` is a default that resolves like a written value (relative paths)."""
    meta = {"option": Option(kind, description, alias, written)}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@functools.cache
def options(model: type) -> dict[str, tuple[str, Option, Any]]:
    """The YAML keys of ``model``: key -> (field name, Option, default or MISSING)."""
    keys = {}
    for spec in dataclasses.fields(model):
        if "option" in spec.metadata:
            opt = spec.metadata["option"]
            default = spec.default
            if spec.default_factory is not dataclasses.MISSING:
                default = spec.default_factory()
            keys[opt.alias or spec.name] = (spec.name, opt, default)
    return keys


def build(model: type, data: Any, ctx: Context, loc: Loc = ()) -> Any:
    """An instance of ``model`` from a YAML mapping, or INVALID; problems go to ``ctx``."""
    if not isinstance(data, dict):
        ctx.problems.append((loc, f"expected keys and values (key: value); found {found(data)}"))
        return INVALID
    keys = options(model)
    for key in data:
        if key not in keys:
            ctx.problems.append(((*loc, key), f"unknown key{suggest(str(key), keys)}"))
    values, complete = {}, True
    for key, (name, opt, default) in keys.items():
        value = data.get(key, _NOT_WRITTEN)
        if value is None and default is None:
            value = _NOT_WRITTEN  # `key:` with nothing after it, where nothing is the default
        if value is _NOT_WRITTEN:
            if default is dataclasses.MISSING:
                ctx.problems.append(((*loc, key), "required key is missing"))
                complete = False
            elif opt.written is not _NOT_WRITTEN:
                value = opt.written
            else:
                continue
        elif value is None:
            message = "has no value; write one after the ':' or remove the key"
            ctx.problems.append(((*loc, key), message))
            complete = False
        if value is _NOT_WRITTEN or value is None:
            continue
        parsed = ctx.parse(opt.kind, value, (*loc, key))
        if parsed is INVALID:
            complete = False
        values[name] = parsed
    if not complete:
        return INVALID
    built = model(**values)
    check = getattr(built, "_invalid", None)  # a rule across keys, such as url-or-path
    problem = check() if check else None
    if problem:
        ctx.problems.append((loc, problem))
        return INVALID
    return built


class Nested(Kind):
    """A mapping that builds into another model (``model`` is a function, so a rule can
    hold rules)."""

    def __init__(self, model: Callable[[], type]) -> None:
        self.model = model

    def parse(self, value: Any, ctx: Context, loc: Loc) -> Any:
        """The built model; its own problems are already in ``ctx``."""
        return build(self.model(), value, ctx, loc)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        """A reference to the model's schema in ``defs``."""
        model = self.model()
        if model.__name__ not in defs:
            defs[model.__name__] = {}  # taken before it is filled: rules refer to themselves
            defs[model.__name__] = model_schema(model, defs)
        return {"$ref": f"#/$defs/{model.__name__}"}


class Items(Kind):
    """A list of at most ``most`` values of ``item``; with ``one``, a single value is
    taken as a list of one (``include: Karabakh``)."""

    def __init__(self, item: Kind, most: int, *, one: bool = False) -> None:
        self.item, self.most, self.one = item, most, one

    def parse(self, value: Any, ctx: Context, loc: Loc) -> Any:
        """A tuple of parsed items; each item's problem is noted at its index."""
        if self.one and not isinstance(value, list | dict):
            value = [value]
        if not isinstance(value, list):
            raise Invalid(f"expected a list ('- item' lines or [a, b]); found {found(value)}")
        if len(value) > self.most:
            raise Invalid(f"must have at most {self.most} items; found {len(value)}")
        items = tuple(ctx.parse(self.item, item, (*loc, i)) for i, item in enumerate(value))
        return INVALID if INVALID in items else items

    def schema(self, defs: dict[str, Schema]) -> Schema:
        """An array schema (or the item alone too, with ``one``)."""
        array = {"type": "array", "items": self.item.schema(defs), "maxItems": self.most}
        return {"anyOf": [self.item.schema(defs), array]} if self.one else array


def model_schema(model: type, defs: dict[str, Schema]) -> Schema:
    """``model`` as a JSON Schema object: its keys, their help, defaults and kinds."""
    properties, required = {}, []
    for key, (_, opt, default) in options(model).items():
        schema = {**opt.kind.schema(defs), "description": opt.description}
        if default is dataclasses.MISSING:
            required.append(key)
        elif default is None:  # `key:` with no value is allowed, and means the default
            schema = {"anyOf": [opt.kind.schema(defs), {"type": "null"}]}
            schema["description"] = opt.description
        elif not dataclasses.is_dataclass(default):
            schema["default"] = as_written(default if opt.written is _NOT_WRITTEN else opt.written)
        properties[key] = schema
    schema = {
        "type": "object",
        "title": model.__name__,
        "description": (model.__doc__ or "").strip(),
        "properties": properties,
        "additionalProperties": False,
    }
    return {**schema, "required": required} if required else schema


def as_written(value: Any) -> Any:
    """A default as the YAML file would write it: ``30m``, not a timedelta."""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple):
        return [as_written(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value
