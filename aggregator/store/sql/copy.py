"""The store side of ``migrate-store``: the store's tables read out as ``records`` values,
a page at a time, and records written in, skipping what is already stored. Runs inside
the caller's lock (reads) or transaction (writes).

Stories are read in row order and written in that order, so stories published at the same
moment keep their relative order in the target (it breaks such ties by row key).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aggregator.dedup.fold import Fold
from aggregator.models import Problem, SourceState
from aggregator.store.passes import Changed, NewCarrier
from aggregator.store.records import (
    CarrierRecord,
    HeadlineUse,
    Record,
    RecordCounts,
    StoryRecord,
    Tombstone,
)
from aggregator.store.rows import (
    ARTICLE_COLUMNS,
    article_from_row,
    item_from_json,
    moment_of,
    to_micros,
)
from aggregator.store.sql import Db, published
from aggregator.store.sql import words as word_index
from aggregator.store.sql.states import insert_new_states, read_states
from aggregator.store.sql.write import write_carriers, write_new_and_indexes

FIRST_TOMBSTONE = ("", -1)  # before every (key, day)
FIRST_USE = ("", "", -1)  # before every (key, source, day)
_TABLES = {
    "sources": "sources",
    "stories": "articles",
    "carriers": "carriers",
    "fold_vetoes": "fold_vetoes",
    "tombstones": "tombstones",
    "headline_uses": "headline_uses",
    "problems": "source_problems",
}


def counts(conn: Db) -> RecordCounts:
    """How many records of each kind the store holds."""
    return RecordCounts(
        **{
            kind: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for kind, table in _TABLES.items()
        }
    )


def small_tables(conn: Db) -> list[Record]:
    """The records of the tables that stay small: every source's state, every problem."""
    found: list[Record] = list(read_states(conn))
    found.extend(published.problems(conn))
    return found


def stories_after(conn: Db, pk: int, limit: int) -> tuple[list[StoryRecord], int]:
    """At most ``limit`` stories of row key above ``pk`` (0 for the first), in row order,
    with their carriers and vetoes; and the last row key read."""
    rows = conn.execute(
        f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE pk > ? ORDER BY pk LIMIT ?", (pk, limit)
    ).fetchall()
    pks = conn.dialect.listed([row[0] for row in rows])
    carriers: dict[int, list[CarrierRecord]] = {}
    for story, source, guid, link, seed, reason, score, item in conn.execute(
        "SELECT article_pk, source, guid, link, seed, reason, score, item FROM carriers"
        f" WHERE article_pk {conn.dialect.among} ORDER BY pk",
        (pks,),
    ):
        carriers.setdefault(story, []).append(
            CarrierRecord(
                source=source,
                guid=guid,
                link=link,
                seed=bool(seed),
                reason=reason,
                score=score,
                item=item_from_json(item, source, link) if item else None,
            )
        )
    vetoes: dict[int, list[str]] = {}
    for story, source in conn.execute(
        "SELECT article_pk, source FROM fold_vetoes"
        f" WHERE article_pk {conn.dialect.among} ORDER BY article_pk, source",
        (pks,),
    ):
        vetoes.setdefault(story, []).append(source)
    records = [
        StoryRecord(
            article=article_from_row(row, [(c.source, c.link) for c in carriers[row[0]]]),
            carriers=tuple(carriers[row[0]]),
            vetoed=tuple(vetoes.get(row[0], ())),
        )
        for row in rows
    ]
    return records, rows[-1][0] if rows else pk


def tombstones_after(
    conn: Db, after: tuple[str, int], limit: int
) -> tuple[list[Tombstone], tuple[str, int]]:
    """At most ``limit`` tombstones in key order from after the ``(key, day)`` ``after``
    (``FIRST_TOMBSTONE`` for the first), and the last key read."""
    rows = conn.execute(
        "SELECT dedup_key, day, first_seen FROM tombstones WHERE (dedup_key, day) > (?, ?)"
        " ORDER BY dedup_key, day LIMIT ?",
        (*after, limit),
    ).fetchall()
    found = [Tombstone(key=k, day=d, first_seen=moment_of(seen)) for k, d, seen in rows]
    return found, (rows[-1][0], rows[-1][1]) if rows else after


