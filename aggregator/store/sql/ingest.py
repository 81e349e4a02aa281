"""One source's articles of one pass into the store, inside the caller's transaction: the
dedup identities it may create stories under claimed (``Db.claim``), the bulk read
(``lookup.candidates``), the pure planner (``plan.plan``), then the plan written back with
``executemany`` (``write``).

Another node's prune (PostgreSQL) may delete a story the lookup found before the plan is
written. Its row is the first thing written of it (``write.rewrite_stored``), which tells
when one is gone; the rows rewritten so far are then put back as read, and the pass looked
up and planned again, as it would be in the store as it now is: a story pruned is not
carried any more, and its tombstone keeps its late edits out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aggregator.errors import StoriesDeleted
from aggregator.models import Article, IngestResult
from aggregator.store.passes import IngestPlan
from aggregator.store.plan import plan
from aggregator.store.sql import Db, lookup, write
from aggregator.store.sql import words as word_index
from aggregator.store.sql.write import Texts

# plans of one pass, each after another node deleted a story the one before matched
PLANS = 3


def ingest(
    db: Db,
    source: str,
    articles: Sequence[Article],
    *,
    similarity: float | None,
    now: datetime,
    texts: Texts,
) -> IngestResult:
    """Decide and write every article of ``source``'s pass, their ``texts`` indexed as made
    before the transaction (``write.indexed_texts``); returns what happened to each
    story. Raises the driver's error (the caller rolls back)."""
    db.claim(articles, similarity=similarity)
    word_index.keep_fresh(db, matching=similarity is not None)
    planned = _planned(db, source, articles, similarity=similarity, now=now)
    write.write_new_and_indexes(db, planned.stories, words=similarity is not None, texts=texts)
    write.write_carriers(
        db,
        source,
        planned.carriers,
        copies=planned.copies,
        moved_links=planned.moved_links,
        used=planned.used,
    )
    return planned.result


def _planned(
    db: Db, source: str, articles: Sequence[Article], *, similarity: float | None, now: datetime
) -> IngestPlan:
    """The plan of ``source``'s pass, its stored stories rewritten (``write.rewrite_stored``)
    as the plan of a lookup none of whose stories was deleted before they were. Raises
    StoriesDeleted when another node deleted one after each of ``PLANS`` lookups, and the
    driver's error."""
    for _ in range(PLANS):
        found = lookup.candidates(db, source, articles, similarity)
        planned = plan(source, articles, found, similarity=similarity, now=now)
        if write.rewrite_stored(db, planned.stories):
            return planned
        write.put_back(db, planned.stories, found.stories)
    raise StoriesDeleted(
        source,
        f"a story this pass matched was deleted by another node before it was written,"
        f" after each of {PLANS} lookups; the next pass tries again",
    )
