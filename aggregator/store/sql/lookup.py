"""The read of ingest: what one source's pass may match against, in a few bulk
queries before the planner decides anything (``plan.Candidates``): the stories its
articles may belong to (by this source's guids, by id, by dedup key, by another feed's
identical URL guid, by shared headline words), the series history of their headlines,
the stories this source was split out of, and the tombstones of their keys."""

from __future__ import annotations

from collections.abc import Sequence

from aggregator import dedup
from aggregator.dedup import fold
from aggregator.models import Article
from aggregator.store.passes import Candidates, Stored, near_query
from aggregator.store.rows import ARTICLE_COLUMNS, article_from_row
from aggregator.store.sql import Db
from aggregator.store.sql import words as word_index
from aggregator.store.sql.read import carriers_of


def candidates(
    db: Db, source: str, articles: Sequence[Article], similarity: float | None
) -> Candidates:
    """Everything ``source``'s ``articles`` may be matched against; the near-duplicates
    of each article this source does not carry yet too when ``similarity`` is set.
    Raises the driver's error."""
    own = dict(
        db.execute(
            f"SELECT guid, article_pk FROM carriers WHERE source = ? AND guid {db.dialect.among}",
            (source, db.dialect.listed([a.guid for a in articles])),
        ).fetchall()
    )
    found = Candidates()
    pks = set(own.values())
    # An item this source carries already only updates its own story (the planner routes
    # it by guid first), so only the others are matched: an unchanged pass reads no more.
    fresh = [a for a in articles if a.guid not in own]
    if fresh:
        pks |= _matches(db, source, fresh, similarity, found)
    found.stories = _stories(db, pks)
    found.new_pks = db.new_pks(len(fresh))
    return found


def _matches(
    db: Db, source: str, fresh: Sequence[Article], similarity: float | None, found: Candidates
) -> set[int]:
    """The stories that ``fresh`` (items ``source`` does not carry yet) may fold into, by
    id, dedup key, another feed's URL guid and (with ``similarity``) shared headline
    words; fills in ``found``'s guids, near-duplicates, headline history, vetoes and
    tombstones on the way. Every query is sent before any row is read, so that a backend
    that can (PostgreSQL's pipeline mode) waits for their answers once."""
    listed, among = db.dialect.listed, db.dialect.among
    ids = listed([a.id for a in fresh])
    keys = listed(list({k for a in fresh if (k := dedup.key_of(a))}))
    shared = listed([a.guid for a in fresh if fold.is_global_guid(a.guid)])
    by_guid = db.execute(
        f"SELECT guid, min(article_pk) FROM carriers WHERE source != ? AND guid {among}"
        " GROUP BY guid",
        (source, shared),
    )
    by_id_or_key = db.execute(  # ALL: the set of pks takes a story found both ways once
        f"SELECT pk FROM articles WHERE id {among}"
        f" UNION ALL SELECT pk FROM articles WHERE dedup_key {among}",
        (ids, keys),
    )
    uses = db.execute(
        f"SELECT dedup_key, source, day FROM headline_uses WHERE dedup_key {among}", (keys,)
    )
    vetoes = db.execute("SELECT article_pk FROM fold_vetoes WHERE source = ?", (source,))
    tombstones = db.execute(
        f"SELECT dedup_key, day FROM tombstones WHERE dedup_key {among}", (keys,)
    )
    found.shared_guid = dict(by_guid.fetchall())
    pks = set(found.shared_guid.values())
    pks.update(pk for (pk,) in by_id_or_key)
    for key, user, day in uses:
        found.uses.setdefault(key, set()).add((user, day))
    found.vetoed = {pk for (pk,) in vetoes}
    found.tombstones = set(tombstones)
    if similarity is not None:
        for article in fresh:
            near = word_index.sharing(db, *near_query(article, similarity))
            found.near[(article.title, dedup.story_day(article.published).toordinal())] = near
            pks.update(near)
    return pks


def _stories(db: Db, pks: set[int]) -> list[Stored]:
    """The stored stories ``pks`` with their carriers, oldest first."""
    rows = db.execute(
        f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE pk {db.dialect.among} ORDER BY pk",
        (db.dialect.listed(sorted(pks)),),
    ).fetchall()
    carriers = carriers_of(db, (row[0] for row in rows))
    found = []
    for row in rows:
        carried = carriers.get(row[0], [])
        article = article_from_row(row, [(s, link) for s, _, link, _ in carried])
        found.append(Stored(pk=row[0], article=article, carriers=carried, key=row[5], day=row[6]))
    return found
