"""Stored stories read back with their carriers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from aggregator.models import Article
from aggregator.store.rows import Row, article_from_row
from aggregator.store.sql import Db

if TYPE_CHECKING:  # a type only: the ingest planner's module is not for reading
    from aggregator.store.passes import Carried


def carriers_of(db: Db, pks: Iterable[int]) -> dict[int, list[Carried]]:
    """Who carried each of the stories ``pks``, in the order they first carried it."""
    found: dict[int, list[Carried]] = {}
    for pk, source, guid, link, seed in db.execute(
        f"SELECT article_pk, source, guid, link, seed FROM carriers"
        f" WHERE article_pk {db.dialect.among} ORDER BY pk",
        (db.dialect.listed(list(pks)),),
    ):
        found.setdefault(pk, []).append((source, guid, link, bool(seed)))
    return found


def read_articles(db: Db, rows: Sequence[Row]) -> list[Article]:
    """The stories of ``articles`` rows (``ARTICLE_COLUMNS`` order), with their carriers."""
    carriers = carriers_of(db, (row[0] for row in rows))
    return [
        article_from_row(row, [(s, link) for s, _, link, _ in carriers.get(row[0], ())])
        for row in rows
    ]
