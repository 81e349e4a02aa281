"""What the ingest planner (``plan``) reads and what it returns: the candidates a backend
reads in bulk for one source's pass, and the plan the backend writes back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from aggregator import dedup
from aggregator.dedup import fold
from aggregator.models import Article, IngestResult

Carried = tuple[str, str, str, bool]  # source, guid, link, came from a seed file


@dataclass(slots=True)
class Stored:
    """A stored story as read for planning: its row key, the story, who carries it (in
    the order they came), and its stored dedup key and day."""

    pk: int
    article: Article
    carriers: list[Carried]
    key: str
    day: int


@dataclass(slots=True)
class Candidates:
    """Everything one source's pass may be matched against, read by a backend in bulk."""

    stories: list[Stored] = field(default_factory=list)  # by guid, id, key, shared guid, near
    shared_guid: dict[str, int] = field(default_factory=dict)  # another source's guid -> pk
    uses: dict[str, set[tuple[str, int]]] = field(default_factory=dict)  # key -> (source, day)
    vetoed: set[int] = field(default_factory=set)  # stories this source was split out of
    tombstones: set[tuple[str, int]] = field(default_factory=set)  # (key, day)
    # near-duplicate candidates (stored before this pass) by the (title, day) of an article
    near: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    # the row keys new stories take, in order: one for each article this source does not
    # carry yet (a carried guid routes to its story)
    new_pks: Sequence[int] = ()


def near_query(article: Article, threshold: float) -> tuple[frozenset[str], int, int]:
    """What a backend looks up for ``article``'s near-duplicates: its headline words, its
    day, and how many of the words a stored headline of day ± 1 must share."""
    item = fold.side_of(article)
    words = frozenset(dedup.headline_key_of(article).split())
    return words, item.day, dedup.min_shared_words(len(words), threshold - fold.NEAR_MARGIN)


def identities(articles: Iterable[Article], *, similarity: float | None) -> list[str]:
    """The dedup identities a pass of ``articles`` may fold into or create a story under,
    sorted (so that passes claiming several take them in one order): each article's dedup
    key, its URL guid (which other feeds may share) and, with near-duplicate matching
    (``similarity``), its headline words. Two passes that could fold an article into the
    same story always share one."""
    found: set[str] = set()
    for article in articles:
        if key := dedup.key_of(article):
            found.add(f"key {key}")
        if fold.is_global_guid(article.guid):
            found.add(f"guid {article.guid}")
        if similarity is not None:
            found.update(f"word {word}" for word in near_query(article, similarity)[0])
    return sorted(found)


@dataclass(frozen=True, slots=True)
class Changed:
    """A story to write: its row key, what it is now, what was stored (None if new), and
    its dedup key and day when the planner worked them out."""

    pk: int
    article: Article
    loaded: Article | None
    keyed: tuple[str, int] | None = None


@dataclass(frozen=True, slots=True)
class NewCarrier:
    """A source's item newly carrying a story, and the rule that folded it in."""

    pk: int  # the story's
    source: str
    guid: str
    link: str
    seed: bool
    why: fold.Fold
    published: datetime  # the story's, once planned (see ``carriers_source``)


@dataclass(frozen=True, slots=True)
class IngestPlan:
    """What a pass writes: the changed stories, the new carriers, the ``(source, guid,
    item)`` copies a split needs, the ``(link, source, guid)`` moved links, the ``(dedup
    key, day)`` headlines the source used; and what it tells the caller."""

    stories: tuple[Changed, ...]
    carriers: tuple[NewCarrier, ...]
    copies: tuple[tuple[str, str, Article], ...]
    moved_links: tuple[tuple[str, str, str], ...]
    used: frozenset[tuple[str, int]]
    result: IngestResult
