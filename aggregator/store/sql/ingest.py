"""One source's articles of one pass into the store, inside the caller's transaction: the
dedup identities it may create stories under claimed (``Db.claim``), the bulk read
(``lookup.candidates``), the pure planner (``plan.plan``), then the plan written back with
``executemany`` (``write``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aggregator.models import Article, IngestResult
from aggregator.store.plan import plan
from aggregator.store.sql import Db, lookup
from aggregator.store.sql import words as word_index
from aggregator.store.sql.write import Texts, write_carriers, write_stories


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
    found = lookup.candidates(db, source, articles, similarity)
    planned = plan(source, articles, found, similarity=similarity, now=now)
    write_stories(db, planned.stories, words=similarity is not None, texts=texts)
    write_carriers(
        db,
        source,
        planned.carriers,
        copies=planned.copies,
        moved_links=planned.moved_links,
        used=planned.used,
    )
    return planned.result
