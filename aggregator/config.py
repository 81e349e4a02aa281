"""YAML -> Config: typed, immutable, and every error with file:line:key.

The file is read with ruamel.yaml (which remembers where each key stands) and validated
with pydantic (which names every bad key at once). Relative paths resolve against the
config file's folder.
"""

from __future__ import annotations

import difflib
import os
import re
import typing
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from aggregator.errors import ConfigError, ConfigProblem

DEFAULT_CONFIG = Path("config/feeds.yaml")
CONFIG_ENV = "WIREDESK_CONFIG"
FIELDS = ("title", "summary", "content", "author", "tags", "section")
DEFAULT_FIELDS = ("title", "summary", "content")

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|MB|GB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def parse_duration(value: object) -> timedelta:
    """Turn ``90s``, ``15m``, ``2h``, ``1d`` or ``1w`` into a positive timedelta.

    Raises ValueError naming what was expected.
    """
    if isinstance(value, timedelta) and value > timedelta(0):
        return value  # built in code rather than read from YAML
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"expected a duration like 90s, 15m, 2h or 1d; found {value!r}")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """A duration as the config writes it, in its largest whole unit: ``30m``, ``1d``."""
    seconds = int(value.total_seconds())
    unit = next(u for u in ("w", "d", "h", "m", "s") if seconds % _UNITS[u] == 0)
    return f"{seconds // _UNITS[unit]}{unit}"


def parse_size(value: object) -> int:
    """Turn ``10MB``, ``512KB`` or a plain byte count into a positive number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"expected a size like 10MB, 512KB or a byte count; found {value!r}")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; expected an IANA name like Europe/Istanbul"
        ) from None
    return value


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            f"expected a slug of lowercase letters, digits, '-' and '_' "
            f"(it becomes a file name); found {value!r}"
        )
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as e:
        raise ValueError(f"invalid regex {value!r}: {e}") from None
    return value


def _relative_path(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base", Path.cwd())
    return (base / value.expanduser()).resolve()


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    WithJsonSchema({"type": "string", "pattern": _DURATION.pattern, "examples": ["15m"]}),
]
Size = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*\d+\s*([KkMmGg]?[Bb])?\s*$"},
                {"type": "integer", "minimum": 1},
            ]
        }
    ),
]
TimeZone = Annotated[str, AfterValidator(_timezone)]
Regex = Annotated[str, AfterValidator(_regex)]
RelPath = Annotated[Path, AfterValidator(_relative_path)]
Slug = Annotated[
    str,
    AfterValidator(_slug),
    WithJsonSchema({"type": "string", "pattern": _SLUG.pattern}),
]
_ONE_OR_MORE = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
Words = Annotated[tuple[str, ...], BeforeValidator(_as_list), WithJsonSchema(_ONE_OR_MORE)]
Regexes = Annotated[tuple[Regex, ...], BeforeValidator(_as_list), WithJsonSchema(_ONE_OR_MORE)]
FieldName = Literal["title", "summary", "content", "author", "tags", "section"]


class Model(BaseModel):
    """Base of every config object: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PublishConfig(Model):
    """Where and how the category feeds are written."""

    dir: RelPath = Field(
        default=Path("../feeds"),
        validate_default=True,  # the default is relative to the config file too
        description="folder the feeds are written to",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8080/",
        pattern=r"^https?://[^\s]+/$",
        description="public URL of the publish folder, ending in /",
    )
    max_items: int = Field(default=50, ge=1, le=10000, description="newest articles per feed")
    title: str = Field(default="Wiredesk", description="prefix of every feed title")
    language: str | None = Field(default=None, description="feed language, e.g. en")
    hub: str | None = Field(
        default=None, pattern=r"^https?://", description="WebSub hub to ping after changes"
    )


class ServerConfig(Model):
    """The HTTP server for the publish folder."""

    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8080, ge=1, le=65535, description="port to listen on")


class DefaultsConfig(Model):
    """Values every source inherits unless it sets its own."""

    interval: Duration = Field(default=timedelta(minutes=30), description="time between fetches")
    timeout: Duration = Field(default=timedelta(seconds=20), description="whole-fetch deadline")


class FetchConfig(Model):
    """How feeds are fetched over HTTP."""

    workers: int = Field(default=8, ge=1, le=64, description="sources fetched at once")
    per_host: int = Field(default=2, ge=1, le=16, description="requests at once to one host")
    max_bytes: Size = Field(default=10 * 1024**2, description="largest body accepted")
    max_redirects: int = Field(default=5, ge=0, le=20, description="redirects followed")


