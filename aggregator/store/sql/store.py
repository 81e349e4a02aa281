"""The ``Store`` protocol written once in SQL: a backend subclasses ``SqlStore`` and says
only how a unit of work reaches its database (``_read``, ``_write``) and how to close."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from aggregator.models import (
    Article,
    ArticleQuery,
    CarrierFold,
    Holder,
    IngestResult,
    Lease,
    PendingStories,
    Problem,
    PublishedFile,
    SourceState,
)
from aggregator.store import Watch, catch_up_or_warn, this_node
from aggregator.store.rows import ARTICLE_COLUMNS, to_micros
from aggregator.store.sql import Db, Dialect, leasing, published
from aggregator.store.sql.query import After, page_sql
from aggregator.store.sql.read import read_articles
from aggregator.store.sql.states import read_states, save_states

if TYPE_CHECKING:
    from aggregator.store.records import Record, RecordCounts

T = TypeVar("T")
K = TypeVar("K")  # where a page of an export starts
BATCH = 500  # stories read per query by ``articles``
CATCH_UP_BATCH = 2000  # stories a transaction of ``catch_up_search`` indexes


REJOIN_AFTER = published.FORGET_AFTER / 7  # how often a joined node says it is still here


class SqlStore(ABC):
    """Every ``Store`` method over a backend's transactions; ``similarity`` (0..1) turns on
    near-duplicate matching of reworded headlines; ``node`` names this node, whose
    publish state (``sql.published``) the publishing methods read and write."""

    dialect: Dialect  # the backend's, as its ``Db`` has it
    # whether the full-text index trails the stories' transactions (``Db.catch_up_text``):
    # False for a backend that indexes each story as it writes it (PostgreSQL)
    queues_text: ClassVar[bool] = True

    def __init__(self, location: str, *, similarity: float | None, node: str | None) -> None:
        """What every backend keeps of its store: ``location`` as the user gave it,
        ``similarity`` and the node's name (``store.this_node(node)``)."""
        self.location = location
        self.similarity = similarity
        self.node = this_node(node)
        self._joined: datetime | None = None  # when this store last joined its node (``_join``)

    @abstractmethod
    def _read(self, work: Callable[[Db], T], *, snapshot: bool = False) -> T:
        """``work`` done on a connection (from one snapshot of the database when
        ``snapshot``); raises StoreError when the database cannot be read."""

    @abstractmethod
    def _write(self, work: Callable[[Db], T], *, batched: bool = False) -> T:
        """``work`` done in one transaction, committed when it returns, rolled back when it
        raises; raises StoreError when the database cannot be written. ``batched``: the
        backend may send the statements without waiting for each one's answer (PostgreSQL's
        pipeline mode) until ``work`` fetches a row, so ``work`` reads no ``rowcount``."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection(s)."""

    def source_state(self, name: str) -> SourceState | None:
        """The remembered state of one source, or None before its first pass.

        Raises StoreError when the database cannot be read."""
        found = self._read(lambda db: read_states(db, name))
        return found[0] if found else None

    def source_states(self) -> dict[str, SourceState]:
        """The state of every source the store has seen, by name.

        Raises StoreError when the database cannot be read."""
        return {state.name: state for state in self._read(read_states)}

    def save_source_state(self, state: SourceState) -> None:
        """Remember a source's state (a failed or not-modified pass).

        Raises StoreError when the database is locked, full or read-only."""
        self._write(lambda db: save_states(db, [state]))

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
        """``Store.lease_due``, in one write transaction.

        Raises StoreError when the database is locked, full or read-only."""
        return self._write(
            lambda db: leasing.lease_due(
                db, holder, seen, now=now, until=until, limit=limit, reclaim=reclaim
            )
        )

    def renew(self, holder: Holder, names: Sequence[str], *, until: datetime) -> list[str]:
        """Extend ``holder``'s leases of ``names`` to ``until``; returns those it still held.

        Raises StoreError when the database is locked, full or read-only."""
        return self._write(lambda db: leasing.renew(db, holder, names, until=until))

    def release(
        self,
        holder: Holder,
        names: Sequence[str],
        *,
        states: Sequence[SourceState] = (),
        read: Mapping[str, SourceState] | None = None,
    ) -> None:
        """``Store.release``, in one write transaction.

        Raises StoreError when the database is locked, full or read-only."""

        def work(db: Db) -> None:
            if states:
                save_states(db, states, read=read)
            if names:
                leasing.release(db, holder, names)

        self._write(work)

    def leases(self, *, now: datetime) -> dict[str, Lease]:
        """The leases live at ``now``, by source name.

        Raises StoreError when the database cannot be read."""
        return self._read(lambda db: leasing.leases(db, now=now))

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
        # The planner and the writer: not for a pass with nothing due.
        from aggregator.store.sql.ingest import ingest
        from aggregator.store.sql.write import indexed_texts

        moment = now or datetime.now(UTC)
        texts = indexed_texts(self.dialect, articles)

        def work(db: Db) -> IngestResult:
            result = ingest(
                db, source, articles, similarity=self.similarity, now=moment, texts=texts
            )
            published.mark(db, result.changed_ids, by=self.node)
            save_states(db, [state])
            return result

        return self._write_ingest(work, size=len(articles))

    def _write_ingest(self, work: Callable[[Db], IngestResult], *, size: int) -> IngestResult:
        """One source's ingest ``work`` (of ``size`` articles) in a write transaction of its
        own, ``batched``; a backend may commit several sources' in one (SQLite's group
        commit). Raises StoreError when the database is locked, full or read-only."""
        return self._write(work, batched=True)

    def article(self, article_id: str) -> Article | None:
        """One story by id, with all its sources and links; None when there is none.

        Raises StoreError when the database cannot be read."""

        def work(db: Db) -> list[Article]:
            sql = f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?"
            return read_articles(db, db.execute(sql, (article_id,)).fetchall())

        found = self._read(work)
        return found[0] if found else None

    def ids_starting(self, prefix: str, *, limit: int) -> list[str]:
        """At most ``limit`` story ids that start with ``prefix``, in order (a range of the
        primary key, so a short prefix costs no scan).

        Raises StoreError when the database cannot be read."""
        rows = self._read(
            lambda db: db.execute(
                "SELECT id FROM articles WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                (prefix, prefix + "\U0010ffff", limit),
            ).fetchall()
        )
        return [row[0] for row in rows]

    def articles(self, query: ArticleQuery, *, caught_up: bool = False) -> Iterator[Article]:
        """Stories matching ``query``, newest published first, read lazily in batches
        (a connection is held only while a batch is read); a search first brings the
        full-text index up to date (``catch_up_or_warn``: when the store cannot be written
        it searches what is indexed, with a warning), unless the caller ``caught_up`` the
        index for it already.

        Raises StoreError when the database cannot be read."""
        if query.search is not None and not caught_up:
            catch_up_or_warn(self)
        remaining = query.limit
        after: After | None = None
        while remaining is None or remaining > 0:
            size = BATCH if remaining is None else min(BATCH, remaining)
            rows, batch = self._read(partial(_page, query=query, after=after, size=size))
            yield from batch
            if len(rows) < size:
                return
            after = (rows[-1][7], rows[-1][0])
            remaining = None if remaining is None else remaining - len(rows)

    def catch_up_search(self) -> int:
        """Move the stories queued for the full-text index (``Db.catch_up_text``) into it,
        ``CATCH_UP_BATCH`` to a write transaction, until none committed before the call is
        left; returns how many. Only a store with a queue takes the write lock, and one that
        never queues (``queues_text``) looks at none.

        Raises StoreError when the database cannot be read, or written while stories wait."""
        caught = 0
        if not self.queues_text:
            return caught
        while self._read(lambda db: db.text_queued()):
            batch = self._write(lambda db: db.catch_up_text(CATCH_UP_BATCH))
            caught += batch
            if batch < CATCH_UP_BATCH:
                break
        return caught

    def article_counts(self) -> dict[str, int]:
        """How many stories each source carried, by source name.

        Raises StoreError when the database cannot be read."""
        rows = self._read(
            lambda db: db.execute(
                "SELECT source, count(DISTINCT article_pk) FROM carriers GROUP BY source"
            ).fetchall()
        )
        return dict(rows)

    def story_count(self) -> int:
        """How many stories are stored. Raises StoreError when the database cannot be read."""
        count: int = self._read(
            lambda db: db.execute("SELECT count(*) FROM articles").fetchone()[0]
        )
        return count

    def prune(self, *, now: datetime, retention: timedelta) -> int:
        """Delete stories first seen before ``now - retention``; returns how many (0 when
        another node is pruning the store at that moment: one prunes at a time).

        Their dedup keys stay behind as tombstones, so a late re-post is not stored
        again as new, until they are ``2 * retention`` old.
        Raises StoreError when the database is locked, full or read-only."""
        return self._write(lambda db: _prune(db, self.node, now=now, retention=retention))

    def pending_stories(self, *, at_most: int | None = None) -> PendingStories:
        """The stories changed or deleted since this node last published them (their ids
        only when there are at most ``at_most``), read from one snapshot once the node has
        joined (``published.join``).

        Raises StoreError when the database cannot be read or written."""
        self._join()
        return self._read(
            lambda db: published.pending(db, self.node, at_most=at_most), snapshot=True
        )

    def published_files(self) -> dict[str, PublishedFile]:
        """This node's publish manifest: every file its publishing wrote, by name (once the
        node has joined).

        Raises StoreError when the database cannot be read or written."""
        self._join()
        return self._read(lambda db: published.manifest(db, self.node))

    def _join(self) -> None:
        """Join this node (``published.join``) unless this store did less than REJOIN_AFTER
        ago: each publish read both the pending stories and the manifest, and joined for
        each, two write transactions that only said the node was still there. Joining
        again that often keeps a publishing node from being forgotten, and one that did
        not publish for long joins again, under the marks' lock, before it reads."""
        now = datetime.now(UTC)
        if self._joined is not None and timedelta(0) <= now - self._joined < REJOIN_AFTER:
            return
        self._write(lambda db: published.join(db, self.node, now=now))
        self._joined = now

    def record_published(
        self,
        files: Sequence[PublishedFile],
        removed: Sequence[str],
        *,
        tokens: Collection[int],
        problems: Sequence[Problem] | None = None,
    ) -> None:
        """Enter ``files`` in this node's manifest, drop ``removed`` from it, clear its
        pending marks of ``tokens`` and replace the problems (unless None), in one
        transaction.

        Raises StoreError when the database is locked, full or read-only."""

        def work(db: Db) -> None:
            published.record(db, self.node, files, removed, tokens)
            if problems is not None:
                published.replace_problems(db, problems)

        self._write(work)

    def watch(self, heard: Callable[[str], None]) -> Watch | None:
        """None: only a backend shared by several nodes has others' changes to hear of."""
        return None

    def file_times(self, files: Mapping[str, str], *, now: datetime) -> dict[str, datetime]:
        """``Store.file_times``, in one write transaction.

        Raises StoreError when the database is locked, full or read-only."""
        return self._write(lambda db: published.file_times(db, files, now=now))

    def problems(self) -> list[Problem]:
        """The sources' problems the last publish recorded.

        Raises StoreError when the database cannot be read."""
        return self._read(published.problems)

    def fold_reasons(self, article_id: str) -> tuple[CarrierFold, ...] | None:
        """Every carrier of the story ``article_id`` and the rule that folded it in, in the
        order they came; None when no story has that id.

        Raises StoreError when the database cannot be read."""
        from aggregator.store.sql import folds

        return self._read(lambda db: folds.reasons(db, article_id))

    def split(self, article_id: str, source: str, *, now: datetime) -> str:
        """Separate ``source``'s item from the story ``article_id`` into a story of its own,
        remembered so that later passes do not fold it back; returns the new story's id.

        Raises StoreError when there is no such story or source to split, or the database
        is locked, full or read-only."""
        from aggregator.store.sql import folds

        def work(db: Db) -> str:
            words = self.similarity is not None
            new_id = folds.split(db, article_id, source, now=now, words=words)
            published.mark(db, [article_id, new_id], by=self.node)
            return new_id

        return self._write(work)

    def counts(self) -> RecordCounts:
        """How many records of each kind the store holds.

        Raises StoreError when the database cannot be read."""
        from aggregator.store.sql import copy  # migrate-store's: not for a pass

        return self._read(copy.counts)

    def export(self) -> Iterator[Record]:
        """Everything but the publish state and derived indexes, as records, read a batch
        at a time (a connection is held only while a batch is read): sources and problems,
        the stories in row order, tombstones, headline uses.

        Raises StoreError when the database cannot be read."""
        from aggregator.store.sql import copy

        yield from self._read(copy.small_tables)
        yield from self._pages(copy.stories_after, 0)
        yield from self._pages(copy.tombstones_after, copy.FIRST_TOMBSTONE)
        yield from self._pages(copy.uses_after, copy.FIRST_USE)

    def _pages(
        self, read: Callable[[Db, K, int], tuple[Sequence[Record], K]], after: K
    ) -> Iterator[Record]:
        while True:
            batch, after = self._read(partial(_batch, read, after))
            yield from batch
            if len(batch) < BATCH:
                return

    def import_records(self, records: Sequence[Record]) -> RecordCounts:
        """Write the ``records`` not stored yet in one transaction; the new stories are
        pending publication and the headline word index is rebuilt by the next pass that
        matches near-duplicates. Returns how many of each kind were new.

        Raises StoreError when the database is locked, full or read-only, or a new
        story's carrier is another stored story's."""
        from aggregator.store.sql import copy

        return self._write(lambda db: copy.write_records(db, records, by=self.node))


