"""The PostgreSQL backend of the ``Store`` protocol, for a store several Wiredesk nodes share;
this package is the only importer of psycopg. The SQL is ``store.sql``'s, as for SQLite.

A pool of connections serves every thread. Each write is one READ COMMITTED transaction,
retried when PostgreSQL picks it as the victim of a deadlock. Two nodes never store one
story twice: an ingest first claims the dedup identities it may create stories under
(``PgDb.claim``: a unique key per identity, upserted), so a second node's pass that could
fold into the same story waits for the first and then reads its story. Once a transaction
that marked stories pending publication has committed, the store notifies the other
nodes, and ``watch`` hears them (``listen``).

The location is a libpq URL, ``postgresql://user@host:port/database`` (or ``postgres://``);
``?options=-csearch_path%3Dname`` puts the store in the schema ``name``, which must exist.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout

from aggregator.errors import StoreError, StoreUnavailable
from aggregator.store import Watch, shown
from aggregator.store.postgres.connection import POSTGRES, PgDb, announce
from aggregator.store.postgres.listen import Listener
from aggregator.store.postgres.schema import migrate
from aggregator.store.sql import Db
from aggregator.store.sql.store import SqlStore, T

CONNECT_TIMEOUT_S = 5
POOL_SIZE = 4  # the daemon's threads that may use the store at once
POOL_TIMEOUT_S = CONNECT_TIMEOUT_S * 2  # how long a call waits for a free connection
RETRIES = 5  # deadlocks in a row before a write gives up
_RETRIED = (errors.DeadlockDetected, errors.SerializationFailure)
Pool = ConnectionPool[psycopg.Connection[Any]]
# psycopg warns of each failed reconnection and each pipeline cut short; the store says
# it once, as StoreUnavailable.
logging.getLogger("psycopg").setLevel(logging.ERROR)
log = logging.getLogger(__name__)


def _reason(error: Exception) -> str:
    """The first line of a driver error, without libpq's "connection … failed:" preamble."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    line = lines[0].rsplit(" failed: ", 1)[-1]
    line = re.sub(r"^(FATAL|ERROR):\s+", "", line)
    return line[:1].lower() + line[1:]


def _unreachable(error: psycopg.OperationalError) -> bool:
    """True when ``error`` says the server cannot be reached or went away (no server
    answer at all, a connection exception, or the server shutting down), not that it
    refused the work (a full disk, too many connections)."""
    state = error.sqlstate
    return state is None or state.startswith(("08", "57P"))


