"""The SQLite backend of the ``Store`` protocol; this package is the only importer of
sqlite3. The decisions (``store.plan``) and row forms (``store.rows``) are shared with the
other backends; only the SQL lives here.

One connection in autocommit mode behind a lock serves every thread; each write is an
explicit ``BEGIN IMMEDIATE`` transaction. WAL lets other processes (the CLI while the
daemon runs) read while one writes.

When another process holds the write lock for the whole busy timeout, the write fails
with "database is locked", and so does, at once, every write that was already queued
behind it: each thread waiting out its own timeout in turn made a locked store take
minutes to say so. A store that cannot be written says "read-only".
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from aggregator.errors import StoreError
from aggregator.models import (
    Article,
    ArticleQuery,
    Holder,
    IngestResult,
    Lease,
    PendingStories,
    PublishedFile,
    SourceState,
)
from aggregator.store import CarrierFold, Problem
from aggregator.store.records import Record, RecordCounts
from aggregator.store.rows import (
    ARTICLE_COLUMNS,
    SOURCE_COLUMNS,
    source_from_row,
    source_row,
    to_micros,
)
from aggregator.store.sqlite import copy, folds, leasing, published
from aggregator.store.sqlite.ingest import ingest
from aggregator.store.sqlite.query import After, page_sql
from aggregator.store.sqlite.read import read_articles
from aggregator.store.sqlite.schema import migrate

BATCH = 500
K = TypeVar("K")  # where a page of an export starts
BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_PAGES = 10_000
_SAVE_STATE = (
    f"INSERT INTO sources ({SOURCE_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(SOURCE_COLUMNS.split(', ')))})"
    " ON CONFLICT (name) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SOURCE_COLUMNS.split(", ")[1:])
)


_LOCKED = (
    f"database is locked: another process held it for {BUSY_TIMEOUT_MS / 1000:g}s"
    " (a second Wiredesk on the same store?)"
)


def _why(location: str, error: Exception) -> str:
    """What went wrong opening or writing ``location``, in words a user can act on:
    "read-only" when the file or its folder cannot be written (SQLite only says it is
    "unable to open database file")."""
    if location != ":memory:":
        path = Path(location)
        for target in (path, path.parent):
            if target.exists() and not os.access(target, os.W_OK):
                return f"read-only ({target} cannot be written)"
    if getattr(error, "sqlite_errorname", "").startswith("SQLITE_READONLY"):
        return f"read-only: {error}"
    return str(error)


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
        self._locked_at = float("-inf")  # when a write last waited out the busy timeout
        self._conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.location != ":memory:":
                Path(self.location).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.location, isolation_level=None, check_same_thread=False, timeout=0
            )
        except (OSError, sqlite3.Error) as e:
            raise StoreError(
                f"{self.location}: cannot open the store: {_why(self.location, e)}"
            ) from e
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
            raise StoreError(
                f"{self.location}: cannot open the store: {_why(self.location, e)}"
            ) from e
        return conn

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as e:
                raise StoreError(f"{self.location}: {_why(self.location, e)}") from e

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        asked = time.monotonic()
        with self._guard() as conn:
            if self._locked_at >= asked:
                # The lock was held for a whole busy timeout while this write queued behind
                # another thread's: the other process still has it.
                raise StoreError(f"{self.location}: {_LOCKED}")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                if e.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                    self._locked_at = time.monotonic()
                    raise StoreError(f"{self.location}: {_LOCKED}") from e
                raise
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

    def lease_due(
        self,
        holder: Holder,
        seen: Mapping[str, datetime | None],
        *,
        now: datetime,
        until: datetime,
        limit: int,
        reclaim: Sequence[int] = (),
    ) -> list[str]:
        """Lease to ``holder`` until ``until`` at most ``limit`` of the sources in ``seen``
        that no live lease holds at ``now`` (or only one of ``holder.node``'s dead
        processes ``reclaim``) and whose next due time is still the one in ``seen``,
        earliest due first, in one write transaction; returns their names.

        Raises StoreError when the database is locked, full or read-only."""
        with self._transaction() as conn:
            return leasing.lease_due(
                conn, holder, seen, now=now, until=until, limit=limit, reclaim=reclaim
            )

    def renew(self, holder: Holder, names: Sequence[str], *, until: datetime) -> list[str]:
        """Extend ``holder``'s leases of ``names`` to ``until``; returns those it still held.

        Raises StoreError when the database is locked, full or read-only."""
        with self._transaction() as conn:
            return leasing.renew(conn, holder, names, until=until)

    def release(self, holder: Holder, names: Sequence[str]) -> None:
        """End ``holder``'s leases of ``names``.

        Raises StoreError when the database is locked, full or read-only."""
        with self._transaction() as conn:
            leasing.release(conn, holder, names)

    def leases(self, *, now: datetime) -> dict[str, Lease]:
        """The leases live at ``now``, by source name.

        Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            return leasing.leases(conn, now=now)

    def ingest(
        self,
        source: str,
        articles: Sequence[Article],
        state: SourceState,
        *,
        now: datetime | None = None,
    ) -> IngestResult:
        """Store one source's articles of one pass and its new state in one transaction,
        folding each article into an existing story when dedup says it is the same one;
        new stories are first seen at ``now`` (the current time when not given).

        Returns the ids of new, merged and updated stories and the unchanged count.
        Raises StoreError when the database is locked, full or read-only (nothing of
        this pass is written then)."""
        with self._transaction() as conn:
            result = ingest(
                conn, source, articles, similarity=self.similarity, now=now or datetime.now(UTC)
            )
            published.mark(conn, result.changed_ids)
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

    def ids_starting(self, prefix: str, *, limit: int) -> list[str]:
        """At most ``limit`` story ids that start with ``prefix``, in order (a range of the
        primary key, so a short prefix costs no scan).

        Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            rows = conn.execute(
                "SELECT id FROM articles WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                (prefix, prefix + "\U0010ffff", limit),
            ).fetchall()
        return [row[0] for row in rows]

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
            count: int = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
            return count

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
            # their feeds and pages must lose them, as they would a changed story
            gone = conn.execute("SELECT id FROM articles WHERE first_seen < ?", (cutoff,))
            published.mark(conn, [id_ for (id_,) in gone])
            deleted = conn.execute("DELETE FROM articles WHERE first_seen < ?", (cutoff,)).rowcount
            conn.execute(
                "DELETE FROM tombstones WHERE first_seen < ?",
                (to_micros(now - 2 * retention),),
            )
            # the series history (dedup.fold.SERIES) of a headline ages out with its tombstones
            conn.execute(
                "DELETE FROM headline_uses WHERE day < ?",
                ((now - 2 * retention).astimezone(UTC).date().toordinal(),),
            )
        return deleted

    def pending_stories(self, *, at_most: int | None = None) -> PendingStories:
        """The stories changed or deleted since they were last published (their ids only
        when there are at most ``at_most``), read from one snapshot.

        Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            conn.execute("BEGIN")
            try:
                return published.pending(conn, at_most=at_most)
            finally:
                conn.execute("COMMIT")

    def published_files(self) -> dict[str, PublishedFile]:
        """The publish manifest: every file publishing wrote, by name.

        Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            return published.manifest(conn)

    def record_published(
        self,
        files: Sequence[PublishedFile],
        removed: Sequence[str],
        *,
        through: int,
        problems: Sequence[Problem] | None = None,
    ) -> None:
        """Enter ``files`` in the manifest, drop ``removed`` from it, clear the pending
        stories up to ``through`` and replace the problems (unless None), in one transaction.

        Raises StoreError when the database is locked, full or read-only."""
        with self._transaction() as conn:
            published.record(conn, files, removed, through)
            if problems is not None:
                published.replace_problems(conn, problems)

    def problems(self) -> list[Problem]:
        """The sources' problems the last publish recorded.

        Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            return published.problems(conn)

    def fold_reasons(self, article_id: str) -> tuple[CarrierFold, ...] | None:
        """Every carrier of the story ``article_id`` and the rule that folded it in, in the
        order they came; None when no story has that id.

        Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            return folds.reasons(conn, article_id)

    def split(self, article_id: str, source: str, *, now: datetime) -> str:
        """Separate ``source``'s item from the story ``article_id`` into a story of its own,
        remembered so that later passes do not fold it back; returns the new story's id.

        Raises StoreError when there is no such story or source to split, or the database
        is locked, full or read-only."""
        with self._transaction() as conn:
            new_id = folds.split(
                conn, article_id, source, now=now, words=self.similarity is not None
            )
            published.mark(conn, [article_id, new_id])
        return new_id

    def counts(self) -> RecordCounts:
        """How many records of each kind the store holds.

        Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            return copy.counts(conn)

    def export(self) -> Iterator[Record]:
        """Everything but the publish state and derived indexes, as records, read a batch
        at a time (the lock is held only while a batch is read): sources and problems, the
        stories in row order, tombstones, headline uses.

        Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            small = copy.small_tables(conn)
        yield from small
        yield from self._pages(copy.stories_after, 0)
        yield from self._pages(copy.tombstones_after, copy.FIRST_TOMBSTONE)
        yield from self._pages(copy.uses_after, copy.FIRST_USE)

    def _pages(
        self,
        read: Callable[[sqlite3.Connection, K, int], tuple[Sequence[Record], K]],
        after: K,
    ) -> Iterator[Record]:
        while True:
            with self._guard() as conn:
                batch, after = read(conn, after, BATCH)
            yield from batch
            if len(batch) < BATCH:
                return

    def import_records(self, records: Sequence[Record]) -> RecordCounts:
        """Write the ``records`` not stored yet in one transaction; the new stories are
        pending publication and the headline word index is rebuilt by the next pass that
        matches near-duplicates. Returns how many of each kind were new.

        Raises StoreError when the database is locked, full or read-only, or a new
        story's carrier is another stored story's."""
        with self._transaction() as conn:
            return copy.write_records(conn, records)
