"""Leases of due sources in SQLite: the SQL of ``Store.lease_due``, ``renew``, ``release``
and ``leases``.

Each runs in the caller's ``BEGIN IMMEDIATE`` transaction, which holds the database's one
write lock from its first statement: two processes on one file lease one after the other,
and the second sees the first's leases. ``leases`` has a row per source ever leased, its
holder and expiry NULL while nobody holds it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from aggregator.models import Holder, Lease
from aggregator.store.rows import LEASE_COLUMNS, lease_from_row, maybe_micros, to_micros

_HELD_BY = "node = ? AND pid = ?"


def lease_due(
    conn: sqlite3.Connection,
    holder: Holder,
    seen: Mapping[str, datetime | None],
    *,
    now: datetime,
    until: datetime,
    limit: int,
    reclaim: Sequence[int] = (),
) -> list[str]:
    """``Store.lease_due``, inside a write transaction on ``conn``."""
    conn.executemany(
        "INSERT INTO leases (source) VALUES (?) ON CONFLICT (source) DO NOTHING",
        ((name,) for name in seen),
    )
    free = conn.execute(
        "SELECT l.source, s.next_due FROM leases l LEFT JOIN sources s ON s.name = l.source"
        " WHERE l.source IN (SELECT value FROM json_each(?))"
        " AND (l.expires IS NULL OR l.expires <= ?"
        " OR l.node = ? AND l.pid IN (SELECT value FROM json_each(?)))"
        " ORDER BY s.next_due NULLS FIRST, l.source",
        (_json_list(seen), to_micros(now), holder.node, _json_list(reclaim)),
    )
    # still due as the caller read it: nobody collected it in between
    taken = [name for name, due in free if due == maybe_micros(seen[name])][:limit]
    conn.executemany(
        "UPDATE leases SET node = ?, pid = ?, expires = ? WHERE source = ?",
        ((holder.node, holder.pid, to_micros(until), name) for name in taken),
    )
    return taken


def renew(
    conn: sqlite3.Connection, holder: Holder, names: Sequence[str], *, until: datetime
) -> list[str]:
    """``Store.renew``, inside a write transaction on ``conn``."""
    rows = conn.execute(
        f"UPDATE leases SET expires = ? WHERE {_HELD_BY}"
        " AND source IN (SELECT value FROM json_each(?)) RETURNING source",
        (to_micros(until), holder.node, holder.pid, _json_list(names)),
    ).fetchall()
    return sorted(name for (name,) in rows)


def release(conn: sqlite3.Connection, holder: Holder, names: Sequence[str]) -> None:
    """``Store.release``, inside a write transaction on ``conn``."""
    conn.execute(
        "UPDATE leases SET node = NULL, pid = NULL, expires = NULL"
        f" WHERE {_HELD_BY} AND source IN (SELECT value FROM json_each(?))",
        (holder.node, holder.pid, _json_list(names)),
    )


def leases(conn: sqlite3.Connection, *, now: datetime) -> dict[str, Lease]:
    """``Store.leases``."""
    rows = conn.execute(
        f"SELECT {LEASE_COLUMNS} FROM leases WHERE expires > ? ORDER BY source",
        (to_micros(now),),
    )
    return {row[0]: lease_from_row(row) for row in rows}


def _json_list(values: Iterable[object]) -> str:
    """``values`` as a JSON array, for ``json_each``: one parameter, however many."""
    return json.dumps(list(values))
