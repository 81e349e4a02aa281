"""Leases of due sources: the SQL of ``Store.lease_due``, ``renew``, ``release`` and
``leases``.

Each runs in the caller's write transaction. In SQLite its ``BEGIN IMMEDIATE`` holds the
database's one write lock from the first statement: two processes on one file lease one
after the other, and the second sees the first's leases. In PostgreSQL the due sources
are read earliest first, ``LIMIT`` the batch, ``FOR UPDATE SKIP LOCKED``
(``Dialect.claiming``): a second node leasing at the same moment skips exactly the rows
the first is taking and takes the next due sources instead. Whether a source is still as
the caller read it is checked in that same statement, against the ``(name, next due)``
pairs it read (``Dialect.pairs``), so that the rows locked are the rows leased.
``leases`` has a row per source ever leased, its holder and expiry NULL while nobody
holds it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from aggregator.models import Holder, Lease
from aggregator.store.rows import LEASE_COLUMNS, lease_from_row, maybe_micros, to_micros
from aggregator.store.sql import Db

_HELD_BY = "node = ? AND pid = ?"


def lease_due(
    conn: Db,
    holder: Holder,
    seen: Mapping[str, datetime | None],
    *,
    now: datetime,
    until: datetime,
    limit: int,
    reclaim: Sequence[int] = (),
) -> list[str]:
    """``Store.lease_due``, inside a write transaction on ``conn``."""
    dialect = conn.dialect
    read = json.dumps([[name, maybe_micros(due)] for name, due in seen.items()])
    # a row for each source never leased before; only those: inserting over a row another
    # node's transaction is leasing would wait for it
    conn.execute(
        f"INSERT INTO leases (source) SELECT name FROM {dialect.pairs} AS seen"
        " WHERE name NOT IN (SELECT source FROM leases) ON CONFLICT (source) DO NOTHING",
        (read,),
    )
    taken = [
        name
        for (name,) in conn.execute(
            "SELECT l.source FROM leases l"
            f" JOIN {dialect.pairs} AS seen ON seen.name = l.source"
            " LEFT JOIN sources s ON s.name = l.source"
            # still due as the caller read it: nobody collected it in between
            " WHERE (s.next_due = seen.value OR s.next_due IS NULL AND seen.value IS NULL)"
            " AND (l.expires IS NULL OR l.expires <= ?"
            f" OR l.node = ? AND l.pid {dialect.among})"
            f" ORDER BY s.next_due NULLS FIRST, l.source LIMIT ?{dialect.claiming}",
            (read, to_micros(now), holder.node, dialect.listed(reclaim), limit),
        )
    ]
    conn.executemany(
        "UPDATE leases SET node = ?, pid = ?, expires = ? WHERE source = ?",
        ((holder.node, holder.pid, to_micros(until), name) for name in taken),
    )
    return taken


def renew(conn: Db, holder: Holder, names: Sequence[str], *, until: datetime) -> list[str]:
    """``Store.renew``, inside a write transaction on ``conn``."""
    rows = conn.execute(
        f"UPDATE leases SET expires = ? WHERE {_HELD_BY}"
        f" AND source {conn.dialect.among} RETURNING source",
        (to_micros(until), holder.node, holder.pid, conn.dialect.listed(names)),
    ).fetchall()
    return sorted(name for (name,) in rows)


def release(conn: Db, holder: Holder, names: Sequence[str]) -> None:
    """``Store.release``, inside a write transaction on ``conn``."""
    conn.execute(
        "UPDATE leases SET node = NULL, pid = NULL, expires = NULL"
        f" WHERE {_HELD_BY} AND source {conn.dialect.among}",
        (holder.node, holder.pid, conn.dialect.listed(names)),
    )


def leases(conn: Db, *, now: datetime) -> dict[str, Lease]:
    """``Store.leases``."""
    rows = conn.execute(
        f"SELECT {LEASE_COLUMNS} FROM leases WHERE expires > ? ORDER BY source",
        (to_micros(now),),
    )
    return {row[0]: lease_from_row(row) for row in rows}
