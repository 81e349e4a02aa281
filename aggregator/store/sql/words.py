"""The headline word index behind near-duplicate matching (``dedup.similarity``): each
stored story's headline words with its day, so the stories of a three-day window that
share enough words with a headline are found without reading every headline.

It is written only while matching is on; a pass without matching marks it stale in
``meta``, and the next pass with matching rebuilds it once.
"""

from __future__ import annotations

from collections.abc import Iterable

from aggregator import dedup
from aggregator.store.sql import Db


def keep_fresh(db: Db, *, matching: bool) -> None:
    """Mark the index stale when ``matching`` is off; rebuild a stale one when it is on."""
    if not matching:
        db.execute("UPDATE meta SET value = 0 WHERE name = 'headline_words' AND value = 1")
        return
    (fresh,) = db.execute("SELECT value FROM meta WHERE name = 'headline_words'").fetchone()
    if not fresh:
        db.execute("DELETE FROM headline_words")
        fill(db)
        db.execute("UPDATE meta SET value = 1 WHERE name = 'headline_words'")


def fill(db: Db) -> None:
    """Index the headline words of every stored story (into an empty ``headline_words``)."""
    db.executemany(
        "INSERT INTO headline_words (word, day, article_pk) VALUES (?, ?, ?)",
        (
            (word, day, pk)
            for pk, title, day in db.execute("SELECT pk, title, day FROM articles")
            for word in dedup.headline_words(title)
        ),
    )


def sharing(db: Db, words: Iterable[str], day: int, need: int) -> list[int]:
    """The stored stories of ``day`` ± 1 whose headlines share at least ``need`` of
    ``words``."""
    rows = db.execute(
        "SELECT article_pk FROM headline_words"
        f" WHERE word {db.dialect.among} AND day BETWEEN ? AND ?"
        " GROUP BY article_pk HAVING count(*) >= ?",
        (db.dialect.listed(sorted(words)), day - 1, day + 1, need),
    )
    return [pk for (pk,) in rows]


def rewrite(db: Db, stories: Iterable[tuple[int, int, str, bool]]) -> None:
    """Index the headlines of ``(pk, day, title, was_stored)`` stories, replacing the
    words of those that were stored before."""
    stories = list(stories)
    db.executemany(
        "DELETE FROM headline_words WHERE article_pk = ?",
        [(pk,) for pk, _, _, was_stored in stories if was_stored],
    )
    db.executemany(
        "INSERT INTO headline_words (word, day, article_pk) VALUES (?, ?, ?)",
        [(w, day, pk) for pk, day, title, _ in stories for w in dedup.headline_words(title)],
    )
