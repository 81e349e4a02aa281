"""One source's articles of one pass into the SQLite store, inside the caller's
transaction: the bulk read (``lookup.candidates``), the pure planner (``plan.plan``),
then the plan written back with ``executemany`` (``write``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from aggregator.models import Article, IngestResult
from aggregator.store.plan import plan
from aggregator.store.sqlite import lookup
from aggregator.store.sqlite import words as word_index
from aggregator.store.sqlite.write import write_carriers, write_stories


def ingest(
    conn: sqlite3.Connection,
    source: str,
    articles: Sequence[Article],
    *,
    similarity: float | None,
    now: datetime,
) -> IngestResult:
    """Decide and write every article of ``source``'s pass; returns what happened to each
    story. Raises sqlite3.Error from the database (the caller rolls back)."""
    word_index.keep_fresh(conn, matching=similarity is not None)
    found = lookup.candidates(conn, source, articles, similarity)
    planned = plan(source, articles, found, similarity=similarity, now=now)
    write_stories(conn, planned.stories, words=similarity is not None)
    write_carriers(
        conn,
        source,
        planned.carriers,
        copies=planned.copies,
        moved_links=planned.moved_links,
        used=planned.used,
    )
    return planned.result
