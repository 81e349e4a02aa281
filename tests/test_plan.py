"""The ingest planner without a database: candidates + articles + now -> a plan; and the
SQLite store, run on the same passes, storing exactly what the planner decides.

``Memory`` applies plans to a dict, standing in for a backend's write step, so that
several passes can be planned in a row; it hands the planner every story it holds (a
superset of what a backend's bulk read returns, which must not change any decision).
"""

from __future__ import annotations

import itertools
import random as rnd
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator import dedup
from aggregator.dedup import fold
from aggregator.models import Article, ArticleQuery, FetchResult, SourceState
from aggregator.parse import parse_feed
from aggregator.store.keys import day_number
from aggregator.store.passes import Candidates, IngestPlan, Stored, near_query
from aggregator.store.plan import plan
from aggregator.store.sqlite import SQLiteStore
from tests.builders import WHEN, article

NOW = datetime(2024, 11, 10, 9, 0, tzinfo=UTC)
HEADLINES = (
    "Council approves harbour budget after late vote",
    "Storm closes mountain pass for second day",
    "Central bank holds rates as inflation cools",
    "Museum returns looted bronzes to Benin",
    "Rail strike halts trains across the north",
)


def item(source: str, n: int | str, title: str, **fields: object) -> Article:
    """Story ``n`` of ``source`` with a guid only its own source uses (``aa:1``, not a URL)."""
    return article(source, n, title, **{"guid": f"{source}:{n}", **fields})


class Memory:
    """Stories in a dict; ``ingest`` plans one pass against all of them and applies it."""

    def __init__(self, similarity: float | None = None) -> None:
        self.similarity = similarity
        self.stories: dict[int, Stored] = {}
        self.uses: dict[str, set[tuple[str, int]]] = {}
        self.tombstones: set[tuple[str, int]] = set()

    def candidates(self, source: str, articles: list[Article]) -> Candidates:
        shared: dict[str, int] = {}
        for pk in sorted(self.stories):
            for other, guid, _, _ in self.stories[pk].carriers:
                if other != source and fold.is_global_guid(guid):
                    shared.setdefault(guid, pk)
        found = Candidates(
            stories=list(self.stories.values()),
            shared_guid=shared,
            uses={k: set(v) for k, v in self.uses.items()},
            tombstones=set(self.tombstones),
            new_pks=range(max(self.stories, default=0) + 1, sys.maxsize),
        )
        if self.similarity is not None:
            for a in articles:
                words, day, need = near_query(a, self.similarity)
                found.near[(a.title, day)] = [
                    pk
                    for pk, s in self.stories.items()
                    if abs(s.day - day) <= 1
                    and len(words & dedup.headline_words(s.article.title)) >= need
                ]
        return found

    def ingest(self, source: str, articles: list[Article], now: datetime = NOW) -> IngestPlan:
        found = self.candidates(source, articles)
        planned = plan(source, articles, found, similarity=self.similarity, now=now)
        carried = {pk: list(s.carriers) for pk, s in self.stories.items()}
        for link, src, guid in planned.moved_links:
            for pk, carriers in carried.items():
                carried[pk] = [
                    (s, g, link if (s, g) == (src, guid) else k, e) for s, g, k, e in carriers
                ]
        for c in planned.carriers:
            carried.setdefault(c.pk, []).append((c.source, c.guid, c.link, c.seed))
        for s in planned.stories:
            key = dedup.dedup_key(s.article.title)
            self.stories[s.pk] = Stored(s.pk, s.article, carried[s.pk], key, day_number(s.article))
        for key, day in planned.used:
            self.uses.setdefault(key, set()).add((source, day))
        return planned

    def partition(self) -> set[frozenset[tuple[str, str]]]:
        """Which (source, guid) items were stored together."""
        return {frozenset((c[0], c[1]) for c in s.carriers) for s in self.stories.values()}


def test_a_new_story_is_first_seen_at_the_clock_passed_in() -> None:
    memory = Memory()
    planned = memory.ingest("a", [item("a", 1, HEADLINES[0])], now=NOW)
    assert planned.result.new == ("a-1",)
    assert [s.article.first_seen for s in planned.stories] == [NOW]
    assert [(c.source, c.guid, c.why.rule) for c in planned.carriers] == [("a", "a:1", fold.FIRST)]