class PostgresStore(SqlStore):
    """A store in one PostgreSQL database (or schema), created and migrated on open."""

    dialect = POSTGRES
    queues_text = False  # each story's vector is written with it

    def __init__(
        self, location: str, *, similarity: float | None = None, node: str | None = None
    ) -> None:
        """Connect to ``location`` (a libpq URL), creating and migrating the schema.

        ``similarity`` (0..1) turns on near-duplicate matching of reworded headlines;
        ``node`` names this node (``store.this_node``; by default the host name).
        Raises StoreError naming the host when it cannot connect, and when the schema is
        missing or too new.
        """
        super().__init__(location, similarity=similarity, node=node)
        self._name = f"store {shown(location)}"
        try:
            with psycopg.connect(
                location, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
            ) as conn:
                if conn.execute("SELECT current_schema()").fetchone() == (None,):
                    raise StoreError(
                        f"{self._name}: none of the schemas of its search_path exists"
                        " (CREATE SCHEMA it first)"
                    )
                migrate(conn)
        except psycopg.OperationalError as e:
            raise StoreUnavailable(f"{self._name}: cannot connect: {_reason(e)}") from e
        except (psycopg.Error, ValueError) as e:
            raise StoreError(f"{self._name}: cannot open the store: {_reason(e)}") from e
        self._lock = threading.Lock()
        self._pool: Pool | None = self._open_pool()

    def _open_pool(self) -> Pool:
        return ConnectionPool(
            self.location,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"connect_timeout": CONNECT_TIMEOUT_S},
            timeout=POOL_TIMEOUT_S,
            # a connection the server dropped (a restart, a failover) is replaced, not used
            check=ConnectionPool.check_connection,
            open=True,
            name=self._name,
        )

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection of the pool; after an outage, a new pool once the server answers.

        A pool whose server went away would keep reconnecting behind our back, further
        and further apart (up to minutes after the server is back) and logging each try:
        it is closed when the server is found unreachable, and each later call first
        checks with one connection of its own (a refused one fails at once) whether the
        server is back. Raises StoreUnavailable while it is not."""
        with self._lock:
            if self._pool is None:
                self._reach()
                self._pool = self._open_pool()
            pool = self._pool
        try:
            with pool.connection() as conn:
                yield conn
        except PoolTimeout:
            self._probe(pool)  # no connection came: the server is down, or all are busy
            raise
        except psycopg.OperationalError as e:
            if _unreachable(e):
                self._drop(pool)
            raise

    def _probe(self, pool: Pool) -> None:
        """Connect once outside ``pool``; when that fails, drop the pool and raise
        psycopg.OperationalError."""
        try:
            self._reach()
        except psycopg.OperationalError:
            self._drop(pool)
            raise

    def _reach(self) -> None:
        """Open and close one connection of our own; raises psycopg.OperationalError when
        the server cannot be reached (at once when it refuses, else after the timeout)."""
        psycopg.connect(self.location, connect_timeout=CONNECT_TIMEOUT_S).close()

    def _drop(self, pool: Pool) -> None:
        """Close ``pool``, unless another thread has already replaced it."""
        with self._lock:
            if self._pool is not pool:
                return
            self._pool = None
        pool.close(timeout=0)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the driver's errors into StoreError naming the store."""
        try:
            yield
        except PoolTimeout as e:  # the server answers (``_probe``): every connection is busy
            raise StoreError(
                f"{self._name}: no free connection in {POOL_TIMEOUT_S} s (all {POOL_SIZE} busy)"
            ) from e
        except psycopg.OperationalError as e:
            if _unreachable(e):
                raise StoreUnavailable(f"{self._name}: {_reason(e)}") from e
            raise StoreError(f"{self._name}: {_reason(e)}") from e
        except psycopg.Error as e:
            raise StoreError(f"{self._name}: {_reason(e)}") from e

    def _read(self, work: Callable[[Db], T], *, snapshot: bool = False) -> T:
        """``work`` in a transaction of its own (REPEATABLE READ when ``snapshot``: one
        snapshot for every statement). Raises StoreError."""
        with self._errors(), self._connection() as conn:
            if snapshot:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return work(PgDb(conn))

    def _write(self, work: Callable[[Db], T], *, batched: bool = False) -> T:
        """``work`` in one transaction, run again when it was a deadlock's victim; when
        ``batched``, in pipeline mode: statements go out without waiting for each answer
        until ``work`` fetches a row, which saves a round trip (and, in a busy node, a wait
        for the interpreter) per statement while the pass holds its dedup claims.

        Raises StoreError when the database cannot be reached or written."""
        with self._errors():
            attempt = 1
            while True:
                try:
                    with self._connection() as conn, conn.pipeline() if batched else nullcontext():
                        db = PgDb(conn)
                        result = work(db)
                    if db.marked_by is not None:
                        self._announce(db.marked_by)
                    return result
                except _RETRIED:
                    if attempt == RETRIES:
                        raise
                    attempt += 1

    def _announce(self, node: str) -> None:
        """Tell the other nodes that ``node`` committed marks (``connection.announce``),
        once they are committed: a pass that rolled back says nothing. Best effort: a
        node that misses it (this one died first, or the server went away) publishes
        the marks at its own next pass."""
        try:
            with self._connection() as conn:
                announce(conn, node)
        except (psycopg.Error, PoolTimeout) as e:
            log.debug("%s: cannot notify the other nodes: %s", self._name, _reason(e))

    def prune(self, *, now: datetime, retention: timedelta) -> int:
        """Delete stories first seen before ``now - retention`` (``SqlStore.prune``), and
        the dedup claims no pass has made for as long; returns how many stories.

        Raises StoreError when the database cannot be written."""
        deleted = super().prune(now=now, retention=retention)
        self._write(
            lambda db: db.execute(
                "DELETE FROM dedup_claims WHERE claimed < now() - make_interval(secs => ?)",
                (retention.total_seconds(),),
            )
        )
        return deleted

    def watch(self, heard: Callable[[str], None]) -> Watch:
        """Listen for the other nodes' changes (``postgres.listen``) until closed."""
        return Listener(self.location, me=self.node, heard=heard)

    def close(self) -> None:
        """Close every connection of the pool."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
