"""What the shared SQL (``store.sql``) needs from PostgreSQL: a psycopg connection as a
``Db``, with ``?`` placeholders turned into psycopg's, lists bound as arrays, the
``tsvector`` search index, row keys from a sequence, and dedup identities claimed by rows
of ``dedup_claims``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import psycopg

from aggregator.models import Article
from aggregator.store.passes import identities
from aggregator.store.postgres import search
from aggregator.store.sql import Cursor, Dialect

POSTGRES = Dialect(
    among="= ANY(?)",
    listed=list,
    greatest="greatest",
    matching="IN (SELECT article_pk FROM articles_fts WHERE doc @@ ?::tsquery)",
    search=search.query,
    claiming=" FOR UPDATE OF l SKIP LOCKED",
    pairs="(SELECT p ->> 0 AS name, (p ->> 1)::bigint AS value"
    " FROM jsonb_array_elements(?::jsonb) AS p)",
    indexed=search.vector,
)


# The store's channel for NOTIFY, one per schema (channels are the database's, and several
# stores may share a database); short, since a channel name is an identifier of at most
# 63 bytes.
CHANNEL = "'wiredesk_' || left(md5(current_schema()), 20)"
# the advisory lock a marking transaction holds shared and a joining node exclusive
_MARKS = "hashtextextended(current_schema() || ':marks', 0)"


@lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    """``sql`` with psycopg's ``%s`` for each ``?`` (the shared SQL has no ``?`` or ``%``
    of its own)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgDb:
    """A psycopg connection inside a transaction, as a ``store.sql.Db``."""

    dialect = POSTGRES

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        """Wrap ``conn``; it must be inside the transaction the work runs in."""
        self._conn = conn
        self.marked_by: str | None = None  # the node that marked stories: to announce

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        """Run one statement; raises psycopg.Error."""
        return self._conn.execute(_placeholders(sql), parameters)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> None:
        """Run one statement for each parameter row, pipelined (in a pipeline, nothing waits
        for their answers); raises psycopg.Error."""
        rows = list(parameters)
        if rows:
            with self._conn.cursor() as cursor:
                cursor.executemany(_placeholders(sql), rows)

    def changes(self, sql: str, parameters: Iterable[Sequence[Any]]) -> int:
        """Run one statement for each parameter row, pipelined; how many rows it changed.
        In a pipeline (an ingest's) that waits for their answers: a pipeline's cursor
        counts the rows only once they came, which leaving a nested one makes sure of.
        Raises psycopg.Error."""
        rows = list(parameters)
        if not rows:
            return 0
        with self._conn.cursor() as cursor:
            with self._conn.pipeline():
                cursor.executemany(_placeholders(sql), rows)
            return cursor.rowcount

    def new_pks(self, count: int) -> Sequence[int]:
        """``count`` values of the ``story_pks`` sequence, which no other transaction gets."""
        if not count:
            return ()
        rows = self._conn.execute(
            "SELECT nextval('story_pks') FROM generate_series(1, %s)", (count,)
        ).fetchall()
        return sorted(pk for (pk,) in rows)

    def index_text(self, rows: Sequence[tuple[int, str]]) -> None:
        """Add ``(pk, tsvector)`` rows (``search.vector``) to the ``tsvector`` index."""
        self.executemany("INSERT INTO articles_fts (article_pk, doc) VALUES (?, ?::tsvector)", rows)

    def unindex_text(self, pks: Sequence[int]) -> None:
        """Drop the stories ``pks`` from the ``tsvector`` index."""
        if pks:
            self.execute("DELETE FROM articles_fts WHERE article_pk = ANY(?)", (list(pks),))

    def text_queued(self) -> bool:
        """False: each story's vector is written with it."""
        return False

    def catch_up_text(self, limit: int) -> int:
        """Nothing: each story's vector is written with it."""
        return 0

    def claim(self, articles: Sequence[Article], *, similarity: float | None) -> None:
        """Upsert a ``dedup_claims`` row for each identity of ``articles``
        (``passes.identities``), in order, and so hold each row's lock until the
        transaction ends: a pass of another node that claims one of them (it could fold
        into the same story) waits here, then reads what this one wrote (each statement of
        a READ COMMITTED transaction sees every earlier commit)."""
        wanted = identities(articles, similarity=similarity)
        if wanted:
            self.execute(
                "INSERT INTO dedup_claims (identity, claimed)"
                " SELECT unnest(?::text[]), now() ON CONFLICT (identity)"
                " DO UPDATE SET claimed = excluded.claimed",
                (wanted,),
            )

    def alone(self, task: str) -> bool:
        """Try the advisory lock of ``task`` in this store's schema (advisory locks are
        the database's: another store's prune in another schema is no rival). A
        transaction-level lock: it goes at commit or rollback, and with a node killed
        mid-task, so a pooled connection never keeps it."""
        row = self._conn.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(current_schema() || ':' || %s, 0))",
            (task,),
        ).fetchone()
        return row is not None and bool(row[0])

    def publish_token(self, by: str) -> int:
        """A value of the ``publish_tokens`` sequence, taken under the marks' shared lock
        (writers do not wait on one another for it); node ``by`` is noted in
        ``marked_by``, for the store to announce once the transaction has committed
        (``announce``)."""
        self.marked_by = by
        row = self._conn.execute(
            f"SELECT nextval('publish_tokens') FROM pg_advisory_xact_lock_shared({_MARKS})"
        ).fetchone()
        assert row is not None  # one row, always
        return int(row[0])

    def hold_marks(self) -> None:
        """Take the marks' lock exclusive until the transaction ends: wait for every
        marking transaction running, and keep new ones waiting."""
        self._conn.execute(f"SELECT pg_advisory_xact_lock({_MARKS})")


def announce(conn: psycopg.Connection[Any], node: str) -> None:
    """``NOTIFY`` the store's channel that ``node`` changed stories, in a transaction of
    ``conn``'s own. Not inside the marking transaction: PostgreSQL lets the transactions
    that notify commit one at a time (a lock on the notification queue), which would make
    the passes of every node, holding their dedup claims, queue behind one another."""
    conn.execute(f"SELECT pg_notify({CHANNEL}, %s)", (node,))
