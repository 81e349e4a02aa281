"""The values that cross module boundaries. All frozen; nothing here does I/O. Those a pass of
feeds alone never reads (health, discovery, OPML, seed scans) are defined in
``models_lazy`` and exported from here too, loaded when the first is asked for."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar, final

from aggregator.text import plain_text, urn_uuid

if TYPE_CHECKING:  # for typing only: dedup.fold imports this module
    from aggregator.dedup.fold import Fold

_Model = TypeVar("_Model")
_FIELD_SETTERS: dict[type, dict[str, Callable[[Any, Any], None]]] = {}  # in field order
_FIELD_VALUES: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def field_getter(cls: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    """The field names of the dataclass ``cls`` (of more than one field) and a function
    giving an instance's values in that order, as a tuple: ``attrgetter`` of them, which
    reads them all in one call."""
    names = tuple(f.name for f in fields(cls))
    assert len(names) > 1, f"{cls.__name__}: attrgetter of one name gives no tuple"
    return names, attrgetter(*names)


def _pickled_as_values(cls: type[_Model]) -> type[_Model]:
    """Pickle instances of the frozen, slotted dataclass ``cls`` as the tuple of their field
    values, rebuilt by setting each slot; ``cls`` is final (a subclass would be rebuilt as
    ``cls``). A parse worker sends every Article it makes to the collecting process: the
    pickling dataclasses give a frozen slotted class (a list built by ``fields()`` for
    every object, each field set by name) cost some 1.7 times the instructions at both
    ends (callgrind, the benchmark's 25,000 Articles: loads 1,721M -> 1,047M, dumps
    1,419M -> 831M instructions)."""
    names, values = field_getter(cls)
    _FIELD_SETTERS[cls] = {name: getattr(cls, name).__set__ for name in names}
    _FIELD_VALUES[cls] = values

    def __reduce__(self: _Model) -> tuple[Callable[..., _Model], tuple[type, tuple[Any, ...]]]:
        return _from_values, (cls, values(self))

    cls.__reduce__ = __reduce__  # type: ignore[assignment,method-assign]
    return cls


def remade(instance: _Model, **changes: Any) -> _Model:
    """``dataclasses.replace(instance, **changes)`` for a model pickled as its values
    (``_pickled_as_values``), at some 40% of its cost: a copy with its slots set, as
    unpickling makes one, then the changed ones. Each field of such a model is an
    ``__init__`` argument that its ``__init__`` only stores, so the copy is what
    ``replace`` would make (the ingest planner remakes every story of a pass once)."""
    cls = type(instance)
    made = _from_values(cls, _FIELD_VALUES[cls](instance))
    setters = _FIELD_SETTERS[cls]
    for name, value in changes.items():
        setters[name](made, value)
    return made


def _from_values(cls: type[_Model], values: tuple[Any, ...]) -> _Model:
    """An instance of ``cls`` (see ``_pickled_as_values``) with these field values."""
    made = object.__new__(cls)
    for set_field, value in zip(_FIELD_SETTERS[cls].values(), values, strict=True):
        set_field(made, value)
    return made


@final
@_pickled_as_values
@dataclass(frozen=True, slots=True, kw_only=True)
class Enclosure:
    """A media attachment of a feed entry; made by parse, published by publish."""

    url: str
    type: str = ""
    length: int = 0


@final
@_pickled_as_values
@dataclass(frozen=True, slots=True, kw_only=True)
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
    # each carrier's (source, link) pair, link "" for a seed copy (the store fills it when
    # reading; derived from the carriers like ``sources`` and ``links``, so not compared)
    carried: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    first_seen: datetime | None = None  # when Wiredesk first stored it (store fills it)
    # (HTML, its ``text.plain_text``) of the summary and content, derived by parse beside
    # the sanitised HTML (in its worker process), so the store's full-text index costs the
    # collecting process no second pass over the markup; read with ``plain``. Keyed by the
    # HTML, it cannot go stale when a merge swaps the text; derived, so not compared.
    texts: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)
    # (title, its ``dedup.headline_key``), derived by parse in its worker like ``texts``, so
    # the store's serial ingest folds no headline a worker folded; read with
    # ``dedup.headline_key_of``. Keyed by the title, it cannot go stale under a replace.
    title_key: tuple[str, str] | tuple[()] = field(default=(), compare=False, repr=False)

    def plain(self, markup: str) -> str:
        """``text.plain_text(markup)`` of this article's summary or content: what parse
        derived for it, or derived now (a seed's, or a story read from the store)."""
        for html, text in self.texts:
            if html == markup:
                return text
        return plain_text(markup)

    @property
    def is_seed(self) -> bool:
        """True for an article that came from a seed file."""
        return bool(self.path)

    @property
    def all_sources(self) -> tuple[str, ...]:
        """Every source that carried the story: the store's ``sources``, else ``source``."""
        return self.sources or (self.source,)

    @property
    def all_links(self) -> tuple[str, ...]:
        """Every link that carried the story: the store's ``links``, else the article's own
        ``link`` (none for a seed copy, whose page is made at publish time)."""
        return self.links or ((self.link,) if self.link else ())


# A seed folder's last error lists each broken file's message, joined by this.
FILE_ERRORS_SEPARATOR = "; "


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceState:
    """What the store remembers of one source between passes; read and written by the
    collector, shown by ``wiredesk sources``."""

    name: str
    url: str = ""  # the effective URL after permanent redirects (a seed folder's path)
    origin_url: str = ""  # the configured URL that ``url`` was reached from
    etag: str = ""
    last_modified: str = ""
    content_hash: str = ""  # of the last body parsed, to skip unchanged bodies
    # keys of the entries of that body, so a changed body parses only its changed entries
    item_keys: frozenset[str] = frozenset()
    last_fetch: datetime | None = None
    last_status: int | None = None
    error_streak: int = 0
    last_error: str = ""
    next_due: datetime | None = None
    disabled: bool = False
    file_stamps: Mapping[str, str] = field(default_factory=dict)  # seed folders only
    node: str = ""  # the node that last collected it (``Holder.node``)


@dataclass(frozen=True, slots=True, kw_only=True)
class Holder:
    """Who holds a lease on a source: a node's name and the process on it. Made by the
    collector (``collector.leases.holder``), stored with each lease, shown by ``sources``."""

    node: str
    pid: int

    def __str__(self) -> str:
        """``web1 (pid 4242)``."""
        return f"{self.node} (pid {self.pid})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """A live lease: ``holder`` is collecting ``source`` and nobody else may until it is
    released or ``until`` passes. Read from the store by the collector, the daemon and
    ``wiredesk sources``."""

    source: str
    holder: Holder
    until: datetime  # aware, UTC


@dataclass(frozen=True, slots=True, kw_only=True)
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


@dataclass(frozen=True, slots=True, kw_only=True)
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


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceReport:
    """One source's outcome in one pass; made by the collector, printed by the CLI."""

    source: str
    new: int = 0
    merged: int = 0
    updated: int = 0
    unchanged: int = 0
    not_modified: bool = False
    skipped: bool = False  # not due, or disabled
    error: str = ""  # the source failed as a whole
    file_errors: tuple[str, ...] = ()  # seed files that were skipped, each with its reason
    warnings: tuple[str, ...] = ()  # accepted with a note, e.g. a feed parsed leniently
    status: int | None = None  # the HTTP status answered (None for a seed folder, no answer)
    error_kind: str = ""  # the class of ``error``: FetchError, ParseError, SeedError...
    seconds: float = 0.0  # the whole source, fetch to store
    fetch_seconds: float = 0.0
    parse_seconds: float = 0.0
    store_seconds: float = 0.0
    declined: str = ""  # why parse's fast path left the body to feedparser (ParsedFeed.declined)
    leased_by: str = ""  # not collected: this other process holds its lease (``str(Holder)``)

    @property
    def brought(self) -> int:
        """How many stories this source added, merged into or updated."""
        return self.new + self.merged + self.updated


@dataclass(frozen=True, slots=True, kw_only=True)
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

    @property
    def collected(self) -> tuple[SourceReport, ...]:
        """The sources this pass fetched or scanned: neither not due nor disabled."""
        return tuple(s for s in self.sources if not s.skipped)

    @property
    def failed(self) -> bool:
        """True when the pass collected something and every source of it failed."""
        collected = self.collected
        return bool(collected) and all(s.error for s in collected)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedFeed:
    """A fetched feed turned into articles; made by parse, read by the collector."""

    title: str = ""
    link: str = ""
    articles: tuple[Article, ...] = ()
    warnings: tuple[str, ...] = ()  # e.g. a bozo feed that still gave entries
    item_keys: frozenset[str] = frozenset()  # of every entry in the body, parsed or not
    skipped_entries: int = 0  # not parsed: their key was among the known ones
    declined: str = ""  # why the lxml fast path left the body to feedparser; "" if it read it


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleQuery:
    """Which stored articles to read, newest published first; unset fields do not filter.
    Made by filters (a category's query), publish and the CLI; answered by the Store."""

    ids: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None  # carried by any of these sources
    sections: tuple[str, ...] | None = None  # section or tag equal (case-insensitive) to one
    since: datetime | None = None  # published at or after
    search: str | None = None  # full-text query over title, summary and content
    seeds_only: bool = False  # only stories carried by a seed file
    limit: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """Whether a category rule selects an article, and why; made by filters.explain, read by
    publish and ``preview --why``."""

    matched: bool
    reason: str  # the deciding condition and its path, e.g. "any[1].include: no word found"


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishReport:
    """What one publish wrote; made by publish, read by the collector, daemon and CLI."""

    written: tuple[str, ...] = ()  # file names, relative to the publish folder
    unchanged: tuple[str, ...] = ()  # files whose bytes were already right, left untouched
    removed: tuple[str, ...] = ()  # feeds of categories no longer in the config
    changed_feeds: tuple[str, ...] = ()  # absolute URLs of feeds whose bytes changed (WebSub)
    seconds: float = 0.0  # how long the publish took


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleStatus:
    """How the sources stand against their due times at one moment; made by
    ``collector.schedule.schedule_status``, read by the health check and the metrics."""

    due: int = 0  # due now
    overdue: int = 0  # due for longer than their interval
    lag_seconds: float = 0.0  # how long the longest-waiting due source has waited
    late: str = ""  # that source's name
    late_intervals: float = 0.0  # its wait, in its own intervals
    backoff: int = 0  # failing, waiting longer than their interval
    disabled: int = 0  # switched off by 410 Gone


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishedFile:
    """One file of the publish folder as Wiredesk last wrote it: a row of the store's publish
    manifest. Made by publish after writing, kept by the store, read back by the next publish
    to know which files are its own, what each listed and whether it is still intact."""

    name: str  # relative to the publish folder, e.g. "world.rss" or "articles/x.html"
    sha256: str  # hex digest of the bytes written
    size: int  # and the file's size and mtime then: a stat that still matches needs no hash
    mtime_ns: int
    lists: tuple[str, ...] = ()  # the story ids the file lists, newest first
    built_for: str = ""  # digest of the config values the file was rendered from


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingStories:
    """The stories changed (or deleted) since this node last published them; made by the
    store from what ingest and prune committed, read by publish, which hands ``tokens``
    back when it has published them."""

    ids: frozenset[str] | None = frozenset()  # None: more than the reader asked to list
    seeds: frozenset[str] = frozenset()  # those that are (or were, if deleted) seed stories
    # the marking transactions read (one token each): what publishing clears, exactly, so a
    # story marked again by a transaction committed meanwhile stays pending
    tokens: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class CarrierFold:
    """One source's item in a story and the rule that folded it in; made by the store,
    printed by ``wiredesk why``."""

    source: str
    guid: str
    link: str
    fold: Fold


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One open (or just closed) problem of one source: decided by ``publish.problems``,
    kept by the store from one publish to the next (so a wiped publish folder or a store
    moved to another machine keeps its ids), published in ``sources.atom``."""

    source: str
    kind: str  # failing, gone, moved, seed or stale
    detail: str  # the reason: the last error, the new URL, the newest story's time
    since: datetime
    changed: datetime  # when ``detail`` last changed (or the problem closed)
    closed: datetime | None = None

    @property
    def key(self) -> str:
        """What makes it the same problem from one publish to the next."""
        return f"{self.source}/{self.kind}"

    @property
    def id(self) -> str:
        """The feed entry id: stable while the problem lasts; a closing entry has its own."""
        name = f"urn:wiredesk:problem:{self.key}/{self.since.isoformat()}"
        if self.closed:
            name += f"/closed/{self.closed.isoformat()}"
        return urn_uuid(name)


# Made in models_lazy, on first use (see there): a cron ``collect`` of feeds builds none.
_LAZY = frozenset(
    {
        "PassSummary",
        "Passes",
        "Health",
        "FeedLink",
        "AddResult",
        "Subscription",
        "ImportResult",
        "SeedScan",
    }
)

if TYPE_CHECKING:
    from aggregator.models_lazy import AddResult as AddResult
    from aggregator.models_lazy import FeedLink as FeedLink
    from aggregator.models_lazy import Health as Health
    from aggregator.models_lazy import ImportResult as ImportResult
    from aggregator.models_lazy import Passes as Passes
    from aggregator.models_lazy import PassSummary as PassSummary
    from aggregator.models_lazy import SeedScan as SeedScan
    from aggregator.models_lazy import Subscription as Subscription
else:

    def __getattr__(name: str) -> type:
        """The values of ``models_lazy``, loaded when the first of them is asked for."""
        if name in _LAZY:
            from aggregator import models_lazy

            return getattr(models_lazy, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
