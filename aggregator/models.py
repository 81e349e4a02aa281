"""The values that cross module boundaries. All frozen; nothing here does I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

FROZEN = {"frozen": True, "slots": True, "kw_only": True}


@dataclass(**FROZEN)
class Enclosure:
    """A media attachment of a feed entry; made by parse, published by publish."""

    url: str
    type: str = ""
    length: int = 0


@dataclass(**FROZEN)
class Article:
    """One story. Made by parse (feed entries) and seeds (seed files); the store folds
    duplicates into one and fills ``sources`` and ``links``; filters and publish read it.

    ``guid`` identifies the entry *within its source* (a feed's guid/link, a seed file's
    path relative to its folder); ``id`` identifies the story across sources and is what
    subscribers see.
    """

    id: str
    guid: str
    source: str
    title: str
    published: datetime  # aware, UTC
    updated: datetime | None = None  # aware, UTC
    link: str = ""  # absolute http(s) URL; "" for a seed article until publish gives it a page
    summary: str = ""  # sanitised HTML (a seed's standfirst)
    content: str = ""  # sanitised HTML (the full body)
    author: str = ""  # a feed entry's author or a seed's agency
    section: str = ""  # a seed's section, or a feed entry's first category
    tags: tuple[str, ...] = ()
    related: tuple[str, ...] = ()  # a seed's trailing related headlines
    enclosures: tuple[Enclosure, ...] = ()
    path: str = ""  # a seed article's file
    sources: tuple[str, ...] = ()  # every source that carried the story (store fills it)
    links: tuple[str, ...] = ()  # every link that carried the story (store fills it)
    first_seen: datetime | None = None  # when Wiredesk first stored it (store fills it)

    @property
    def is_seed(self) -> bool:
        """True for an article that came from a seed file."""
        return bool(self.path)


@dataclass(**FROZEN)
class SourceState:
    """What the store remembers of one source between passes; read and written by the
    collector, shown by ``wiredesk sources``."""

    name: str
    url: str = ""  # the effective URL after permanent redirects ("" for a seed folder)
    etag: str = ""
    last_modified: str = ""
    content_hash: str = ""  # of the last body parsed, to skip unchanged bodies
    last_fetch: datetime | None = None
    last_status: int | None = None
    error_streak: int = 0
    last_error: str = ""
    next_due: datetime | None = None
    disabled: bool = False
    file_stamps: Mapping[str, str] = field(default_factory=dict)  # seed folders only


@dataclass(**FROZEN)
class FetchResult:
    """One HTTP response; made by fetch, read by parse and the collector."""

    url: str  # the URL finally answered, after redirects
    status: int
    content: bytes = b""  # empty for 304 Not Modified
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str = ""
    last_modified: str = ""
    permanent_url: str = ""  # set when a 301/308 chain moved the feed for good

    @property
    def not_modified(self) -> bool:
        """True when the server answered 304 to our validators."""
        return self.status == 304


@dataclass(**FROZEN)
class IngestResult:
    """What the store did with one source's articles in one transaction."""

    new: tuple[str, ...] = ()  # ids of stories first seen now
    merged: tuple[str, ...] = ()  # ids of existing stories another source now carries too
    updated: tuple[str, ...] = ()  # ids of stories whose text or dates changed
    unchanged: int = 0

    @property
    def changed_ids(self) -> tuple[str, ...]:
        """Every story whose published form may differ after this ingest."""
        return self.new + self.merged + self.updated


@dataclass(**FROZEN)
class SourceReport:
    """One source's outcome in one pass; made by the collector, printed by the CLI."""

    source: str
    new: int = 0
    merged: int = 0
    updated: int = 0
    unchanged: int = 0
    not_modified: bool = False
    skipped: bool = False  # not due, or disabled
    error: str = ""
    warnings: tuple[str, ...] = ()


@dataclass(**FROZEN)
class PassReport:
    """One collection pass; made by the collector, read by the daemon, CLI and health check."""

    started: datetime
    finished: datetime
    sources: tuple[SourceReport, ...] = ()
    changed_ids: tuple[str, ...] = ()

    @property
    def errors(self) -> int:
        """How many sources failed in this pass."""
        return sum(1 for s in self.sources if s.error)

    @property
    def changed(self) -> bool:
        """True when any stored story was added or changed."""
        return bool(self.changed_ids)


@dataclass(**FROZEN)
class ParsedFeed:
    """A fetched feed turned into articles; made by parse, read by the collector."""

    title: str = ""
    link: str = ""
    articles: tuple[Article, ...] = ()
    warnings: tuple[str, ...] = ()  # e.g. a bozo feed that still gave entries


from aggregator.errors import SeedError  # noqa: E402  (appended below the shared values)


@dataclass(**FROZEN)
class SeedScan:
    """One pass over a seed folder; made by seeds.scan_folder, read by the collector, which
    keeps ``stamps`` in ``SourceState.file_stamps`` and passes them back next pass."""

    articles: tuple[Article, ...] = ()  # parsed from new or changed files only
    stamps: Mapping[str, str] = field(default_factory=dict)  # relative path -> stamp, good files
    errors: tuple[SeedError, ...] = ()  # broken files: left out of stamps, so retried
    unchanged: int = 0  # files skipped because their stamp had not changed
