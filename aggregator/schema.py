"""The JSON Schema of the config file, generated from the config model's declarations, so
editors with a YAML language server validate and complete ``feeds.yaml`` while people
type."""

from __future__ import annotations

import json
from typing import Any

from aggregator.config import Config
from aggregator.config.build import model_schema

DRAFT = "https://json-schema.org/draft/2020-12/schema"
TITLE = "Wiredesk config (config/feeds.yaml)"


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the config file, property names as written in
    YAML (``all``, ``any``, ``not``)."""
    defs: dict[str, Any] = {}
    schema = model_schema(Config, defs)
    return {**schema, "$defs": dict(sorted(defs.items())), "$schema": DRAFT, "title": TITLE}


def schema_text() -> str:
    """The schema as shipped in ``config/feeds.schema.json``: two-space indents, sorted
    keys, a trailing newline."""
    return json.dumps(config_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
