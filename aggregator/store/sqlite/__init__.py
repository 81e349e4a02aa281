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

Ingests that queue for the lock commit as a group (``group``): the thread that gets it runs
the queued sources' ingests, and those that queue while they run, in order, in one
transaction (each sees the stories of those before it, as one by one) and commits once.
When one of them fails on its own (a bug, or odd data hitting a constraint) the group is
rolled back and each runs again in its own transaction, so that only that source fails;
when the database fails (locked, full, read-only), every source of the group fails with
its error.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from aggregator.errors import StoreError, StoreLocked
from aggregator.models import IngestResult
from aggregator.store.sql import Db
from aggregator.store.sql.store import SqlStore, T
from aggregator.store.sqlite.connection import SQLITE, Connection
from aggregator.store.sqlite.group import Member, Queue
from aggregator.store.sqlite.schema import migrate

BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_PAGES = 10_000
GROUP_ARTICLES = 1_000  # at most this many articles' ingests commit together
CACHE_KIB = 8_000  # the connection's page cache
# the errors of the database (or the machine), not of one source's data: a group that meets
# one fails as a whole, since each source alone would meet it too
_DATABASE_ERRORS = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOMEM,
    }
)
log = logging.getLogger(__name__)


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


class SQLiteStore(SqlStore):
    """A store in one SQLite file (or ``:memory:``), created and migrated on open."""

    dialect = SQLITE

    def __init__(
        self, location: str, *, similarity: float | None = None, node: str | None = None
    ) -> None:
        """Open the store at ``location``, creating its folder and schema as needed.

        ``similarity`` (0..1) turns on near-duplicate matching of reworded headlines;
        ``node`` names this node (``store.this_node``; by default the host name).
        Raises StoreError naming the path when it cannot be opened or is too new.
        """
        super().__init__(location, similarity=similarity, node=node)
        self._lock = threading.Lock()
        self._locked_at = float("-inf")  # when a write last waited out the busy timeout
        self._ingests = Queue(limit=GROUP_ARTICLES)
        self._conn = self._connect()

    def _connect(self) -> Connection:
        try:
            if self.location != ":memory:":
                Path(self.location).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.location,
                isolation_level=None,
                check_same_thread=False,
                timeout=0,
                factory=Connection,
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
            # a group commit's transaction dirties several MB of pages: in SQLite's default
            # 2 MB cache they spilled to the WAL before the commit, to be written again
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            migrate(conn)
        except (sqlite3.Error, ValueError) as e:
            conn.close()
            raise StoreError(
                f"{self.location}: cannot open the store: {_why(self.location, e)}"
            ) from e
        return conn

    @contextmanager
    def _guard(self) -> Iterator[Connection]:
        with self._lock, self._as_store_errors():
            yield self._conn

    @contextmanager
    def _as_store_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise StoreError(f"{self.location}: {_why(self.location, e)}") from e

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        asked = time.monotonic()
        with self._guard(), self._begun(asked) as conn:
            yield conn

    @contextmanager
    def _begun(self, asked: float) -> Iterator[Connection]:
        """One ``BEGIN IMMEDIATE`` transaction of a write that ``asked`` for the lock then,
        which the caller holds; raises StoreLocked when the database is locked."""
        conn = self._conn
        if self._locked_at >= asked:
            # The lock was held for a whole busy timeout while this write queued behind
            # another thread's: the other process still has it.
            raise StoreLocked(f"{self.location}: {_LOCKED}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if e.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                self._locked_at = time.monotonic()
                raise StoreLocked(f"{self.location}: {_LOCKED}") from e
            raise
        try:
            yield conn
            # inside: a COMMIT that fails (a deferred constraint, a full disk) may leave the
            # transaction open, and every later BEGIN of this connection would fail
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _read(self, work: Callable[[Db], T], *, snapshot: bool = False) -> T:
        """``work`` under the lock (inside one read transaction when ``snapshot``).

        Raises StoreError when the database cannot be read."""
        with self._guard() as conn:
            if not snapshot:
                return work(conn)
            conn.execute("BEGIN")
            try:
                return work(conn)
            finally:
                conn.execute("COMMIT")

    def _write(self, work: Callable[[Db], T], *, batched: bool = False) -> T:
        """``work`` in one ``BEGIN IMMEDIATE`` transaction (``batched`` changes nothing: the
        database is in this process).

        Raises StoreError when the database is locked, full or read-only."""
        with self._transaction() as conn:
            return work(conn)

    def _write_ingest(self, work: Callable[[Db], IngestResult], *, size: int) -> IngestResult:
        """``work``, one source's ingest of ``size`` articles, committed alone when no other
        ingest waits for the lock, else with those waiting (``group``).

        Raises StoreError when the database is locked, full or read-only."""
        return self._ingests.run(Member(work, size=size, asked=time.monotonic()), self._lead)

    def _lead(self, take: Callable[[], list[Member]]) -> None:
        """Settle the ingests ``take`` gives once the lock is held, in one transaction; when
        one of several failed on its own, each again in its own."""
        with self._lock:
            group = take()
            if self._together(group, take):
                return
            log.debug("%s: one of the group failed on its own: each again alone", self.location)
            for member in group:
                member.settle(partial(self._alone, member))

    def _alone(self, member: Member) -> IngestResult:
        with self._as_store_errors(), self._begun(member.asked) as conn:
            return member.work(conn)

    def _together(self, group: list[Member], take: Callable[[], list[Member]]) -> bool:
        """Run ``group`` in one transaction, with the ingests that ``take`` gives as they
        queue meanwhile (``group`` grows by them), and settle each member: True, unless
        one of several members failed on its own (all was rolled back, nothing settled)."""
        if len(group) > 1:
            log.debug("%s: %d ingests in one transaction", self.location, len(group))
        try:
            with self._begun(min(m.asked for m in group)) as conn:
                results = [member.work(conn) for member in group]
                # Ingests that queued while the group ran join it before its commit: a
                # first pass's threads queue a few at a time, and each commit writes the
                # index pages its group dirtied (~2.6 MB of WAL) however few sources it has.
                while later := take():
                    log.debug("%s: %d more joined the transaction", self.location, len(later))
                    group.extend(later)
                    results.extend(member.work(conn) for member in later)
        except StoreLocked as e:
            _fail(group, StoreLocked, str(e), e.__cause__)
        except sqlite3.Error as e:
            database = (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF in _DATABASE_ERRORS
            if not database and len(group) > 1:
                return False  # one member's: each runs again, and only its own fails
            _fail(group, StoreError, f"{self.location}: {_why(self.location, e)}", e)
        except Exception as e:  # a bug or a StoreError hit by one member's data: only its own fails
            if len(group) > 1:
                return False
            group[0].fail(e)
        else:
            for member, result in zip(group, results, strict=True):
                member.succeed(result)
        return True

    def close(self) -> None:
        """Release the connection."""
        with self._lock:
            self._conn.close()


def _fail(
    group: list[Member], kind: type[StoreError], message: str, cause: BaseException | None
) -> None:
    """Fail each member of ``group`` with an error of its own, of ``kind``, saying
    ``message``."""
    for member in group:
        error = kind(message)
        error.__cause__ = cause
        member.fail(error)