def uses_after(
    conn: Db, after: tuple[str, str, int], limit: int
) -> tuple[list[HeadlineUse], tuple[str, str, int]]:
    """At most ``limit`` headline uses in key order from after the ``(key, source, day)``
    ``after`` (``FIRST_USE`` for the first), and the last key read."""
    rows = conn.execute(
        "SELECT dedup_key, source, day FROM headline_uses WHERE (dedup_key, source, day) >"
        " (?, ?, ?) ORDER BY dedup_key, source, day LIMIT ?",
        (*after, limit),
    ).fetchall()
    found = [HeadlineUse(key=k, source=s, day=d) for k, s, d in rows]
    return found, rows[-1] if rows else after


def write_records(conn: Db, records: Sequence[Record], *, by: str) -> RecordCounts:
    """Write the ``records`` the store does not hold yet; returns how many of each kind
    were new. Raises the driver's error (a carrier of a new story that another story of the
    target already has, say)."""
    new_sources = insert_new_states(conn, [s for s in records if isinstance(s, SourceState)])
    stories = _write_stories(conn, [r for r in records if isinstance(r, StoryRecord)], by=by)
    tombstones = _insert_new(
        conn,
        "INSERT INTO tombstones (dedup_key, day, first_seen) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        [(t.key, t.day, to_micros(t.first_seen)) for t in records if isinstance(t, Tombstone)],
    )
    uses = _insert_new(
        conn,
        "INSERT INTO headline_uses (dedup_key, source, day) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        [(u.key, u.source, u.day) for u in records if isinstance(u, HeadlineUse)],
    )
    held = published.problems(conn)
    problems = [p for p in records if isinstance(p, Problem) and p not in held]
    if problems:
        published.replace_problems(conn, [*held, *problems])
    return RecordCounts(
        sources=new_sources,
        stories=len(stories),
        carriers=sum(len(s.carriers) for s in stories),
        fold_vetoes=sum(len(s.vetoed) for s in stories),
        tombstones=tombstones,
        headline_uses=uses,
        problems=len(problems),
    )


def _insert_new(conn: Db, sql: str, rows: Iterable[Sequence[Any]]) -> int:
    """Run ``sql`` on each of ``rows``; how many it inserted."""
    return conn.changes(sql, rows)


def _write_stories(conn: Db, records: list[StoryRecord], *, by: str) -> list[StoryRecord]:
    """Insert the stories of ``records`` whose ids are not stored yet, with their
    carriers, vetoes and index rows, pending publication; returns those."""
    if not records:
        return []
    held = {
        id_
        for (id_,) in conn.execute(
            f"SELECT id FROM articles WHERE id {conn.dialect.among}",
            (conn.dialect.listed([r.article.id for r in records]),),
        )
    }
    new = [r for r in records if r.article.id not in held]
    numbered = list(zip(conn.new_pks(len(new)), new, strict=True))
    # the word index is left stale: the next pass with near-duplicate matching rebuilds it
    word_index.keep_fresh(conn, matching=False)
    write_new_and_indexes(
        conn, [Changed(pk=pk, article=r.article, loaded=None) for pk, r in numbered], words=False
    )
    write_carriers(
        conn,
        "",
        [
            NewCarrier(
                pk=pk,
                source=c.source,
                guid=c.guid,
                link=c.link,
                seed=c.seed,
                why=Fold(c.reason, c.score),
                published=r.article.published,
            )
            for pk, r in numbered
            for c in r.carriers
        ],
        copies=[(c.source, c.guid, c.item) for _, r in numbered for c in r.carriers if c.item],
        moved_links=(),
        used=(),
    )
    conn.executemany(
        "INSERT INTO fold_vetoes (article_pk, source) VALUES (?, ?)",
        [(pk, source) for pk, r in numbered for source in r.vetoed],
    )
    published.mark(conn, [r.article.id for r in new], by=by)
    return new
