"""The values that cross module boundaries but that a pass of feeds alone never reads: the
daemon's health, feed discovery, OPML import and the seed folder's scan (a pass with a seed
folder due reads that). ``aggregator.models`` exports them by name and loads this module
the first time one is asked for: each frozen dataclass compiles its generated methods
when it is made (~4M instructions), and a cron ``collect`` of feeds needs none of these.
All frozen; nothing here does I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from aggregator.errors import SeedError
from aggregator.models import Article


@dataclass(frozen=True, slots=True, kw_only=True)
class PassSummary:
    """The last pass that collected something, as /healthz shows it; part of ``Passes``."""

    started: datetime
    finished: datetime
    sources: int  # collected: fetched or scanned
    errors: int  # of those, failed
    changed: int  # stories added or changed


@dataclass(frozen=True, slots=True, kw_only=True)
class Passes:
    """The daemon's passes so far, as the health check saw them; part of ``Health``."""

    store: str = "ok"  # or "unreachable": the last pass could not reach it
    passes: int = 0
    failed_passes_in_a_row: int = 0  # passes that collected something, all failed
    last_error: str = ""  # the last real error, kept after recovery
    last_error_at: datetime | None = None
    last_pass_finished: datetime | None = None  # the last pass of any kind, idle ones too
    last_pass: PassSummary | None = None
    sources_due: int = 0  # when the last pass began
    sources_overdue: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """How the process is doing; made by ``health.assess`` for the daemon (``passes`` is
    None under ``serve``, which runs none), served by /healthz with ``health.document``.
    Whether it is healthy follows from ``reasons`` alone, so nothing else decides it."""

    scheduler: str  # running, stopped, or not running (serve only)
    reasons: tuple[str, ...] = ()  # why it is failing; none when healthy
    passes: Passes | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is failing."""
        return not self.reasons

    @property
    def status(self) -> str:
        """``ok`` or ``failing``, as /healthz says it."""
        return "ok" if self.ok else "failing"


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedLink:
    """A feed a web page announces with ``<link rel="alternate">``; made by discovery,
    listed by the CLI when a page offers several."""

    url: str  # absolute
    title: str = ""
    type: str = ""  # application/rss+xml, application/atom+xml or application/feed+json


@dataclass(frozen=True, slots=True, kw_only=True)
class AddResult:
    """The source ``add`` appended to the config; made by discovery, printed by the CLI."""

    name: str
    url: str
    title: str = ""
    entries: int = 0  # entries the feed held when it was checked


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """One feed of an OPML file; made by the OPML reader, read by the importer."""

    url: str
    title: str
    html_url: str = ""
    folders: tuple[str, ...] = ()  # the nested folder titles, outermost first


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportResult:
    """What an OPML import changed in the config; made by the importer, printed by the CLI."""

    added: tuple[str, ...] = ()  # names of the sources added
    skipped: tuple[str, ...] = ()  # one line per subscription not added, with the reason
    categories_created: tuple[str, ...] = ()
    # existing categories a folder matched, left as they were: name -> the new sources
    # of that folder, added as sources only
    categories_kept: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def nothing_new(self) -> bool:
        """True when the import added no source and no category."""
        return not self.added and not self.categories_created


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedScan:
    """One pass over a seed folder; made by seeds.scan_folder, read by the collector, which
    keeps ``stamps`` in ``SourceState.file_stamps`` and passes them back next pass."""

    articles: tuple[Article, ...] = ()  # parsed from new or changed files only
    stamps: Mapping[str, str] = field(default_factory=dict)  # relative path -> stamp, good files
    errors: tuple[SeedError, ...] = ()  # broken files: left out of stamps, so retried
    unchanged: int = 0  # files skipped because their stamp had not changed
