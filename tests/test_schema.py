"""The shipped JSON Schema matches the config model and accepts the shipped configs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from ruamel.yaml import YAML

from aggregator.config import format_duration
from aggregator.schema import config_json_schema, schema_text
from tests.builders import ROOT

SHIPPED = ROOT / "config" / "feeds.schema.json"


def test_the_shipped_schema_is_the_generated_one() -> None:
    assert SHIPPED.read_text(encoding="utf-8") == schema_text(), (
        "config/feeds.schema.json is out of date; regenerate it with "
        "`python run.py schema > config/feeds.schema.json`"
    )


def test_the_shipped_configs_point_editors_at_the_schema() -> None:
    for name in ("feeds.yaml", "example-full.yaml"):
        first = (ROOT / "config" / name).read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=feeds.schema.json"


def validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SHIPPED.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", ["feeds.yaml", "example-full.yaml"])
def test_the_shipped_configs_are_valid(name: str) -> None:
    data = YAML(typ="safe").load((ROOT / "config" / name).read_text(encoding="utf-8"))
    assert [error.message for error in validator().iter_errors(data)] == []


def messages(data: dict[str, Any]) -> list[str]:
    return sorted(error.message for error in validator().iter_errors(data))


def test_the_schema_knows_aliases_durations_and_bare_strings() -> None:
    good = {
        "defaults": {"interval": "15m"},
        "fetch": {"max_bytes": "10MB"},
        "sources": [{"name": "a", "url": "https://a.example/", "timeout": "90s"}],
        "categories": [
            {"name": "c", "section": "World", "all": [{"include": "x"}], "not": {"any": []}}
        ],
    }
    assert messages(good) == []
    bad = {
        "defaults": {"interval": "5 minutes"},
        "sources": [{"name": "Bad Name", "url": "ftp://a.example/", "intreval": "1h"}],
        "categories": [{"name": "c", "not_": {}}],
    }
    assert len(messages(bad)) == 5


def test_durations_default_to_what_a_person_writes() -> None:
    defaults = config_json_schema()["$defs"]["DefaultsConfig"]["properties"]
    assert (defaults["interval"]["default"], defaults["timeout"]["default"]) == ("30m", "20s")
    assert defaults["interval"]["type"] == "string" and "pattern" in defaults["interval"]
    assert [format_duration(timedelta(seconds=s)) for s in (90, 3600, 86400 * 14)] == [
        "90s",
        "1h",
        "2w",
    ]
