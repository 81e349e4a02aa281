"""The SQLite backend of the ``Store`` protocol (the only importer of sqlite3, with its
siblings ``schema``, ``rows`` and ``ingest``).

One connection in autocommit mode behind a lock serves every thread; each write is an
explicit ``BEGIN IMMEDIATE`` transaction. WAL lets other processes (the CLI while the
daemon runs) read while one writes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.errors import StoreError
from aggregator.models import Article, IngestResult, SourceState
from aggregator.store import ArticleQuery
from aggregator.store.ingest import Ingest
from aggregator.store.query import After, page_sql
from aggregator.store.rows import (
    ARTICLE_COLUMNS,
    SOURCE_COLUMNS,
    read_articles,
    source_from_row,
    source_row,
    to_micros,
)
from aggregator.store.schema import migrate

BATCH = 500
BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_PAGES = 10_000
_SAVE_STATE = (
    f"INSERT INTO sources ({SOURCE_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(SOURCE_COLUMNS.split(', ')))})"
    " ON CONFLICT (name) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SOURCE_COLUMNS.split(", ")[1:])
)


class SQLiteStore:
    """A store in one SQLite file (or ``:memory:``), created and migrated on open."""

    def __init__(self, location: str, *, similarity: float | None = None) -> None:
        """Open the store at ``location``, creating its folder and schema as needed.

        ``similarity`` (0..1) turns on near-duplicate matching of reworded headlines.
        Raises StoreError naming the path when it cannot be opened or is too new.
        """
        self.location = location
        self.similarity = similarity
        self._lock = threading.Lock()
        self._conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.location != ":memory:":
                Path(self.location).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.location, isolation_level=None, check_same_thread=False, timeout=0
            )
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"{self.location}: cannot open the store: {e}") from e
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # a pass writes a few hundred index pages; checkpointing (and syncing) every
            # ~40 MB instead of 4 MB writes each hot page to the database file once, not 10x
            conn.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn)
        except (sqlite3.Error, ValueError) as e:
            conn.close()
            raise StoreError(f"{self.location}: cannot open the store: {e}") from e
        return conn

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as e:
                raise StoreError(f"{self.location}: {e}") from e

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._guard() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Release the connection."""
        with self._lock:
            self._conn.close()

    def source_state(self, name: str) -> SourceState | None:
        """The remembered state of one source, or None before its first pass.

        Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            row = conn.execute(
                f"SELECT {SOURCE_COLUMNS} FROM sources WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else source_from_row(row)

    def source_states(self) -> dict[str, SourceState]:
        """The state of every source the store has seen, by name.

        Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            rows = conn.execute(f"SELECT {SOURCE_COLUMNS} FROM sources ORDER BY name").fetchall()
        return {row[0]: source_from_row(row) for row in rows}

    def save_source_state(self, state: SourceState) -> None:
        """Remember a source's state (a failed or not-modified pass).

        Raises StoreError when the database is locked, full or read-only."""
        with self._transaction() as conn:
            conn.execute(_SAVE_STATE, source_row(state))

    def ingest(self, source: str, articles: Sequence[Article], state: SourceState) -> IngestResult:
        """Store one source's articles of one pass and its new state in one transaction,
        folding each article into an existing story when dedup says it is the same one.

        Returns the ids of new, merged and updated stories and the unchanged count.
        Raises StoreError when the database is locked, full or read-only (nothing of
        this pass is written then)."""
        with self._transaction() as conn:
            ingest = Ingest(conn, source, similarity=self.similarity, now=datetime.now(UTC))
            result = ingest.run(articles)
            conn.execute(_SAVE_STATE, source_row(state))
        return result

    def article(self, article_id: str) -> Article | None:
        """One story by id, with all its sources and links; None when there is none.

        Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            rows = conn.execute(
                f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)
            ).fetchall()
            found = read_articles(conn, rows)
        return found[0] if found else None

    def articles(self, query: ArticleQuery) -> Iterator[Article]:
        """Stories matching ``query``, newest published first, read lazily in batches
        (the lock is held only while a batch is read).

        Raises StoreError when the database cannot be read."""
        remaining = query.limit
        after: After | None = None
        while remaining is None or remaining > 0:
            size = BATCH if remaining is None else min(BATCH, remaining)
            page = page_sql(query, after, size)
            if page is None:
                return
            with self._guard() as conn:
                rows = conn.execute(*page).fetchall()
                batch = read_articles(conn, rows)
            yield from batch
            if len(rows) < size:
                return
            after = (rows[-1][7], rows[-1][0])
            remaining = None if remaining is None else remaining - len(rows)

    def article_counts(self) -> dict[str, int]:
        """How many stories each source carried, by source name.

        Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            rows = conn.execute(
                "SELECT source, count(DISTINCT article_pk) FROM carriers GROUP BY source"
            ).fetchall()
        return dict(rows)

    def story_count(self) -> int:
        """How many stories are stored. Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            return conn.execute("SELECT count(*) FROM articles").fetchone()[0]

    def prune(self, *, now: datetime, retention: timedelta) -> int:
        """Delete stories first seen before ``now - retention``; returns how many.

        Their dedup keys stay behind as tombstones, so a late re-post is not stored
        again as new, until they are ``2 * retention`` old.
        Raises StoreError when the database is locked, full or read-only."""
        cutoff = to_micros(now - retention)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO tombstones (dedup_key, day, first_seen)"
                " SELECT dedup_key, day, max(first_seen) FROM articles WHERE first_seen < ?"
                " GROUP BY dedup_key, day"
                " ON CONFLICT DO UPDATE SET first_seen = max(first_seen, excluded.first_seen)",
                (cutoff,),
            )
            deleted = conn.execute("DELETE FROM articles WHERE first_seen < ?", (cutoff,)).rowcount
            conn.execute(
                "DELETE FROM tombstones WHERE first_seen < ?",
                (to_micros(now - 2 * retention),),
            )
        return deleted
