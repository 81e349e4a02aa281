"""The config as typed, immutable pydantic models; unknown keys are errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from aggregator.config.values import (
    DEFAULT_CONFIG,
    DEFAULT_FIELDS,
    Duration,
    FieldName,
    Regexes,
    RelPath,
    Size,
    Slug,
    TimeZone,
    Words,
    relative_path,
)


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
    stale_after: Duration | None = Field(
        default=None,
        description="report a source in feeds/sources.atom when it brings no new story "
        "for this long (default: never)",
    )


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
    stale_after: Duration | None = Field(default=None, description="overrides defaults.stale_after")
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
        return str(relative_path(Path(value), info))

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


Rule.model_rebuild()
