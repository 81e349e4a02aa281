"""One source's articles of one pass into the store, inside the caller's transaction.

Reads everything it may match against in a few bulk queries, decides each article in
memory (update, merge, tombstoned, new) with the pure rules of ``aggregator.dedup``,
then writes the changed stories back with ``executemany``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from aggregator import dedup
from aggregator.models import Article, IngestResult
from aggregator.store import words as word_index
from aggregator.store.rows import (
    ARTICLE_COLUMNS,
    Carried,
    article_from_row,
    article_row,
    carriers_of,
    day_number,
    labels,
    to_micros,
)
from aggregator.store.text import plain_text

_UPSERT = (
    f"INSERT INTO articles ({ARTICLE_COLUMNS}) VALUES ({', '.join('?' * 19)})"
    " ON CONFLICT (pk) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in ARTICLE_COLUMNS.split(", ")[1:])
)


@dataclass(slots=True)
class _Story:
    pk: int
    article: Article
    carriers: list[Carried]
    new: bool = False
    changed: bool = False
    key: str = ""
    day: int = 0
    loaded: Article | None = None  # as it was stored before this pass; None when new

    def set(self, article: Article, **changes: Any) -> None:
        """Hold ``article`` (with ``changes``) as told by this story's carriers."""
        self.article = replace(
            article,
            link=dedup.primary_link((link, seed) for _, _, link, seed in self.carriers),
            sources=tuple(dict.fromkeys(source for source, _, _, _ in self.carriers)),
            links=tuple(dict.fromkeys(link for _, _, link, _ in self.carriers if link)),
            **changes,
        )
        self.key, self.day = dedup.normalise_headline(article.title), day_number(article)


@dataclass(slots=True)
class _Outcome:
    new: list[str] = field(default_factory=list)
    merged: dict[str, None] = field(default_factory=dict)
    updated: dict[str, None] = field(default_factory=dict)
    unchanged: int = 0


