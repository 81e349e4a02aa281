"""The ingest planner: what one source's pass does to the stories, decided without a
database (the way reader's ``Decider`` does it).

A backend reads once, in bulk, every stored story the pass can touch (``Candidates``),
``plan`` routes each article in memory (this source's guid → the same story by id, shared
URL guid, headline and day, near-duplicate → a tombstone → new) with the pure rules of
``aggregator.dedup``, and the backend writes the ``IngestPlan`` back. Each new carrier
records the rule that folded it (``dedup.fold.Fold``). The clock is ``now``, passed in.

An item never joins a story its own source already carries under another guid: the feed
itself says they differ (issue 20, item 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from aggregator import dedup
from aggregator.dedup import fold
from aggregator.models import Article, IngestResult, remade
from aggregator.store.keys import day_number
from aggregator.store.passes import (
    Candidates,
    Carried,
    Changed,
    IngestPlan,
    NewCarrier,
)

_FIRST = fold.Fold(fold.FIRST)


def plan(
    source: str,
    articles: Sequence[Article],
    found: Candidates,
    *,
    similarity: float | None,
    now: datetime,
) -> IngestPlan:
    """Decide every article of ``source``'s pass against ``found``; ``similarity`` (0..1)
    turns on near-duplicate matching; new stories are first seen at ``now``."""
    planner = _Planner(source, found, similarity=similarity, now=now)
    for article in articles:
        planner.one(article)
    return planner.done()


@dataclass(slots=True)
class _Story:
    pk: int
    article: Article
    carriers: list[Carried]
    changed: bool = False
    key: str = ""
    day: int = 0
    loaded: Article | None = None  # as it was stored before this pass; None when new

    def set(
        self, article: Article, *, keyed: tuple[str, int] | None = None, **changes: Any
    ) -> None:
        """Hold ``article`` (with ``changes``) as told by this story's carriers; ``keyed``:
        its dedup key and day when the caller has them, valid only when ``changes`` leave
        title, title_key and published as they are."""
        self.article = remade(
            article,
            link=dedup.primary_link((link, seed) for _, _, link, seed in self.carriers),
            sources=tuple(dict.fromkeys(source for source, _, _, _ in self.carriers)),
            links=tuple(dict.fromkeys(link for _, _, link, _ in self.carriers if link)),
            **changes,
        )
        self.key, self.day = keyed or (dedup.key_of(self.article), day_number(self.article))

    def first(self, source: str, key: str, day: int, now: datetime) -> None:
        """``set`` for a story that ``source``'s article (held already) makes: its one
        carrier's link is the article's, so only the sources, links and first sighting
        (``now``) change, and its dedup ``key`` and ``day`` are the article's."""
        link = self.article.link
        self.article = remade(
            self.article, sources=(source,), links=(link,) if link else (), first_seen=now
        )
        self.key, self.day = key, day


