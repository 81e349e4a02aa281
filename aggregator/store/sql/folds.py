"""Why each carrier of a story joined it, and ``split``: one source's item taken back out
of a story it was wrongly folded into. Runs inside the caller's transaction.

A split story is rebuilt from its carriers' own items (kept in ``carriers.item`` once a
story has several carriers). A story folded before Wiredesk kept them has one text only:
the separated item then starts with that text and its own link, and takes its own again
when its feed next sends it changed. The split is remembered in ``fold_vetoes``, so the
item's source never folds into the story again; the item itself stays in its new story,
found by its guid on every later pass.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime

from aggregator import dedup
from aggregator.dedup import fold
from aggregator.errors import StoreError
from aggregator.models import Article, CarrierFold
from aggregator.store.passes import Changed
from aggregator.store.rows import ARTICLE_COLUMNS, article_from_row, item_from_json, to_micros
from aggregator.store.sql import Db
from aggregator.store.sql.write import rewrite_stored, write_new_and_indexes


def reasons(db: Db, article_id: str) -> tuple[CarrierFold, ...] | None:
    """Who carries the story ``article_id`` and by which rule each joined it, in the order
    they came; None when no story has that id."""
    found = db.execute("SELECT pk FROM articles WHERE id = ?", (article_id,)).fetchone()
    if found is None:
        return None
    rows = db.execute(
        "SELECT source, guid, link, reason, score FROM carriers WHERE article_pk = ? ORDER BY pk",
        found,
    ).fetchall()
    return tuple(
        CarrierFold(
            source=source,
            guid=guid,
            link=link,
            fold=fold.Fold(reason or (fold.FIRST if n == 0 else fold.LEGACY), score),
        )
        for n, (source, guid, link, reason, score) in enumerate(rows)
    )


def split(db: Db, article_id: str, source: str, *, now: datetime, words: bool) -> str:
    """Take ``source``'s items out of the story ``article_id`` into a story of their own;
    returns its id. ``words``: keep the headline word index too.

    Raises StoreError when there is no such story, ``source`` does not carry it, or it
    is the story's only source."""
    row = db.execute(
        f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)
    ).fetchone()
    if row is None:
        raise StoreError(f"{article_id}: no stored story has this id")
    carriers = db.execute(
        "SELECT pk, source, guid, link, item FROM carriers WHERE article_pk = ? ORDER BY pk",
        (row[0],),
    ).fetchall()
    story = article_from_row(row, [(c[1], c[3]) for c in carriers])
    moving = [c for c in carriers if c[1] == source]
    staying = [c for c in carriers if c[1] != source]
    if not moving:
        raise StoreError(
            f"{article_id}: {source} does not carry this story (it has {', '.join(story.sources)})"
        )
    if not staying:
        raise StoreError(f"{article_id}: {source} is its only source; there is nothing to split")
    (new_pk,) = db.new_pks(1)
    kept = replace(_folded(story, staying), id=story.id, first_seen=story.first_seen)
    apart = _folded(story, moving)
    apart = replace(apart, id=_free_id(db, apart.id, story.id, source), first_seen=now)
    stories = [
        Changed(pk=row[0], article=kept, loaded=story),
        Changed(pk=new_pk, article=apart, loaded=None),
    ]
    if not rewrite_stored(db, stories):
        raise StoreError(f"{article_id}: another node deleted this story (its prune) meanwhile")
    write_new_and_indexes(db, stories, words=words)
    db.executemany(
        "UPDATE carriers SET article_pk = ?, reason = ?, score = NULL, published = ? WHERE pk = ?",
        [(new_pk, fold.SPLIT, to_micros(apart.published), c[0]) for c in moving],
    )
    db.execute(
        "INSERT INTO fold_vetoes (article_pk, source) VALUES (?, ?) ON CONFLICT DO NOTHING",
        (row[0], source),
    )
    return apart.id


def _folded(story: Article, carriers: list[tuple[int, str, str, str, str | None]]) -> Article:
    """The story ``carriers`` tell together: their own items merged in the order they
    came; the stored story itself stands in for a carrier whose item was not kept."""
    items = [
        item_from_json(item, source, link)
        if item
        else replace(story, guid=guid, source=source, link=link)
        for _, source, guid, link, item in carriers
    ]
    merged = items[0]
    for item in items[1:]:
        merged = dedup.merge(merged, item)
    return merged


def _free_id(db: Db, wanted: str, story_id: str, source: str) -> str:
    """``wanted`` (the item's own id) unless the story or another row has it; then one
    derived from the story and the source, stable across runs."""
    taken = db.execute("SELECT 1 FROM articles WHERE id = ?", (wanted,)).fetchone()
    if wanted != story_id and taken is None:
        return wanted
    return hashlib.sha256(f"{story_id}\nsplit\n{source}".encode()).hexdigest()[:32]
