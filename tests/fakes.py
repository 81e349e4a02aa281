"""A store that lives in a dict: the stage boundary for the filter and publish tests.

It answers ``ArticleQuery`` the way the Store protocol promises (newest published first,
unset fields do not filter), counts how many articles it handed out, so tests can check
that a caller reads lazily, and keeps every query it was asked. Every story put in is
pending publication until a publish records it; the publish manifest is a dict and the
sources' problems a list.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta

from aggregator.models import (
    Article,
    ArticleQuery,
    IngestResult,
    PendingStories,
    Problem,
    PublishedFile,
    SourceState,
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


class FakeStore:
    """An in-memory Store: articles by id, no dedup (each article is its own story)."""

    def __init__(self, articles: Iterable[Article] = ()) -> None:
        self.stories: dict[str, Article] = {}
        self.states: dict[str, SourceState] = {}
        self.pending: dict[str, int] = {}  # story id -> change counter
        self.versions: dict[tuple[str, str], datetime] = {}  # (name, sha256) -> first seen
        self.seeds: set[str] = set()  # ids of every seed story ever put in
        self.seq = 0
        self.manifest: dict[str, PublishedFile] = {}
        self.source_problems: list[Problem] = []
        self.put(*articles)
        self.handed_out = 0
        self.queries: list[ArticleQuery] = []

    def put(self, *articles: Article) -> None:
        """Add or replace stories; they are pending publication."""
        self.stories.update((a.id, a) for a in articles)
        self.seeds.update(a.id for a in articles if a.is_seed)
        self._mark(a.id for a in articles)

    def _mark(self, ids: Iterable[str]) -> None:
        self.seq += 1
        self.pending.update((id_, self.seq) for id_ in ids)

    def close(self) -> None:
        """Nothing to release."""

    def source_state(self, name: str) -> SourceState | None:
        """The saved state of ``name``."""
        return self.states.get(name)

    def source_states(self) -> dict[str, SourceState]:
        """Every saved state."""
        return dict(self.states)

    def save_source_state(self, state: SourceState) -> None:
        """Remember ``state``."""
        self.states[state.name] = state

    def ingest(
        self,
        source: str,
        articles: Sequence[Article],
        state: SourceState,
        *,
        now: datetime | None = None,
    ) -> IngestResult:
        """Store ``articles`` as they are; every one counts as new."""
        self.put(*articles)
        self.states[source] = state
        return IngestResult(new=tuple(a.id for a in articles))

    def article(self, article_id: str) -> Article | None:
        """One story by id."""
        return self.stories.get(article_id)

    def ids_starting(self, prefix: str, *, limit: int) -> list[str]:
        """At most ``limit`` story ids that start with ``prefix``, in order."""
        return sorted(i for i in self.stories if i.startswith(prefix))[:limit]

    def articles(self, query: ArticleQuery, *, caught_up: bool = False) -> Iterator[Article]:
        """Stories matching ``query``, newest published first, handed out one by one (a
        search finds every story: there is no index to catch up)."""
        self.queries.append(query)
        found = sorted(
            (a for a in self.stories.values() if _wanted(a, query)),
            key=lambda a: (a.published, a.id),
            reverse=True,
        )
        for article in found[: query.limit]:
            self.handed_out += 1
            yield article

    def catch_up_search(self) -> int:
        """Nothing to index: a search reads every story."""
        return 0

    def article_counts(self) -> dict[str, int]:
        """Stories per source."""
        counts: dict[str, int] = {}
        for article in self.stories.values():
            for name in article.sources or (article.source,):
                counts[name] = counts.get(name, 0) + 1
        return counts

    def story_count(self) -> int:
        """How many stories are stored."""
        return len(self.stories)

    def prune(self, *, now: datetime, retention: timedelta) -> int:
        """Drop stories first seen before ``now - retention``."""
        old = [
            a.id for a in self.stories.values() if (a.first_seen or a.published) < now - retention
        ]
        for article_id in old:
            del self.stories[article_id]
        self._mark(old)
        return len(old)

    def pending_stories(self, *, at_most: int | None = None) -> PendingStories:
        """The stories put in or pruned since the last recorded publish."""
        seeds = {i for i in self.pending if i in self.seeds}
        return PendingStories(
            ids=None
            if at_most is not None and len(self.pending) > at_most
            else frozenset(self.pending),
            seeds=frozenset(seeds),
            tokens=frozenset(self.pending.values()),
        )

    def published_files(self) -> dict[str, PublishedFile]:
        """The manifest."""
        return dict(self.manifest)

    def record_published(
        self,
        files: Sequence[PublishedFile],
        removed: Sequence[str],
        *,
        tokens: Collection[int],
        problems: Sequence[Problem] | None = None,
    ) -> None:
        """Keep ``files``, forget ``removed``, clear what was pending with ``tokens``,
        replace the problems unless None."""
        self.manifest.update((f.name, f) for f in files)
        for name in removed:
            self.manifest.pop(name, None)
        self.pending = {i: seq for i, seq in self.pending.items() if seq not in tokens}
        if problems is not None:
            self.source_problems = list(problems)

    def watch(self, heard: Callable[[str], None]) -> None:
        """None: no other node changes this store."""

    def file_times(self, files: Mapping[str, str], *, now: datetime) -> dict[str, datetime]:
        """When each file version was first seen here."""
        for version in files.items():
            self.versions.setdefault(version, now)
        return {name: self.versions[(name, sha256)] for name, sha256 in files.items()}

    def problems(self) -> list[Problem]:
        """The problems last recorded."""
        return list(self.source_problems)


def _wanted(article: Article, query: ArticleQuery) -> bool:
    carried = article.sources or (article.source,)
    sections = {_fold(s) for s in (article.section, *article.tags) if s}
    text = _fold(" ".join((article.title, article.summary, article.content)))
    return (
        (query.ids is None or article.id in query.ids)
        and (query.sources is None or bool(set(carried) & set(query.sources)))
        and (query.sections is None or bool(sections & {_fold(s) for s in query.sections}))
        and (query.since is None or article.published >= query.since)
        and (query.search is None or _fold(query.search) in text)
        and (not query.seeds_only or article.is_seed)
    )