def test_routing_guid_then_same_headline_then_tombstone_then_new() -> None:
    memory = Memory()
    memory.ingest("a", [item("a", 1, HEADLINES[0])])
    memory.tombstones.add((dedup.dedup_key(HEADLINES[2]), day_number(item("x", 0, "x"))))
    planned = memory.ingest(
        "b",
        [
            item("b", 1, HEADLINES[0], published=WHEN + timedelta(hours=20)),  # next day
            item("b", 2, HEADLINES[2]),  # pruned: its key is a tombstone
            item("b", 3, HEADLINES[1], published=WHEN + timedelta(days=2)),
        ],
    )
    assert planned.result.merged == ("a-1",)
    assert planned.result.new == ("b-3",)
    assert planned.result.unchanged == 1
    assert [c.why.rule for c in planned.carriers] == [fold.SAME_HEADLINE, fold.FIRST]
    again = memory.ingest("b", [item("b", 1, HEADLINES[0], summary="A longer account.")])
    assert again.result.updated == ("a-1",) and not again.carriers
    assert memory.stories[1].article.summary == "A longer account."
    assert memory.stories[1].article.sources == ("a", "b")


def test_two_days_apart_is_another_story() -> None:
    memory = Memory()
    memory.ingest("a", [item("a", 1, HEADLINES[0])])
    planned = memory.ingest("b", [item("b", 1, HEADLINES[0], published=WHEN + timedelta(days=2))])
    assert planned.result.new == ("b-1",)


def test_a_source_never_joins_its_own_story_nor_one_it_was_split_from() -> None:
    memory = Memory()
    planned = memory.ingest("a", [item("a", 1, HEADLINES[0]), item("a", 2, HEADLINES[0])])
    assert planned.result.new == ("a-1", "a-2")
    found = memory.candidates("b", [])
    found.vetoed = {1, 2}
    vetoed = plan("b", [item("b", 1, HEADLINES[0])], found, similarity=None, now=NOW)
    assert vetoed.result.new == ("b-1",)


def test_a_reworded_headline_folds_only_with_matching_on() -> None:
    reworded = "Late vote: council approves the harbour budget"
    off = Memory()
    off.ingest("a", [item("a", 1, HEADLINES[0])])
    assert off.ingest("b", [item("b", 1, reworded)]).result.new == ("b-1",)
    on = Memory(similarity=0.5)
    on.ingest("a", [item("a", 1, HEADLINES[0])])
    planned = on.ingest("b", [item("b", 1, reworded)])
    assert planned.result.merged == ("a-1",)
    assert planned.carriers[0].why.rule in (fold.NEAR, fold.NEAR_BODY)


def test_the_richest_text_wins_the_merge_whatever_came_first() -> None:
    rich = {"content": "<p>The full story, with every detail of the vote.</p>"}
    for order in itertools.permutations([("a", {}), ("b", rich)]):
        memory = Memory()
        for source, fields in order:
            memory.ingest(source, [item(source, 1, HEADLINES[0], **fields)])
        (story,) = memory.stories.values()
        assert story.article.content == rich["content"]
        assert set(story.article.sources) == {"a", "b"}


_CARRIED = st.lists(
    st.tuples(st.sampled_from(range(len(HEADLINES))), st.integers(0, 30)),
    max_size=len(HEADLINES),
    unique_by=lambda pair: pair[0],
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_CARRIED, min_size=2, max_size=4), st.randoms(use_true_random=False))
def test_the_order_sources_arrive_in_does_not_change_the_stories(
    feeds: list[list[tuple[int, int]]], random: rnd.Random
) -> None:
    passes = [
        (
            f"s{n}",
            [
                item(f"s{n}", h, HEADLINES[h], published=WHEN + timedelta(hours=hours))
                for h, hours in carried
            ],
        )
        for n, carried in enumerate(feeds)
    ]
    shuffled = list(passes)
    random.shuffle(shuffled)
    stored = []
    for order in (passes, shuffled):
        memory = Memory()
        for source, articles in order:
            memory.ingest(source, articles)
        stored.append(memory.partition())
    assert stored[0] == stored[1]
    # one story per headline, carried by every source that had it
    expected = {
        frozenset(
            (f"s{n}", f"s{n}:{h}")
            for n, carried in enumerate(feeds)
            for hh, _ in carried
            if hh == h
        )
        for h in range(len(HEADLINES))
    } - {frozenset()}
    assert stored[0] == expected


