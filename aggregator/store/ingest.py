"""One source's articles of one pass into the store, inside the caller's transaction.

Reads everything it may match against in a few bulk queries (stories by guid, id and
dedup key; the series history of those keys; the stories this source was split out of),
decides each article in memory (update, merge, tombstoned, new) with the pure rules of
``aggregator.dedup``, then writes the changed stories back with ``executemany``. Each new
carrier records the rule that folded it (``dedup.fold.Fold``).

An item never joins a story its own source already carries under another guid: the feed
itself says they differ (issue 20, item 4).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from aggregator import dedup
from aggregator.dedup import fold
from aggregator.models import Article, IngestResult
from aggregator.store import lookup
from aggregator.store import words as word_index
from aggregator.store.rows import (
    ARTICLE_COLUMNS,
    Carried,
    article_from_row,
    carriers_of,
    day_number,
    to_micros,
)
from aggregator.store.write import Changed, NewCarrier, write_carriers, write_stories

_FIRST = fold.Fold(fold.FIRST)


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
        self.key, self.day = dedup.dedup_key(article.title), day_number(article)


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
        self._shared_guid: dict[str, int] = {}  # guids other sources carry too
        self._by_id: dict[str, int] = {}
        self._by_key: dict[str, set[int]] = {}
        self._uses: dict[str, set[tuple[str, int]]] = {}
        self._vetoed: set[int] = set()
        self._tombstones: set[tuple[str, int]] = set()
        self._new_carriers: list[NewCarrier] = []
        self._copies: dict[str, Article] = {}  # this source's own items, by guid
        self._first_copies: list[tuple[str, str, Article]] = []  # (source, guid, item)
        self._used: set[tuple[str, int]] = set()  # (dedup key, day) this source used
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
        found = lookup.context(self._conn, self._source, articles)
        self._shared_guid, self._uses = found.shared_guid, found.uses
        self._vetoed, self._tombstones = found.vetoed, found.tombstones
        self._load(found.pks)
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
        key, day = dedup.dedup_key(article.title), day_number(article)
        found = self._same_story(article, key, day)
        if found is None and self._tombstoned(key, day):
            self._outcome.unchanged += 1
        elif found is None:
            self._insert(article)
        else:
            self._merge(*found, article)
        if key:
            self._uses.setdefault(key, set()).add((self._source, day))
            self._used.add((key, day))

    def _may_join(self, story: _Story) -> bool:
        """False for a story this source already carries (under another guid: its own feed
        says the items differ) or was split out of by hand."""
        return story.pk not in self._vetoed and all(c[0] != self._source for c in story.carriers)

    def _same_story(self, article: Article, key: str, day: int) -> tuple[_Story, fold.Fold] | None:
        if article.id in self._by_id:
            return self._stories[self._by_id[article.id]], fold.Fold(fold.SAME_ID)
        shared = self._shared_guid.get(article.guid)
        if shared is not None and self._may_join(self._stories[shared]):
            return self._stories[shared], fold.Fold(fold.SAME_GUID)
        item = fold.side_of(article)
        window = [
            story
            for pk in (self._by_key.get(key, ()) if key else ())
            if (story := self._stories[pk]).key == key and abs(story.day - day) <= 1
        ]
        open_ = [story for story in window if self._may_join(story)]
        generic = fold.generic_reason(
            item,
            *(fold.side_of(s.article) for s in window),
            series=self._series(key, day, open_),
            kept_apart=len(window) > 1 or len(open_) < len(window),
        )
        best = _best((s, fold.headline_fold(item, fold.side_of(s.article), generic)) for s in open_)
        if best is not None or self._similarity is None:
            return best
        return self._near(item, self._similarity)

    def _series(self, key: str, day: int, stories: Iterable[_Story]) -> bool:
        """True when this source, or one carrying ``stories``, used ``key`` on another
        occasion: a day outside the dedup window of ``day``."""
        sources = {self._source} | {c[0] for s in stories for c in s.carriers}
        return any(s in sources and abs(d - day) > 1 for s, d in self._uses.get(key, ()))

    def _tombstoned(self, key: str, day: int) -> bool:
        return bool(key) and any((key, d) in self._tombstones for d in (day - 1, day, day + 1))

    def _near(self, item: fold.Side, threshold: float) -> tuple[_Story, fold.Fold] | None:
        words = dedup.headline_words(item.title)
        need = dedup.min_shared_words(len(words), threshold - fold.NEAR_MARGIN)
        stored = word_index.sharing(self._conn, words, item.day, need)
        self._load(stored)
        # stories new in this pass are this source's own, which it never joins
        candidates = [self._stories[pk] for pk in stored if self._may_join(self._stories[pk])]
        return _best(
            (
                s,
                fold.near_fold(
                    item,
                    fold.side_of(s.article),
                    threshold,
                    series=self._series(s.key, item.day, [s]),
                ),
            )
            for s in candidates
        )

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
            self._copies[article.guid] = article
        before = story.article
        story.set(revised)
        if story.article == before:
            self._outcome.unchanged += 1
            return
        story.changed = True
        self._by_key.setdefault(story.key, set()).add(story.pk)
        self._outcome.updated[story.article.id] = None

    def _merge(self, story: _Story, why: fold.Fold, article: Article) -> None:
        if len(story.carriers) == 1:
            # the first carrier's own item, kept so that ``split`` can give it back
            source, guid, _, _ = story.carriers[0]
            self._first_copies.append((source, guid, story.article))
        story.carriers.append((self._source, article.guid, article.link, article.is_seed))
        self._new_carriers.append(
            NewCarrier(story.pk, self._source, article.guid, article.link, article.is_seed, why)
        )
        self._copies[article.guid] = article
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
        self._new_carriers.append(
            NewCarrier(pk, self._source, article.guid, article.link, article.is_seed, _FIRST)
        )
        self._outcome.new.append(story.article.id)

    def _write(self) -> None:
        dirty = [s for s in self._stories.values() if s.changed]
        conn = self._conn
        write_stories(
            conn,
            [Changed(pk=s.pk, article=s.article, loaded=s.loaded) for s in dirty],
            words=self._similarity is not None,
        )
        write_carriers(
            conn,
            self._source,
            [
                replace(c, published=to_micros(self._stories[c.pk].article.published))
                for c in self._new_carriers
            ],
            copies=[*self._first_copies, *((self._source, g, a) for g, a in self._copies.items())],
            moved_links=self._moved_links,
            used=self._used,
        )


def _best(folds: Iterable[tuple[_Story, fold.Fold | None]]) -> tuple[_Story, fold.Fold] | None:
    """The candidate with the strongest fold (an unscored rule beats any score), then the
    lowest pk (the oldest story); None when nothing folds."""
    found = [(s, f) for s, f in folds if f is not None]
    if not found:
        return None
    return min(found, key=lambda sf: (-(1.0 if sf[1].score is None else sf[1].score), sf[0].pk))
