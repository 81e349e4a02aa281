"""The store: every story once, with every source and link that carried it.

``Store`` is the interface the rest of the pipeline sees; ``open_store`` picks the backend
from the config's ``store:`` value. SQLite is the backend today (``store/sqlite.py``); a
PostgreSQL backend only has to implement the same protocol.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aggregator.models import FROZEN, Article, IngestResult, SourceState


@dataclass(**FROZEN)
class ArticleQuery:
    """Which stored articles to read, newest published first; unset fields do not filter."""

    ids: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None  # carried by any of these sources
    sections: tuple[str, ...] | None = None  # section or tag equal (case-insensitive) to one
    since: datetime | None = None  # published at or after
    search: str | None = None  # full-text query over title, summary and content
    seeds_only: bool = False  # only stories carried by a seed file
    limit: int | None = None


class Store(Protocol):
    """What the pipeline needs from a store. Every method is safe to call from any thread."""

    def close(self) -> None:
        """Release the connection(s)."""

    def source_state(self, name: str) -> SourceState | None:
        """The remembered state of one source, or None before its first pass."""

    def source_states(self) -> dict[str, SourceState]:
        """The state of every source the store has seen, by name."""

    def save_source_state(self, state: SourceState) -> None:
        """Remember a source's state (a failed or not-modified pass)."""

    def ingest(self, source: str, articles: Sequence[Article], state: SourceState) -> IngestResult:
        """Store one source's articles of one pass and its new state in one transaction,
        folding each article into an existing story when dedup says it is the same one."""

    def article(self, article_id: str) -> Article | None:
        """One story by id, with all its sources and links."""

    def articles(self, query: ArticleQuery) -> Iterator[Article]:
        """Stories matching ``query``, newest published first, read lazily in batches."""

    def article_counts(self) -> dict[str, int]:
        """How many stories each source carried, by source name."""

    def story_count(self) -> int:
        """How many stories are stored."""

    def prune(self, *, now: datetime, retention: timedelta) -> int:
        """Delete stories first seen before ``now - retention``; returns how many."""


def open_store(location: str, *, similarity: float | None = None) -> Store:
    """Open (creating and migrating as needed) the store at ``location``.

    Raises StoreError when it cannot be opened.
    """
    from aggregator.store.sqlite import SQLiteStore

    return SQLiteStore(location, similarity=similarity)