# One story's headline as three feeds print it, with bodies that name other people: the
# all-caps and the all-lower-case copies' bodies would veto a headline that names no one.
_SINOP = (
    (
        "DOCK WORKERS PAUSE GRAIN LOADING IN SINOP",
        "Stevedores at the dock in Sinop stopped loading grain ships on Monday after a pay"
        " dispute, said Ahmet Yilmaz of the port union.",
    ),
    (
        "dock workers pause grain loading in sinop",
        "Dock crews walked off the grain terminal at Sinop harbour in protest over wages,"
        " Governor Mehmet Demir told the Karadeniz news agency.",
    ),
    ("Dock Workers Pause Grain Loading In Sinop", "Grain loading stopped at Sinop."),
)


def test_a_headline_in_any_case_folds_its_copies_in_any_order() -> None:
    items = [
        (source, [item(source, 1, title, summary=body)])
        for source, (title, body) in zip("abc", _SINOP, strict=True)
    ]
    for order in itertools.permutations(items):
        memory = Memory()
        for source, articles in order:
            memory.ingest(source, articles)
        assert memory.partition() == {frozenset({("a", "a:1"), ("b", "b:1"), ("c", "c:1")})}


def test_a_story_met_before_its_headline_is_kept_apart_stays_folded() -> None:
    # Feed x carries the headline twice, so it names two items. Arriving first, y's copy
    # joins one of them; arriving after both, it needs agreeing bodies and stands alone.
    twice = ("x", [item("x", 1, HEADLINES[0]), item("x", 2, HEADLINES[0])])
    once = ("y", [item("y", 1, HEADLINES[0])])
    stored = []
    for order in ((once, twice), (twice, once)):
        memory = Memory()
        for source, articles in order:
            memory.ingest(source, articles)
        stored.append(memory.partition())
    x1, x2, y1 = ("x", "x:1"), ("x", "x:2"), ("y", "y:1")
    assert stored[0] == {frozenset({y1, x1}), frozenset({x2})}
    assert stored[1] == {frozenset({x1}), frozenset({x2}), frozenset({y1})}


def test_the_keys_parse_derives_are_the_keys_the_planner_would_derive() -> None:
    body = (Path(__file__).parent / "fixtures" / "feeds" / "rss20.xml").read_bytes()
    fetched = FetchResult(url="https://courier.example/rss", status=200, content=body)
    passes = [(s, parse_feed(s, fetched, now=NOW).articles) for s in ("a", "b", "a")]
    for _, articles in passes:
        for parsed in articles:
            assert parsed.title_key == (parsed.title, dedup.headline_key(parsed.title))
    planned = {}
    for derived_here in (False, True):
        memory = Memory(similarity=0.7)
        planned[derived_here] = [
            memory.ingest(s, [replace(a, title_key=()) if derived_here else a for a in articles])
            for s, articles in passes
        ]
    assert planned[False] == planned[True]
    assert [(len(p.result.new), len(p.result.merged)) for p in planned[False]] == [
        (2, 0),
        (0, 2),  # b's copies fold into a's stories by headline and day
        (0, 0),
    ]


def test_planning_reads_nothing_but_its_arguments() -> None:
    found = Candidates(new_pks=range(41, 50))
    first = plan("a", [item("a", 1, HEADLINES[0])], found, similarity=None, now=NOW)
    second = plan("a", [item("a", 1, HEADLINES[0])], found, similarity=None, now=NOW)
    assert first == second
    assert [s.pk for s in first.stories] == [41]
    assert found == Candidates(new_pks=range(41, 50))


_TITLES = (*HEADLINES, "Late vote: council approves the harbour budget", "Harbour budget approved")


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.sampled_from(range(len(_TITLES))), st.integers(0, 60)),
            max_size=4,
            unique_by=lambda pair: pair[0],
        ),
        min_size=1,
        max_size=3,
    ),
    st.sampled_from([None, 0.7]),
)
def test_the_sqlite_store_stores_what_the_planner_decides(
    feeds: list[list[tuple[int, int]]], similarity: float | None
) -> None:
    memory = Memory(similarity)
    store = SQLiteStore(":memory:", similarity=similarity)
    try:
        for n, carried in enumerate(feeds):
            source = f"s{n}"
            articles = [
                item(source, t, _TITLES[t], published=WHEN + timedelta(hours=hours))
                for t, hours in carried
            ]
            planned = memory.ingest(source, articles)
            assert store.ingest(source, articles, SourceState(name=source), now=NOW) == (
                planned.result
            )
        stored = set()
        for story in store.articles(ArticleQuery()):
            carriers = store.fold_reasons(story.id) or ()
            stored.add(frozenset((c.source, c.guid) for c in carriers))
            assert story.first_seen == NOW
        assert stored == memory.partition()
    finally:
        store.close()
