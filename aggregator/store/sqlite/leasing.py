"""Leases of due sources in SQLite: the SQL of ``Store.lease_due``, ``renew``, ``release``
and ``leases``.

Each runs in the caller's ``BEGIN IMMEDIATE`` transaction, which holds the database's one
write lock from its first statement: two processes on one file lease one after the other,
and the second sees the first's leases. A lease lives on its source's row (a source never
collected gets a bare row, every state field at its default, to hold it).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from aggregator.models import Holder, Lease
from aggregator.store.rows import LEASE_COLUMNS, lease_from_row, maybe_micros, to_micros

_HELD_BY = "lease_node = ? AND lease_pid = ?"


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
        "INSERT INTO sources (name) VALUES (?) ON CONFLICT (name) DO NOTHING",
        ((name,) for name in seen),
    )
    free = conn.execute(
        "SELECT name, next_due FROM sources"
        " WHERE (lease_until IS NULL OR lease_until <= ?"
        " OR lease_node = ? AND lease_pid IN (SELECT value FROM json_each(?)))"
        " AND name IN (SELECT value FROM json_each(?))"
        " ORDER BY next_due NULLS FIRST, name",
        (to_micros(now), holder.node, json.dumps(list(reclaim)), _json_list(seen)),
    )
    # still due as the caller read it: nobody collected it in between
    taken = [name for name, due in free if due == maybe_micros(seen[name])][:limit]
    conn.executemany(
        "UPDATE sources SET lease_node = ?, lease_pid = ?, lease_until = ? WHERE name = ?",
        ((holder.node, holder.pid, to_micros(until), name) for name in taken),
    )
    return taken


def renew(
    conn: sqlite3.Connection, holder: Holder, names: Sequence[str], *, until: datetime
) -> list[str]:
    """``Store.renew``, inside a write transaction on ``conn``."""
    rows = conn.execute(
        f"UPDATE sources SET lease_until = ? WHERE {_HELD_BY}"
        " AND name IN (SELECT value FROM json_each(?)) RETURNING name",
        (to_micros(until), holder.node, holder.pid, _json_list(names)),
    ).fetchall()
    return sorted(name for (name,) in rows)


def release(conn: sqlite3.Connection, holder: Holder, names: Sequence[str]) -> None:
    """``Store.release``, inside a write transaction on ``conn``."""
    conn.execute(
        "UPDATE sources SET lease_node = '', lease_pid = NULL, lease_until = NULL"
        f" WHERE {_HELD_BY} AND name IN (SELECT value FROM json_each(?))",
        (holder.node, holder.pid, _json_list(names)),
    )


def leases(conn: sqlite3.Connection, *, now: datetime) -> dict[str, Lease]:
    """``Store.leases``."""
    rows = conn.execute(
        f"SELECT {LEASE_COLUMNS} FROM sources WHERE lease_until > ? ORDER BY name",
        (to_micros(now),),
    )
    return {row[0]: lease_from_row(row) for row in rows}


def _json_list(names: Iterable[str]) -> str:
    """``names`` as a JSON array, for ``json_each``: one parameter, however many names."""
    return json.dumps(list(names))
