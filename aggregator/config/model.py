"""The config as frozen dataclasses. Every key is declared with its kind, range and help
(``build.option``), so that loading, its messages and the JSON Schema share one source."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from aggregator.config.build import Context, Items, Nested, build, option
from aggregator.config.kinds import (
    Choice,
    Duration,
    Folder,
    Number,
    Size,
    StoreLocation,
    Text,
    Url,
    Whole,
)
from aggregator.config.values import (
    DEFAULT_CONFIG,
    DEFAULT_FIELDS,
    FIELDS,
    SLUG_PATTERN,
    encoding,
    language,
    quote,
    regex,
    slug,
    time_zone,
)
from aggregator.errors import Invalid

SECOND, MINUTE, HOUR, DAY = (timedelta(seconds=s) for s in (1, 60, 3600, 86400))
# The longest interval, timeout and age worth writing: more is a typo, and would overflow
# the date arithmetic of due times and pruning.
LONGEST_INTERVAL, LONGEST_TIMEOUT, LONGEST_AGE = 30 * DAY, 10 * MINUTE, 3650 * DAY

_SLUG = Text(longest=64, check=slug, pattern=SLUG_PATTERN)
_WORDS = Items(Text(longest=200), most=1000, one=True)


def _relative_glob(value: str) -> str:
    if not value.strip() or value.startswith(("/", "\\")) or ".." in Path(value).parts:
        raise Invalid(
            f"expected a file pattern inside the folder, like *.txt; found {quote(value)}"
        )
    return value


class Model:
    """Base of every config object: built from YAML by ``model_validate``, immutable."""

    __slots__ = ()

    @classmethod
    def model_validate(cls, data: Any, *, context: dict[str, Any] | None = None) -> Any:
        """Build from a mapping of YAML values; paths resolve against ``context["base"]``.

        Raises ConfigError (no file: the keys name where) listing every problem.
        """
        from aggregator.config.values import key_path
        from aggregator.errors import ConfigError, ConfigProblem

        ctx = Context(base=(context or {}).get("base", Path.cwd()))
        built = build(cls, data, ctx)
        if ctx.problems:
            raise ConfigError(
                [ConfigProblem("", None, key_path(loc), m) for loc, m in ctx.problems]
            )
        return built

    def model_copy(self, *, update: dict[str, Any]) -> Any:
        """A copy with the fields of ``update`` replaced."""
        return dataclasses.replace(self, **update)  # type: ignore[type-var]


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishConfig(Model):
    """Where and how the category feeds are written."""

    dir: Path = option(
        Folder(),
        Path("../feeds"),
        written="../feeds",
        description="folder the feeds are written to",
    )
    # None (unset) only until Config is built: it then fills in the server's own URL
    base_url: str = option(
        Url(slash=True),
        None,
        description="public URL of the publish folder, ending in /; "
        "default: http://{server.host}:{server.port}/",
    )
    max_items: int = option(Whole(1, 10000), 50, description="newest articles per feed")
    title: str = option(Text(), "Wiredesk", description="prefix of every feed title")
    language: str | None = option(
        Text(longest=35, check=language), None, description="feed language (BCP 47), e.g. en"
    )
    hub: str | None = option(Url(), None, description="WebSub hub to ping after changes")


ANY_INTERFACE = frozenset({"", "0.0.0.0", "::", "*"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig(Model):
    """The HTTP server for the publish folder."""

    host: str = option(Text(longest=255), "127.0.0.1", description="address to listen on")
    port: int = option(Whole(1, 65535), 8080, description="port to listen on")


def server_url(server: ServerConfig) -> str:
    """The URL the server of ``server`` answers at, for a ``publish.base_url`` left unset
    (a server listening on every interface answers on 127.0.0.1 too)."""
    host = "127.0.0.1" if server.host in ANY_INTERFACE else server.host
    return f"http://{f'[{host}]' if ':' in host else host}:{server.port}/"


@dataclass(frozen=True, slots=True, kw_only=True)
class DefaultsConfig(Model):
    """Values every source inherits unless it sets its own."""

    interval: timedelta = option(
        Duration(SECOND, LONGEST_INTERVAL), 30 * MINUTE, description="time between fetches"
    )
    timeout: timedelta = option(
        Duration(SECOND, LONGEST_TIMEOUT), 20 * SECOND, description="whole-fetch deadline"
    )
    stale_after: timedelta | None = option(
        Duration(MINUTE, LONGEST_AGE),
        None,
        description="report a source in feeds/sources.atom when it brings no new story "
        "for this long (default: never)",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchConfig(Model):
    """How feeds are fetched over HTTP."""

    workers: int = option(Whole(1, 64), 8, description="sources fetched at once")
    per_host: int = option(Whole(1, 16), 2, description="requests at once to one host")
    max_bytes: int = option(Size(1024, 1024**3), 10 * 1024**2, description="largest body accepted")
    max_redirects: int = option(Whole(0, 20), 5, description="redirects followed")


@dataclass(frozen=True, slots=True, kw_only=True)
class DedupConfig(Model):
    """How duplicate stories are recognised."""

    similarity: float | None = option(
        Number(0, 1),
        None,
        description="opt-in near-duplicate headline threshold (0..1); off when unset",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Source(Model):
    """One source: a feed URL or a folder of seed articles."""

    name: str = option(_SLUG, description="unique name of the source")
    url: str | None = option(Url(), None, description="feed URL")
    path: Path | None = option(Folder(), None, description="folder of seed articles")
    title: str | None = option(Text(), None, description="display name")
    interval: timedelta | None = option(
        Duration(SECOND, LONGEST_INTERVAL), None, description="overrides defaults.interval"
    )
    timeout: timedelta | None = option(
        Duration(SECOND, LONGEST_TIMEOUT), None, description="overrides defaults.timeout"
    )
    stale_after: timedelta | None = option(
        Duration(MINUTE, LONGEST_AGE), None, description="overrides defaults.stale_after"
    )
    timezone: str = option(
        Text(longest=64, check=time_zone), "UTC", description="time zone of seed dates (IANA)"
    )
    glob: str = option(
        Text(longest=200, check=_relative_glob),
        "*.txt",
        description="which files of the folder are seeds",
    )
    encoding: str = option(
        Text(longest=40, check=encoding),
        "utf-8",
        description="fallback when a file is not UTF-8",
    )

    def _invalid(self) -> str | None:
        if (self.url is None) == (self.path is None):
            both = "both" if self.url else "neither"
            return f"a source needs exactly one of 'url' or 'path'; found {both}"
        return None

    @property
    def is_seed_folder(self) -> bool:
        """True for a folder of seed articles, False for a feed URL."""
        return self.path is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule(Model):
    """A category rule: every condition that is set must hold."""

    include: tuple[str, ...] = option(
        _WORDS, (), description="any of these whole words (case-insensitive)"
    )
    exclude: tuple[str, ...] = option(_WORDS, (), description="none of these whole words")
    regex: tuple[str, ...] = option(
        Items(Text(longest=1000, check=regex), most=100, one=True),
        (),
        description="any of these regexes (case-insensitive)",
    )
    fields: tuple[str, ...] = option(
        Items(Choice(FIELDS), most=len(FIELDS), one=True),
        DEFAULT_FIELDS,
        description="fields the words and regexes look in",
    )
    sources: tuple[str, ...] = option(
        _WORDS, (), description="only articles carried by these sources"
    )
    section: tuple[str, ...] = option(
        _WORDS, (), description="only these sections / feed categories"
    )
    max_age: timedelta | None = option(
        Duration(MINUTE, LONGEST_AGE), None, description="only articles newer than this"
    )
    all_of: tuple[Rule, ...] = option(
        Items(Nested(lambda: Rule), most=100),
        (),
        alias="all",
        description="every sub-rule holds",
    )
    any_of: tuple[Rule, ...] = option(
        Items(Nested(lambda: Rule), most=100),
        (),
        alias="any",
        description="some sub-rule holds",
    )
    not_: Rule | None = option(
        Nested(lambda: Rule), None, alias="not", description="this sub-rule fails"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Category(Rule):
    """A published category feed and the rule that selects its articles."""

    name: str = option(
        _SLUG, description="file name of the feed: lowercase letters, digits, - and _"
    )
    title: str | None = option(Text(), None, description="feed title")
    description: str | None = option(Text(longest=1000), None, description="feed description")


@dataclass(frozen=True, slots=True, kw_only=True)
class Config(Model):
    """The whole config file."""

    store: str = option(
        StoreLocation(),
        "../data/wiredesk.db",
        written="../data/wiredesk.db",
        description="SQLite file, or postgresql://user@host/database",
    )
    node: str | None = option(
        Text(longest=64),
        None,
        description="this node's name in a store shared by several nodes (default: the host name)",
    )
    retention: timedelta | None = option(
        Duration(HOUR, LONGEST_AGE),
        None,
        description="prune articles first seen longer ago than this",
    )
    publish: PublishConfig = option(
        Nested(lambda: PublishConfig), factory=PublishConfig, written={}, description="feeds"
    )
    server: ServerConfig = option(
        Nested(lambda: ServerConfig), factory=ServerConfig, description="the HTTP server"
    )
    defaults: DefaultsConfig = option(
        Nested(lambda: DefaultsConfig), factory=DefaultsConfig, description="source defaults"
    )
    fetch: FetchConfig = option(
        Nested(lambda: FetchConfig), factory=FetchConfig, description="HTTP fetching"
    )
    dedup: DedupConfig = option(
        Nested(lambda: DedupConfig), factory=DedupConfig, description="duplicate stories"
    )
    sources: tuple[Source, ...] = option(
        Items(Nested(lambda: Source), most=100_000), (), description="feeds and seed folders"
    )
    categories: tuple[Category, ...] = option(
        Items(Nested(lambda: Category), most=10_000), (), description="published categories"
    )
    path: Path = field(default=DEFAULT_CONFIG, compare=False)  # the file it was loaded from

    def __post_init__(self) -> None:
        if not self.publish.base_url:
            # Unset: the feeds are where our own server serves them, whatever its port.
            publish = replace(self.publish, base_url=server_url(self.server))
            object.__setattr__(self, "publish", publish)

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

    def stale_after(self, source: Source) -> timedelta | None:
        """How long ``source`` may bring no new story before it is reported; None: never."""
        return source.stale_after or self.defaults.stale_after
