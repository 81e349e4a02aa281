"""The JSON Schema of the config file, generated from the config model, so editors with a
YAML language server validate and complete ``feeds.yaml`` while people type.

Two things pydantic's generator cannot see are put right here: a list field that also
accepts one bare string (``section: World``), and durations, whose defaults pydantic
writes in ISO 8601 (``PT30M``) although the file says ``30m``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from aggregator.config import Config

DRAFT = "https://json-schema.org/draft/2020-12/schema"
TITLE = "Wiredesk config (config/feeds.yaml)"
_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the config file, property names as written in
    YAML (``all``, ``any``, ``not``)."""
    schema = Config.model_json_schema(by_alias=True, mode="validation")
    for model in _models(Config, set()):
        definition = schema if model is Config else schema["$defs"][model.__name__]
        for name, field in model.model_fields.items():
            _fix_property(definition["properties"][field.alias or name], field)
    return {**schema, "$schema": DRAFT, "title": TITLE}


def schema_text() -> str:
    """The schema as shipped in ``config/feeds.schema.json``: two-space indents, sorted
    keys, a trailing newline."""
    return json.dumps(config_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def duration_text(value: timedelta) -> str:
    """A duration as the config writes it, in its largest whole unit: ``30m``, ``1d``."""
    seconds = int(value.total_seconds())
    unit, size = next((u, s) for u, s in _UNITS if seconds % s == 0)
    return f"{seconds // size}{unit}"


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> list[type[BaseModel]]:
    """``model`` and every model its fields hold, each once."""
    seen.add(model)
    found = [model]
    for field in model.model_fields.values():
        for inner in _models_in(field.annotation):
            if inner not in seen:
                found += _models(inner, seen)
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def _fix_property(prop: dict[str, Any], field: FieldInfo) -> None:
    if isinstance(field.default, timedelta):
        prop["default"] = duration_text(field.default)
    if prop.get("type") == "array" and _accepts_one_string(field):
        one = prop.pop("items")
        del prop["type"]
        prop["anyOf"] = [one, {"type": "array", "items": one}]


def _accepts_one_string(field: FieldInfo) -> bool:
    if not field.metadata:
        return False
    try:
        TypeAdapter(Annotated[field.annotation, *field.metadata]).validate_python("word")
    except ValidationError:
        return False
    return True
