"""Changed stories back into ``articles`` and the indexes derived from each row (labels,
full-text search, headline words), rewriting only the index rows an edit changes (shared
by ``ingest`` and ``split``); and a pass's new carriers with their fold reasons, own
items and series history. Runs inside the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType

from aggregator.models import Article
from aggregator.store.keys import day_number, labels
from aggregator.store.passes import Changed, NewCarrier, Stored
from aggregator.store.rows import ARTICLE_COLUMNS, article_row, to_micros
from aggregator.store.sql import Db, Dialect
from aggregator.store.sql import words as word_index

_INSERT = f"INSERT INTO articles ({ARTICLE_COLUMNS}) VALUES ({', '.join('?' * 19)})"
_PUBLISHED = ARTICLE_COLUMNS.split(", ").index("published")


def _update(skipped: tuple[int, ...]) -> str:
    """The UPDATE of a stored story's row, by its key, of every column but those
    ``skipped`` (by position in ``ARTICLE_COLUMNS``)."""
    columns = (c for n, c in enumerate(ARTICLE_COLUMNS.split(", ")) if n not in skipped)
    return "UPDATE articles SET " + ", ".join(f"{c} = ?" for c in columns) + " WHERE pk = ?"


_REDATE = _update((0,))
# every column but the row key and ``published``: an update that leaves the date as it is
# cannot fire ``articles_published_copies``
_REWRITE = _update((0, _PUBLISHED))


TextKey = tuple[str, str, str]  # a story's title, summary and content, as stored
Texts = Mapping[TextKey, object]  # each text as the full-text index takes it


def indexed_texts(dialect: Dialect, articles: Iterable[Article]) -> dict[TextKey, object]:
    """What the full-text index takes for each of ``articles``' texts (``Dialect.indexed``
    of their plain texts), by ``(title, summary, content)``: worked out before the write
    transaction, so that its locks are not held meanwhile (``write_new_and_indexes``)."""
    return {_text(a): _indexed(dialect, a) for a in articles}


def rewrite_stored(db: Db, dirty: Sequence[Changed]) -> bool:
    """Rewrite the rows of the ``dirty`` stories that were stored (``loaded``): True when
    every one of them still was; False when one was gone (another node's prune, on
    PostgreSQL, deleted it after it was read), those still there rewritten all the same.
    The first write of a story, so that undoing it (``put_back``) undoes all. Raises the
    driver's error."""
    # SQLite journals each page an upsert touches (some 9 a row) in a statement journal,
    # since its update could fire ``articles_published_copies`` and fail midway: a stored
    # story whose date stays is rewritten by an update that cannot fire it.
    stored = [s for s in dirty if s.loaded is not None]
    redated = [_by_key(_row(s)) for s in stored if _redated(s)]
    kept = [_rewrite_row(s) for s in stored if not _redated(s)]
    return db.changes(_REDATE, redated) + db.changes(_REWRITE, kept) == len(stored)


def put_back(db: Db, dirty: Sequence[Changed], stored: Iterable[Stored]) -> None:
    """Undo ``rewrite_stored`` of ``dirty``: rewrite their rows as ``stored`` (the lookup
    that ``dirty`` was planned on) read them, dates too (which puts back the carriers' and
    labels' copies); the gone ones stay gone. Raises the driver's error."""
    rewritten = {s.pk for s in dirty if s.loaded is not None}
    rows = (article_row(s.pk, s.article, (s.key, s.day)) for s in stored if s.pk in rewritten)
    _many(db, _REDATE, [_by_key(row) for row in rows])