class _Planner:
    """Folds one source's articles into the candidate stories, in memory."""

    def __init__(
        self, source: str, found: Candidates, *, similarity: float | None, now: datetime
    ) -> None:
        self._source = source
        self._similarity = similarity
        self._now = now
        self._found = found
        self._uses = {key: set(used) for key, used in found.uses.items()}
        self._stories: dict[int, _Story] = {}
        self._by_guid: dict[str, int] = {}
        self._by_id: dict[str, int] = {}
        self._by_key: dict[str, set[int]] = {}
        self._new_carriers: list[NewCarrier] = []
        self._copies: dict[str, Article] = {}  # this source's own items, by guid
        self._first_copies: list[tuple[str, str, Article]] = []  # (source, guid, item)
        self._used: set[tuple[str, int]] = set()  # (dedup key, day) this source used
        self._moved_links: list[tuple[str, str, str]] = []
        self._new: list[str] = []
        self._merged: dict[str, None] = {}
        self._updated: dict[str, None] = {}
        self._unchanged = 0
        self._new_pks = iter(found.new_pks)
        for stored in found.stories:
            if stored.pk not in self._stories:
                carried = list(stored.carriers)
                story = _Story(stored.pk, stored.article, carried, key=stored.key, day=stored.day)
                story.loaded = stored.article
                self._register(story)

    def done(self) -> IngestPlan:
        """The plan of every article decided so far."""
        new = set(self._new)
        dirty = [s for s in self._stories.values() if s.changed]
        return IngestPlan(
            stories=tuple(Changed(s.pk, s.article, s.loaded, (s.key, s.day)) for s in dirty),
            carriers=tuple(self._dated(c) for c in self._new_carriers),
            copies=(*self._first_copies, *((self._source, g, a) for g, a in self._copies.items())),
            moved_links=tuple(self._moved_links),
            used=frozenset(self._used),
            result=IngestResult(
                new=tuple(self._new),
                merged=tuple(i for i in self._merged if i not in new),
                updated=tuple(i for i in self._updated if i not in self._merged and i not in new),
                unchanged=self._unchanged,
            ),
        )

    def _dated(self, carrier: NewCarrier) -> NewCarrier:
        """``carrier`` dated like its story as planned (a merge may have made it earlier)."""
        published = self._stories[carrier.pk].article.published
        return carrier if carrier.published == published else replace(carrier, published=published)

    def _register(self, story: _Story) -> None:
        self._stories[story.pk] = story
        self._by_id[story.article.id] = story.pk
        self._by_key.setdefault(story.key, set()).add(story.pk)
        for source, guid, _, _ in story.carriers:
            if source == self._source:
                self._by_guid[guid] = story.pk

    def one(self, article: Article) -> None:
        """Decide one article: update, merge, tombstoned or new."""
        if article.guid in self._by_guid:
            self._update(self._stories[self._by_guid[article.guid]], article)
            return
        key, day = dedup.key_of(article), day_number(article)
        found = self._same_story(article, key, day)
        if found is None and self._tombstoned(key, day):
            self._unchanged += 1
        elif found is None:
            self._insert(article, key, day)
        else:
            self._merge(*found, article)
        if key:
            self._uses.setdefault(key, set()).add((self._source, day))
            self._used.add((key, day))

    def _may_join(self, story: _Story) -> bool:
        """False for a story this source already carries (under another guid: its own feed
        says the items differ) or was split out of by hand."""
        return story.pk not in self._found.vetoed and all(
            c[0] != self._source for c in story.carriers
        )

    def _same_story(self, article: Article, key: str, day: int) -> tuple[_Story, fold.Fold] | None:
        if article.id in self._by_id:
            return self._stories[self._by_id[article.id]], fold.Fold(fold.SAME_ID)
        shared = self._found.shared_guid.get(article.guid)
        if shared is not None and self._may_join(self._stories[shared]):
            return self._stories[shared], fold.Fold(fold.SAME_GUID)
        window = [
            story
            for pk in (self._by_key.get(key, ()) if key else ())
            if (story := self._stories[pk]).key == key and abs(story.day - day) <= 1
        ]
        open_ = [story for story in window if self._may_join(story)]
        if not open_ and self._similarity is None:
            return None  # no story under this headline to join, and no near-duplicates
        item = fold.side_of(article)
        best = None
        if open_:  # whether the headline is generic matters only to a story it may join
            generic = fold.generic_reason(
                item,
                *(fold.side_of(s.article) for s in window),
                series=self._series(key, day, open_),
                kept_apart=len(window) > 1 or len(open_) < len(window),
            )
            folds = ((s, fold.headline_fold(item, fold.side_of(s.article), generic)) for s in open_)
            best = _best(folds)
        if best is not None or self._similarity is None:
            return best
        return self._near(item, self._similarity)

    def _series(self, key: str, day: int, stories: Iterable[_Story]) -> bool:
        """True when this source, or one carrying ``stories``, used ``key`` on another
        occasion: a day outside the dedup window of ``day``."""
        sources = {self._source} | {c[0] for s in stories for c in s.carriers}
        return any(s in sources and abs(d - day) > 1 for s, d in self._uses.get(key, ()))

    def _tombstoned(self, key: str, day: int) -> bool:
        tombstones = self._found.tombstones
        return bool(key and tombstones) and any(
            (key, d) in tombstones for d in (day - 1, day, day + 1)
        )

    def _near(self, item: fold.Side, threshold: float) -> tuple[_Story, fold.Fold] | None:
        stored = self._found.near.get((item.title, item.day), ())
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
        before = story.article
        if len(story.carriers) == 1:
            story.set(
                article,
                id=before.id,
                guid=before.guid,
                source=before.source,
                first_seen=before.first_seen,
                # An undated entry is dated "now" on every fetch: keeping the earliest date
                # stops it from looking updated (and jumping to the top) each pass.
                published=min(before.published, article.published),
            )
        else:
            story.set(dedup.merge(before, article))
            self._copies[article.guid] = article
        if story.article == before:
            self._unchanged += 1
            return
        story.changed = True
        self._by_key.setdefault(story.key, set()).add(story.pk)
        self._updated[story.article.id] = None

    def _merge(self, story: _Story, why: fold.Fold, article: Article) -> None:
        if len(story.carriers) == 1:
            # the first carrier's own item, kept so that ``split`` can give it back
            source, guid, _, _ = story.carriers[0]
            self._first_copies.append((source, guid, story.article))
        story.carriers.append((self._source, article.guid, article.link, article.is_seed))
        self._new_carriers.append(
            NewCarrier(
                story.pk,
                self._source,
                article.guid,
                article.link,
                article.is_seed,
                why,
                article.published,
            )
        )
        self._copies[article.guid] = article
        self._by_guid[article.guid] = story.pk
        story.set(dedup.merge(story.article, article))
        story.changed = True
        self._by_key.setdefault(story.key, set()).add(story.pk)
        self._merged[story.article.id] = None

    def _insert(self, article: Article, key: str, day: int) -> None:
        pk = next(self._new_pks)
        carried = (self._source, article.guid, article.link, article.is_seed)
        story = _Story(pk=pk, article=article, carriers=[carried], changed=True)
        story.first(self._source, key, day, self._now)
        self._register(story)
        self._new_carriers.append(
            NewCarrier(
                pk,
                self._source,
                article.guid,
                article.link,
                article.is_seed,
                _FIRST,
                article.published,
            )
        )
        self._new.append(story.article.id)


def _best(folds: Iterable[tuple[_Story, fold.Fold | None]]) -> tuple[_Story, fold.Fold] | None:
    """The candidate with the strongest fold (an unscored rule beats any score), then the
    lowest pk (the oldest story); None when nothing folds."""
    found = [(s, f) for s, f in folds if f is not None]
    if not found:
        return None
    return min(found, key=lambda sf: (-(1.0 if sf[1].score is None else sf[1].score), sf[0].pk))