class Ingest:
    """Folds one source's articles into the stories on ``conn``; ``run`` does the work."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        source: str,
        *,
        similarity: float | None,
        now: datetime,
    ) -> None:
        self._conn = conn
        self._source = source
        self._similarity = similarity
        self._now = now
        self._stories: dict[int, _Story] = {}
        self._by_guid: dict[str, int] = {}
        self._by_id: dict[str, int] = {}
        self._by_key: dict[str, set[int]] = {}
        self._tombstones: set[tuple[str, int]] = set()
        self._new_words: dict[str, set[int]] = {}
        self._new_carriers: list[tuple[int, str, str, str, bool]] = []
        self._moved_links: list[tuple[str, str, str]] = []
        self._outcome = _Outcome()
        self._next_pk = 1

    def run(self, articles: Sequence[Article]) -> IngestResult:
        """Decide and write every article; returns what happened to each story.

        Raises sqlite3.Error from the database (the caller rolls back)."""
        word_index.keep_fresh(self._conn, matching=self._similarity is not None)
        self._preload(articles)
        for article in articles:
            self._one(article)
        self._write()
        out = self._outcome
        new = set(out.new)
        merged = [i for i in out.merged if i not in new]
        updated = [i for i in out.updated if i not in out.merged and i not in new]
        return IngestResult(
            new=tuple(out.new),
            merged=tuple(merged),
            updated=tuple(updated),
            unchanged=out.unchanged,
        )

    def _preload(self, articles: Sequence[Article]) -> None:
        guids = json.dumps([a.guid for a in articles])
        ids = json.dumps([a.id for a in articles])
        keys = json.dumps(list({dedup.normalise_headline(a.title) for a in articles}))
        pks = [
            pk
            for (pk,) in self._conn.execute(
                "SELECT article_pk FROM carriers WHERE source = ?"
                " AND guid IN (SELECT value FROM json_each(?))"
                " UNION SELECT pk FROM articles WHERE id IN (SELECT value FROM json_each(?))"
                " UNION SELECT pk FROM articles"
                " WHERE dedup_key IN (SELECT value FROM json_each(?))",
                (self._source, guids, ids, keys),
            )
        ]
        self._load(pks)
        self._tombstones = set(
            self._conn.execute(
                "SELECT dedup_key, day FROM tombstones"
                " WHERE dedup_key IN (SELECT value FROM json_each(?))",
                (keys,),
            )
        )
        (self._next_pk,) = self._conn.execute(
            "SELECT coalesce(max(pk), 0) + 1 FROM articles"
        ).fetchone()

    def _load(self, pks: Iterable[int]) -> None:
        wanted = json.dumps([pk for pk in pks if pk not in self._stories])
        rows = self._conn.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE pk IN (SELECT value FROM json_each(?))",
            (wanted,),
        ).fetchall()
        carriers = carriers_of(self._conn, (row[0] for row in rows))
        for row in rows:
            carried = carriers.get(row[0], [])
            article = article_from_row(row, [(s, link) for s, _, link, _ in carried])
            story = _Story(pk=row[0], article=article, carriers=carried, loaded=article)
            story.key, story.day = row[5], row[6]
            self._register(story)

    def _register(self, story: _Story) -> None:
        self._stories[story.pk] = story
        self._by_id[story.article.id] = story.pk
        self._by_key.setdefault(story.key, set()).add(story.pk)
        for source, guid, _, _ in story.carriers:
            if source == self._source:
                self._by_guid[guid] = story.pk

    def _one(self, article: Article) -> None:
        if article.guid in self._by_guid:
            self._update(self._stories[self._by_guid[article.guid]], article)
            return
        key, day = dedup.normalise_headline(article.title), day_number(article)
        story = self._same_story(article, key, day)
        if story is None and self._tombstoned(key, day):
            self._outcome.unchanged += 1
        elif story is None:
            self._insert(article)
        else:
            self._merge(story, article)

    def _same_story(self, article: Article, key: str, day: int) -> _Story | None:
        if article.id in self._by_id:
            return self._stories[self._by_id[article.id]]
        matches = [
            self._stories[pk]
            for pk in self._by_key.get(key, ())
            if self._stories[pk].key == key and abs(self._stories[pk].day - day) <= 1
        ]
        if matches:
            return min(matches, key=lambda s: (abs(s.day - day), s.pk))
        return None if self._similarity is None else self._near(article, day, self._similarity)

    def _tombstoned(self, key: str, day: int) -> bool:
        return any((key, d) in self._tombstones for d in (day - 1, day, day + 1))

    def _near(self, article: Article, day: int, threshold: float) -> _Story | None:
        words = dedup.headline_words(article.title)
        need = dedup.min_shared_words(len(words), threshold)
        stored = word_index.sharing(self._conn, words, day, need)
        self._load(stored)
        shared: dict[int, int] = {}
        for word in words:
            for pk in self._new_words.get(word, ()):
                shared[pk] = shared.get(pk, 0) + 1
        candidates = set(stored) | {pk for pk, n in shared.items() if n >= need}
        scored = [
            (dedup.similarity(self._stories[pk].article.title, article.title), -pk)
            for pk in candidates
            if abs(self._stories[pk].day - day) <= 1
        ]
        best = max(scored, default=None)
        if best is None or best[0] < threshold:
            return None
        return self._stories[-best[1]]

    def _update(self, story: _Story, article: Article) -> None:
        for i, (source, guid, link, seed) in enumerate(story.carriers):
            if source == self._source and guid == article.guid and link != article.link:
                story.carriers[i] = (source, guid, article.link, seed)
                self._moved_links.append((article.link, source, guid))
        if len(story.carriers) == 1:
            revised = replace(
                article,
                id=story.article.id,
                guid=story.article.guid,
                source=story.article.source,
                first_seen=story.article.first_seen,
                # An undated entry is dated "now" on every fetch: keeping the earliest date
                # stops it from looking updated (and jumping to the top) each pass.
                published=min(story.article.published, article.published),
            )
        else:
            revised = dedup.merge(story.article, article)
        before = story.article
        story.set(revised)
        if story.article == before:
            self._outcome.unchanged += 1
            return
        story.changed = True
        self._by_key.setdefault(story.key, set()).add(story.pk)
        self._outcome.updated[story.article.id] = None

    def _merge(self, story: _Story, article: Article) -> None:
        story.carriers.append((self._source, article.guid, article.link, article.is_seed))
        self._new_carriers.append(
            (story.pk, self._source, article.guid, article.link, article.is_seed)
        )
        self._by_guid[article.guid] = story.pk
        story.set(dedup.merge(story.article, article))
        story.changed = True
        self._by_key.setdefault(story.key, set()).add(story.pk)
        self._outcome.merged[story.article.id] = None

    def _insert(self, article: Article) -> None:
        pk, self._next_pk = self._next_pk, self._next_pk + 1
        carried = (self._source, article.guid, article.link, article.is_seed)
        story = _Story(pk=pk, article=article, carriers=[carried], new=True, changed=True)
        story.set(article, first_seen=self._now)
        self._register(story)
        self._new_carriers.append((pk, *carried))
        for word in dedup.headline_words(article.title):
            self._new_words.setdefault(word, set()).add(pk)
        self._outcome.new.append(story.article.id)

    def _write(self) -> None:
        dirty = [s for s in self._stories.values() if s.changed]
        conn = self._conn
        conn.executemany(_UPSERT, [article_row(s.pk, s.article) for s in dirty])
        conn.executemany(
            "INSERT INTO carriers (article_pk, source, guid, link, seed, published)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (*carried, to_micros(self._stories[carried[0]].article.published))
                for carried in self._new_carriers
            ],
        )
        conn.executemany(
            "UPDATE carriers SET link = ? WHERE source = ? AND guid = ?", self._moved_links
        )
        # an edit usually touches one field: rewrite only the index rows it changes
        relabelled = [s for s in dirty if _differ(s, lambda a: labels(a.section, a.tags))]
        retexted = [s for s in dirty if _differ(s, lambda a: (a.title, a.summary, a.content))]
        conn.executemany(
            "DELETE FROM labels WHERE article_pk = ?", [(s.pk,) for s in relabelled if s.loaded]
        )
        conn.executemany(
            "INSERT INTO labels (label, published, article_pk) VALUES (?, ?, ?)",
            [
                (label, to_micros(s.article.published), s.pk)
                for s in relabelled
                for label in labels(s.article.section, s.article.tags)
            ],
        )
        conn.executemany(
            "DELETE FROM articles_fts WHERE rowid = ?", [(s.pk,) for s in retexted if s.loaded]
        )
        conn.executemany(
            "INSERT INTO articles_fts (rowid, title, summary, content) VALUES (?, ?, ?, ?)",
            [
                (
                    s.pk,
                    s.article.title,
                    plain_text(s.article.summary),
                    plain_text(s.article.content),
                )
                for s in retexted
            ],
        )
        if self._similarity is not None:
            reworded = [s for s in dirty if _differ(s, lambda a: (a.title, day_number(a)))]
            word_index.rewrite(
                conn, ((s.pk, s.day, s.article.title, s.loaded is not None) for s in reworded)
            )


def _differ(story: _Story, facet: Callable[[Article], object]) -> bool:
    """True when ``facet`` of the story differs from what was stored (or it is new)."""
    return story.loaded is None or facet(story.loaded) != facet(story.article)