def write_new_and_indexes(
    db: Db, dirty: Sequence[Changed], *, words: bool, texts: Texts = MappingProxyType({})
) -> None:
    """Insert the rows of the ``dirty`` stories that are new, once ``rewrite_stored``
    rewrote the stored ones, and write the index rows an edit changed: labels, the
    full-text index (a story's text taken from ``texts``, ``indexed_texts``, when there)
    and, when ``words`` (near-duplicate matching is on), the headline word index. Raises
    the driver's error."""
    # The stored ones went first: one may give up an id that a new one takes.
    _many(db, _INSERT, [_row(s) for s in dirty if s.loaded is None])
    relabelled = [s for s in dirty if _differ(s, lambda a: labels(a.section, a.tags))]
    retexted = [s for s in dirty if _differ(s, _text)]
    _many(db, "DELETE FROM labels WHERE article_pk = ?", [(s.pk,) for s in relabelled if s.loaded])
    _many(
        db,
        "INSERT INTO labels (label, published, article_pk) VALUES (?, ?, ?)",
        [
            (label, to_micros(s.article.published), s.pk)
            for s in relabelled
            for label in labels(s.article.section, s.article.tags)
        ],
    )
    if unindexed := [s.pk for s in retexted if s.loaded]:
        db.unindex_text(unindexed)
    if retexted:
        db.index_text([(s.pk, _index_value(db.dialect, texts, s.article)) for s in retexted])
    if words:
        reworded = [s for s in dirty if _differ(s, lambda a: (a.title, day_number(a)))]
        word_index.rewrite(
            db,
            (
                (s.pk, day_number(s.article), s.article.title, s.loaded is not None)
                for s in reworded
            ),
        )


def write_carriers(
    db: Db,
    source: str,
    carriers: Sequence[NewCarrier],
    *,
    copies: Iterable[tuple[str, str, Article]],
    moved_links: Sequence[tuple[str, str, str]],
    used: Iterable[tuple[str, int]],
) -> None:
    """Insert ``carriers``; keep the ``(source, guid, item)`` copies a split needs; move the
    ``(link, source, guid)`` links; record the ``(dedup key, day)`` headlines ``source``
    used. Raises the driver's error."""
    _many(
        db,
        "INSERT INTO carriers (article_pk, source, guid, link, seed, published, reason, score)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                c.pk,
                c.source,
                c.guid,
                c.link,
                c.seed,
                to_micros(c.published),
                c.why.rule,
                c.why.score,
            )
            for c in carriers
        ],
    )
    _many(
        db,
        "UPDATE carriers SET item = ? WHERE source = ? AND guid = ?",
        [(json.dumps(article_row(0, item)), src, guid) for src, guid, item in copies],
    )
    _many(db, "UPDATE carriers SET link = ? WHERE source = ? AND guid = ?", moved_links)
    _many(
        db,
        "INSERT INTO headline_uses (dedup_key, source, day) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        [(key, source, day) for key, day in used],
    )


def _many(db: Db, sql: str, rows: Sequence[Sequence[object]]) -> None:
    """``executemany`` of ``rows``, when there are any: most of a pass's ingests have
    nothing for several statements (no stored story, copy or moved link), and each empty
    one still cost a statement's lookup and reset."""
    if rows:
        db.executemany(sql, rows)


def _text(article: Article) -> TextKey:
    """What the full-text index is made of: the title, summary and content."""
    return article.title, article.summary, article.content


def _index_value(dialect: Dialect, texts: Texts, article: Article) -> object:
    """``article``'s text as the full-text index takes it, from ``texts`` when worked out
    there (an empty vector too: it is a value, not a miss)."""
    key = _text(article)
    return texts[key] if key in texts else _indexed(dialect, article)


def _indexed(dialect: Dialect, article: Article) -> object:
    """``article``'s text as the full-text index takes it."""
    return dialect.indexed(
        article.title, article.plain(article.summary), article.plain(article.content)
    )


def _redated(story: Changed) -> bool:
    """True when a stored story's ``published`` differs from what was stored."""
    assert story.loaded is not None
    return story.loaded.published != story.article.published


def _row(story: Changed) -> tuple[object, ...]:
    """The ``articles`` row of a story to write."""
    return article_row(story.pk, story.article, story.keyed)


def _by_key(row: tuple[object, ...]) -> tuple[object, ...]:
    """The parameters of ``_REDATE`` for a story's ``row``: its columns, then its key."""
    return (*row[1:], row[0])


def _rewrite_row(story: Changed) -> tuple[object, ...]:
    """The parameters of ``_REWRITE`` for a stored story whose date stays."""
    row = _row(story)
    return (*row[1:_PUBLISHED], *row[_PUBLISHED + 1 :], story.pk)


def _differ(story: Changed, facet: Callable[[Article], object]) -> bool:
    """True when ``facet`` of the story differs from what was stored (or it is new)."""
    return story.loaded is None or facet(story.loaded) != facet(story.article)