def _batch(
    read: Callable[[Db, K, int], tuple[Sequence[Record], K]], after: K, db: Db
) -> tuple[Sequence[Record], K]:
    """One batch of an export: ``read`` from after ``after``."""
    return read(db, after, BATCH)


def _page(
    db: Db, query: ArticleQuery, after: After | None, size: int
) -> tuple[list[Any], list[Article]]:
    """One page of ``query``: its rows and their stories (nothing when it matches nothing)."""
    page = page_sql(db.dialect, query, after, size)
    if page is None:
        return [], []
    rows = db.execute(*page).fetchall()
    return rows, read_articles(db, rows)


def _prune(db: Db, node: str, *, now: datetime, retention: timedelta) -> int:
    """``SqlStore.prune`` inside its transaction: nothing when another node is pruning."""
    if not db.alone("prune"):
        return 0  # it deletes what this one would: two at once would only wait on each other
    cutoff = to_micros(now - retention)
    db.execute(
        "INSERT INTO tombstones (dedup_key, day, first_seen)"
        " SELECT dedup_key, day, max(first_seen) FROM articles WHERE first_seen < ?"
        " GROUP BY dedup_key, day ON CONFLICT (dedup_key, day) DO UPDATE SET first_seen ="
        f" {db.dialect.greatest}(tombstones.first_seen, excluded.first_seen)",
        (cutoff,),
    )
    # their feeds and pages must lose them, as they would a changed story
    gone = db.execute("SELECT id FROM articles WHERE first_seen < ?", (cutoff,)).fetchall()
    published.mark(db, [id_ for (id_,) in gone], by=node)
    deleted = db.execute("DELETE FROM articles WHERE first_seen < ?", (cutoff,)).rowcount
    db.execute("DELETE FROM tombstones WHERE first_seen < ?", (to_micros(now - 2 * retention),))
    # the series history (dedup.fold.SERIES) of a headline ages out with its tombstones
    db.execute(
        "DELETE FROM headline_uses WHERE day < ?",
        ((now - 2 * retention).astimezone(UTC).date().toordinal(),),
    )
    return deleted
