"""The JSON Schema of the config file, generated from the config model, so editors with a
YAML language server validate and complete ``feeds.yaml`` while people type."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from aggregator.config import Config, format_duration

DRAFT = "https://json-schema.org/draft/2020-12/schema"
TITLE = "Wiredesk config (config/feeds.yaml)"


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the config file, property names as written in
    YAML (``all``, ``any``, ``not``)."""
    schema = Config.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_ConfigSchema
    )
    return {**schema, "$schema": DRAFT, "title": TITLE}


def schema_text() -> str:
    """The schema as shipped in ``config/feeds.schema.json``: two-space indents, sorted
    keys, a trailing newline."""
    return json.dumps(config_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class _ConfigSchema(GenerateJsonSchema):
    """Writes duration defaults the way the config file does (``30m``, not ``PT30M``)."""

    def encode_default(self, dft: Any) -> Any:
        """The default as it would be written in the YAML file."""
        return super().encode_default(_as_written(dft))


def _as_written(value: Any) -> Any:
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True)
    if isinstance(value, dict):
        return {key: _as_written(item) for key, item in value.items()}
    if isinstance(value, timedelta):
        return format_duration(value)
    return value
