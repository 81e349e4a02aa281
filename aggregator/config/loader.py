"""Reading a config file: YAML values with their lines (``tree``) built into the
frozen config (``build``), every problem reported at once as file:line: key: message."""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any

from aggregator.config.build import Context, build
from aggregator.config.kinds import found
from aggregator.config.model import Config
from aggregator.config.tree import YamlList, YamlMap, read_yaml
from aggregator.config.values import CONFIG_ENV, DEFAULT_CONFIG, key_path, quote, suggest
from aggregator.errors import ConfigError, ConfigProblem

# Category names whose feed or page files the desk writes for itself.
_RESERVED = {
    "all": "'all' is the built-in category of every article",
    "index": "'index' is the desk's front page (index.html, index.opml)",
    "sources": "'sources' is the desk's page and feed of its sources (sources.html, .atom, .rss)",
}


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use: ``--config``, else ``$WIREDESK_CONFIG``, else the default."""
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a config file.

    Raises ConfigError listing every problem, each with file, line and key path.
    """
    path = config_path(path)
    data, problems = read_yaml(path)
    if data is None:
        raise ConfigError.single(path, "the file is empty")
    if not isinstance(data, dict):
        message = f"expected keys and values at the top (key: value lines); found {found(data)}"
        raise ConfigError.single(path, message, 1)
    ctx = Context(base=path.resolve().parent)
    config = build(Config, data, ctx)
    problems += _cross_checks(path, data)
    problems += [_at(path, data, loc, message) for loc, message in ctx.problems]
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: (p.line or 0, p.key)))
    return dataclasses.replace(config, path=path)


def _cross_checks(path: Path, data: dict[str, Any]) -> list[ConfigProblem]:
    """Checks across items, made on the raw YAML so they run even when items are invalid."""
    problems: list[ConfigProblem] = []
    names: dict[str, set[str]] = {}
    for key in ("sources", "categories"):
        seen = names.setdefault(key, set())
        for index, item in _items(data, key):
            name = item.get("name")
            if not isinstance(name, str):
                continue
            if name in seen:
                message = f"duplicate name {quote(name)}; names must be unique"
                problems.append(_at(path, data, (key, index, "name"), message))
            if key == "categories" and name in _RESERVED:
                message = f"{_RESERVED[name]}; choose another name"
                problems.append(_at(path, data, (key, index, "name"), message))
            seen.add(name)
    for index, category in _items(data, "categories"):
        for loc, rule in _raw_rules(("categories", index), category):
            wanted = rule.get("sources")
            for name in [wanted] if isinstance(wanted, str) else wanted or ():
                if isinstance(name, str) and name not in names["sources"]:
                    message = f"unknown source {quote(name)}{suggest(name, names['sources'])}"
                    problems.append(_at(path, data, (*loc, "sources"), message))
    return problems


def _items(data: dict[str, Any], key: str) -> typing.Iterator[tuple[int, dict[str, Any]]]:
    items = data.get(key)
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield index, item


def _raw_rules(loc: tuple, rule: dict[str, Any]) -> typing.Iterator[tuple[tuple, dict[str, Any]]]:
    yield loc, rule
    for key in ("all", "any"):
        subs = rule.get(key)
        for index, sub in enumerate(subs if isinstance(subs, list) else ()):
            if isinstance(sub, dict):
                yield from _raw_rules((*loc, key, index), sub)
    if isinstance(rule.get("not"), dict):
        yield from _raw_rules((*loc, "not"), rule["not"])


def _at(path: Path, data: dict[str, Any], loc: tuple, message: str) -> ConfigProblem:
    return ConfigProblem(str(path), line_of(data, loc), key_path(loc), message)


def line_of(data: Any, loc: tuple) -> int | None:
    """The 1-based line of the deepest key of ``loc`` found in the YAML values."""
    line = None
    node = data
    for part in loc:
        if isinstance(node, YamlMap) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, YamlList) and isinstance(part, int) and part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            if line is None and isinstance(node, YamlMap | YamlList):
                line = node.line
            break
    return line