class DedupConfig(Model):
    """How duplicate stories are recognised."""

    similarity: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="opt-in near-duplicate headline threshold (0..1); off when unset",
    )


class Source(Model):
    """One source: a feed URL or a folder of seed articles."""

    name: Slug = Field(description="unique name of the source")
    url: str | None = Field(default=None, pattern=r"^https?://", description="feed URL")
    path: RelPath | None = Field(default=None, description="folder of seed articles")
    title: str | None = Field(default=None, description="display name")
    interval: Duration | None = Field(default=None, description="overrides defaults.interval")
    timeout: Duration | None = Field(default=None, description="overrides defaults.timeout")
    timezone: TimeZone = Field(default="UTC", description="time zone of seed dates (IANA)")
    glob: str = Field(default="*.txt", description="which files of the folder are seeds")
    encoding: str = Field(default="utf-8", description="fallback when a file is not UTF-8")

    @field_validator("glob")
    @classmethod
    def _relative_glob(cls, value: str) -> str:
        if not value.strip() or value.startswith(("/", "\\")) or ".." in Path(value).parts:
            raise ValueError(
                f"expected a file pattern inside the folder, like *.txt; found {value!r}"
            )
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @model_validator(mode="after")
    def _url_or_path(self) -> Source:
        if (self.url is None) == (self.path is None):
            found = "both" if self.url else "neither"
            raise ValueError(f"a source needs exactly one of 'url' or 'path'; found {found}")
        return self

    @property
    def is_seed_folder(self) -> bool:
        """True for a folder of seed articles, False for a feed URL."""
        return self.path is not None


class Rule(Model):
    """A category rule: every condition that is set must hold."""

    include: Words = Field(default=(), description="any of these whole words (case-insensitive)")
    exclude: Words = Field(default=(), description="none of these whole words")
    regex: Regexes = Field(default=(), description="any of these regexes (case-insensitive)")
    fields: tuple[FieldName, ...] = Field(
        default=DEFAULT_FIELDS, description="fields the words and regexes look in"
    )
    sources: Words = Field(default=(), description="only articles carried by these sources")
    section: Words = Field(default=(), description="only these sections / feed categories")
    max_age: Duration | None = Field(default=None, description="only articles newer than this")
    all_of: tuple[Rule, ...] = Field(default=(), alias="all", description="every sub-rule holds")
    any_of: tuple[Rule, ...] = Field(default=(), alias="any", description="some sub-rule holds")
    not_: Rule | None = Field(default=None, alias="not", description="this sub-rule fails")


class Category(Rule):
    """A published category feed and the rule that selects its articles."""

    name: Slug = Field(description="file name of the feed: lowercase letters, digits, - and _")
    title: str | None = Field(default=None, description="feed title")
    description: str | None = Field(default=None, description="feed description")


class Config(Model):
    """The whole config file."""

    store: str = Field(
        default="../data/wiredesk.db",
        validate_default=True,  # the default is relative to the config file too
        description="SQLite file or database URL",
    )
    retention: Duration | None = Field(
        default=None, description="prune articles first seen longer ago than this"
    )
    # Built from {} with the loader's context, so its paths resolve against the config file.
    publish: PublishConfig = Field(default_factory=dict, validate_default=True)
    server: ServerConfig = ServerConfig()
    defaults: DefaultsConfig = DefaultsConfig()
    fetch: FetchConfig = FetchConfig()
    dedup: DedupConfig = DedupConfig()
    sources: tuple[Source, ...] = ()
    categories: tuple[Category, ...] = ()
    _path: Path = PrivateAttr(default=DEFAULT_CONFIG)

    @property
    def path(self) -> Path:
        """The file this config was loaded from."""
        return self._path

    @field_validator("store")
    @classmethod
    def _store_location(cls, value: str, info: ValidationInfo) -> str:
        if "://" in value:
            if not value.startswith("sqlite:///"):
                scheme = value.split("://", 1)[0]
                raise ValueError(
                    f"unsupported database URL scheme {scheme!r}; "
                    "expected a file path or sqlite:///path"
                )
            value = value.removeprefix("sqlite:///")
        return str(_relative_path(Path(value), info))

    def source(self, name: str) -> Source:
        """The source called ``name``; KeyError if there is none."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)

    def interval(self, source: Source) -> timedelta:
        """How often ``source`` is due."""
        return source.interval or self.defaults.interval

    def timeout(self, source: Source) -> timedelta:
        """The whole-fetch deadline of ``source``."""
        return source.timeout or self.defaults.timeout


Rule.model_rebuild()


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
            if key == "categories" and name == "all":
                message = "'all' is the built-in category of every article; choose another name"
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
