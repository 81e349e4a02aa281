"""Stored stories read back from SQLite with their carriers."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from aggregator.models import Article
from aggregator.store.passes import Carried
from aggregator.store.rows import Row, article_from_row


def carriers_of(conn: sqlite3.Connection, pks: Iterable[int]) -> dict[int, list[Carried]]:
    """Who carried each of the stories ``pks``, in the order they first carried it."""
    found: dict[int, list[Carried]] = {}
    for pk, source, guid, link, seed in conn.execute(
        "SELECT article_pk, source, guid, link, seed FROM carriers"
        " WHERE article_pk IN (SELECT value FROM json_each(?)) ORDER BY pk",
        (json.dumps(list(pks)),),
    ):
        found.setdefault(pk, []).append((source, guid, link, bool(seed)))
    return found


def read_articles(conn: sqlite3.Connection, rows: Sequence[Row]) -> list[Article]:
    """The stories of ``articles`` rows (``ARTICLE_COLUMNS`` order), with their carriers."""
    carriers = carriers_of(conn, (row[0] for row in rows))
    return [
        article_from_row(row, [(s, link) for s, _, link, _ in carriers.get(row[0], ())])
        for row in rows
    ]
