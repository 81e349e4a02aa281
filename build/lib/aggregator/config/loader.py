"""Reading a config file: YAML with line numbers (ruamel) validated by the models
(pydantic), every problem reported at once as file:line: key: message."""

from __future__ import annotations

import difflib
import os
import typing
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ValidationError,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from aggregator.config.model import (
    Config,
)
from aggregator.config.values import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
)
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
    data = _read_yaml(path)
    problems = _cross_checks(path, data)
    try:
        config = Config.model_validate(data, context={"base": path.resolve().parent})
        config._path = path
    except ValidationError as e:
        problems += [_problem(path, data, error) for error in e.errors()]
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: (p.line or 0, p.key)))
    return config


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError.single(path, "config file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError.single(path, f"cannot read: {e}") from None
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        reason = e.problem or e.context or "invalid YAML"
        message = f"YAML syntax error at column {column}: {reason}" if column else reason
        raise ConfigError.single(path, message, line) from None
    except YAMLError as e:
        raise ConfigError.single(path, f"YAML error: {e}") from None
    if data is None:
        raise ConfigError.single(path, "the file is empty")
    if not isinstance(data, dict):
        found = type(data).__name__.replace("Commented", "").lower()
        raise ConfigError(
            [
                ConfigProblem(
                    str(path), 1, "", f"expected a mapping of keys at the top; found a {found}"
                )
            ]
        )
    return data


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
                message = f"duplicate name {name!r}; names must be unique"
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
                    message = f"unknown source {name!r}{_suggest(name, names['sources'])}"
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


def _problem(path: Path, data: dict[str, Any], error: Any) -> ConfigProblem:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        hint = _suggest(str(loc[-1]), _field_names(loc[:-1]))
        return _at(path, data, loc, f"unknown key{hint}")
    if kind == "missing":
        return _at(path, data, loc, "required key is missing")
    message = error["msg"].removeprefix("Value error, ")
    if kind == "value_error":
        return _at(path, data, loc, message)
    return _at(path, data, loc, f"{message[0].lower()}{message[1:]}; found {error['input']!r}")


def _at(path: Path, data: dict[str, Any], loc: tuple, message: str) -> ConfigProblem:
    return ConfigProblem(str(path), _line_of(data, loc), _key_path(loc), message)


def _key_path(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _line_of(data: Any, loc: tuple) -> int | None:
    """The 1-based line of the deepest key of ``loc`` found in the ruamel tree."""
    line = None
    node = data
    for part in loc:
        lc = getattr(node, "lc", None)
        if isinstance(node, dict) and part in node:
            line = lc.key(part)[0] + 1 if lc else line
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            line = lc.item(part)[0] + 1 if lc else line
            node = node[part]
        else:
            if line is None and lc is not None:
                line = lc.line + 1
            break
    return line


def _field_names(loc: tuple) -> set[str]:
    """The keys allowed at ``loc``, found by walking the model classes."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        model = _model_in(field.annotation) if field else None
        if model is None:
            return set()
    return {f.alias or name for name, f in model.model_fields.items()}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found:
            return found
    return None


def _suggest(word: str, choices: set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
